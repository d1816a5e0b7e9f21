"""Checks of the files a pipeline runs: GitHub workflows, the Jenkinsfile, shell scripts."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from generator import resources
from generator.checks.context import CheckContext
from generator.checks.steps import command
from generator.runtime.outcome import Outcome

_DECLARATIVE_PIPELINE = resources.FOLDER / "declarative_pipeline.groovy"
SHORT_LIVED_JVM = ("-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC")
"""A JVM that lives a few seconds spends more CPU on its optimising compiler's and parallel collector's threads
than they save it: without them, linting a Jenkinsfile takes half the CPU time (npm-groovy-lint 10.5 s to 5.6 s,
the declarative check 5.2 s to 2.4 s, user + system, on a 2-core machine)."""


def actionlint(context: CheckContext) -> Outcome:
    # Named explicitly: actionlint only finds workflows by itself inside a git work tree.
    found = (context.repo / ".github" / "workflows").glob("*.y*ml")
    workflows = sorted(str(path.relative_to(context.repo)) for path in found)
    if not workflows:
        return Outcome(False, ".github/workflows holds no workflow")
    return command("actionlint", *workflows)(context)


def groovy_lint(context: CheckContext) -> Outcome:
    java_options = "--javaoptions=" + ",".join(SHORT_LIVED_JVM)
    return command(
        "npm-groovy-lint", "--noserver", java_options, "--failon", "error", "--output", "txt", "Jenkinsfile"
    )(context)


def jenkins_declarative(context: CheckContext) -> Outcome:
    return command(
        "java",
        *SHORT_LIVED_JVM,
        "-cp",
        context.tools.groovy_classpath(),
        "groovy.ui.GroovyMain",
        str(_DECLARATIVE_PIPELINE),
        "Jenkinsfile",
    )(context)


def has_shell_scripts(context: CheckContext) -> bool:
    return any(_shell_scripts(context.repo))


def shellcheck(context: CheckContext) -> Outcome:
    scripts = [str(path.relative_to(context.repo)) for path in _shell_scripts(context.repo)]
    return command("shellcheck", "--severity=style", *scripts)(context)


def _shell_scripts(repo: Path) -> Iterable[Path]:
    return (path for path in sorted(repo.rglob("*.sh")) if ".git" not in path.parts)
