"""The small pieces checks are made of: a tool run, steps in order, a file that must exist."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Protocol

from generator.checks.context import CheckContext
from generator.runtime.outcome import Outcome
from generator.tools import Toolbox

Run = Callable[[CheckContext], Outcome]


class Command(Protocol):
    """A check step that runs a tool: a Run that also takes variables to add to the tool's environment."""

    def __call__(self, context: CheckContext, env: Mapping[str, str] | None = None) -> Outcome: ...


def on_repo(run: Callable[[Path, Toolbox], Outcome]) -> Run:
    """A check that needs nothing of the run but the repository and its tools."""
    return lambda context: run(context.repo, context.tools)


def command(*argv: str, silent: bool = False) -> Command:
    """A check step that runs a tool, with variables added to its environment if given; passes on exit 0 (and,
    with `silent`, no output). A tool killed by a signal is a crash, not a verdict: its result is never kept."""

    def run(context: CheckContext, env: Mapping[str, str] | None = None) -> Outcome:
        result = context.tools.run(argv[0], *argv[1:], cwd=context.repo, env=env)
        output = (result.stdout + result.stderr).strip()
        if result.returncode < 0:
            return Outcome(False, f"{argv[0]} was killed by signal {-result.returncode}\n{output}", cacheable=False)
        passed = result.returncode == 0 and not (silent and output)
        return Outcome(passed, output)

    return run


def steps(*runs: Run) -> Run:
    """Several steps as one check: stops at the first that fails."""

    def run(context: CheckContext) -> Outcome:
        outputs = []
        for step in runs:
            outcome = step(context)
            if outcome.output:
                outputs.append(outcome.output)
            if not outcome.passed:
                return Outcome(False, "\n".join(outputs), cacheable=outcome.cacheable)
        return Outcome(True, "\n".join(outputs))

    return run


def has(*paths: str) -> Callable[[CheckContext], bool]:
    return lambda context: all((context.repo / path).exists() for path in paths)
