"""The README and CONTRIBUTING.md say what is true: gosvc takes their commands as written, the scripts they run
exist with the options given, their test commands are CI's, and the README's tables match the code."""

from __future__ import annotations

import argparse
import re
import shlex
import subprocess
import sys
import tomllib

import pytest
import yaml

from generator import checks, tools
from generator.cli import main as cli
from generator.cli.arguments import UsageError
from tests.conftest import PROJECT_ROOT

DOCS = {name: (PROJECT_ROOT / name).read_text() for name in ("README.md", "CONTRIBUTING.md")}
README = DOCS["README.md"]


def _code_blocks(doc: str) -> list[str]:
    return re.findall(r"```sh\n(.*?)\n```", DOCS[doc], flags=re.S)


def test_ci_runs_every_step_of_the_test_command() -> None:
    """.ci/run runs each step of the documented command that runs every test; it splits the tool install and the
    tests into two halves, the tools compiled for minutes and everything else, that together are the whole."""
    test_command = next(
        (block for doc in DOCS for block in _code_blocks(doc) if "pytest" in block and " && " in block), None
    )
    assert test_command is not None, "no document gives the command that runs every test"
    ci = (PROJECT_ROOT / ".ci/run").read_text()
    halves = {
        "gosvc tools install": ('--skip "$slow_tools"', '--only "$slow_tools"'),
        "pytest": ('-m "not slow_tools"', "-m slow_tools"),
    }

    for step in test_command.split(" && "):
        split = next((parts for name, parts in halves.items() if name in step), None)
        if split is None:
            assert re.search(rf"^{re.escape(step)}$", ci, flags=re.M), step
        for half in split or ():
            assert re.search(rf"(^| ){re.escape(step)} .*{re.escape(half)}( |$)", ci, flags=re.M), half


def _ci_pytest_commands() -> list[list[str]]:
    """Each pytest command of .ci/run, as its words, without the report of the slowest tests that CI adds."""
    commands = []
    for line in (PROJECT_ROOT / ".ci/run").read_text().splitlines():
        if "python -m pytest" in line:
            command = line[line.index("python -m pytest") :].split(" || ")[0].rstrip(" &\\")
            commands.append([word for word in shlex.split(command) if not word.startswith("--durations=")])
    return commands


@pytest.mark.parametrize("doc", DOCS)
def test_ci_runs_each_test_lane_of_the_docs_as_written(doc: str) -> None:
    """A documented pytest command of its own, such as the inner loop, is the command of one of CI's lanes."""
    lanes = [block for block in _code_blocks(doc) if block.startswith("python -m pytest") and " && " not in block]

    for lane in lanes:
        assert shlex.split(lane) in _ci_pytest_commands(), f"CI runs no lane as {doc} writes it: {lane}"


def _command_names() -> set[str]:
    """`gosvc`, each command group (`gosvc fleet`) and each runnable command (`gosvc fleet update`)."""
    return {
        " ".join(command.split()[:end])
        for command in _commands(cli.parser())
        for end in range(1, 1 + len(command.split()))
    }


@pytest.mark.parametrize("doc", DOCS)
def test_every_gosvc_command_of_the_docs_parses(doc: str) -> None:
    """Every gosvc command a document gives, in a shell block or in the text, names a command and only arguments
    it takes; a span that only names a command (`gosvc fleet`) is a name. The command table's synopses are the
    command table test's."""
    prose = "\n".join(line for line in DOCS[doc].splitlines() if not line.startswith("|"))
    spans = re.findall(r"(?<!`)`(gosvc(?:\s[^`]*)?)`(?!`)", prose)
    steps = [step for block in _code_blocks(doc) for step in block.split(" && ") if step.startswith("gosvc ")]
    commands = [span for span in spans if " ".join(span.split()) not in _command_names()] + steps
    assert commands, f"{doc} gives no gosvc command"

    for command in commands:
        try:
            cli.parser().parse_args(shlex.split(command)[1:])
        except UsageError as error:
            pytest.fail(f"{doc} gives `{command}`, which gosvc refuses: {error}")


@pytest.mark.parametrize("doc", DOCS)
def test_every_python_command_of_the_docs_names_a_file_and_its_options(doc: str) -> None:
    """`python benchmarks/x.py --rounds 7` and `python -m tests.go_modules` name files of this repository, and each
    option is one the script's parser defines."""
    for script, options in re.findall(r"`python (?:-m )?(\w+[/.][\w/.]+)((?: --[a-z-]+(?: \w+)?)*)`", DOCS[doc]):
        path = PROJECT_ROOT / (script if script.endswith(".py") else script.replace(".", "/") + ".py")
        assert path.is_file(), f"{doc} runs {script}, which is not a file of this repository"
        for option in re.findall(r"--[a-z-]+", options):
            assert f'"{option}"' in path.read_text(), f"{doc} runs {script} with {option}, which it does not define"


def test_every_question_is_in_the_readme_table() -> None:
    questions = [key for key in yaml.safe_load((PROJECT_ROOT / "copier.yml").read_text()) if not key.startswith("_")]
    documented = re.findall(r"^\| `([a-z_]+)` \|", README, flags=re.M)

    assert documented == questions


def test_the_readme_lists_the_checks_of_the_table_row_for_row() -> None:
    header = "| check | tool |\n|---|---|\n"
    table = README[README.index(header) + len(header) :]
    documented = re.findall(r"^\| ([a-z0-9-]+) \| ", table[: table.index("\n\n")], flags=re.M)

    assert documented == [check.name for check in checks.CHECKS]


def test_the_tools_extra_pins_the_python_tools_of_the_tools_table() -> None:
    pyproject = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())

    assert pyproject["project"]["optional-dependencies"]["tools"] == tools.python_requirements()


def _commands(parser: argparse.ArgumentParser, prefix: str = "gosvc") -> dict[str, argparse.ArgumentParser]:
    """Every runnable command (`gosvc fleet update`...) and its parser."""
    found = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found |= _commands(sub, f"{prefix} {name}")
    return found or {prefix: parser}


def test_the_command_table_shows_every_command_and_flag() -> None:
    rows = re.findall(r"^\| `(gosvc [^`]*)`(?: / `(gosvc [^`]*)`)? \|", README, flags=re.M)
    documented = [usage for row in rows for usage in row if usage]

    for command, parser in _commands(cli.parser()).items():
        usage = next((line for line in documented if re.match(re.escape(command) + r"(?=\s|$)", line)), None)
        assert usage is not None, f"the README's command table lacks `{command}`"
        for action in parser._actions:
            for flag in action.option_strings:
                if flag.startswith("--") and flag != "--help":
                    assert flag in usage, f"the README's row for `{command}` lacks {flag}"
            if not action.option_strings and action.dest != "help":
                assert action.metavar in usage, f"the README's row for `{command}` lacks {action.metavar}"


def test_every_module_of_the_package_serves_a_command() -> None:
    """Each module is imported, directly or not, by the command line: nothing in generator/ is test-only."""
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, generator.cli.main; print(' '.join(sorted(sys.modules)))"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    modules = {
        ".".join(path.relative_to(PROJECT_ROOT).with_suffix("").parts).removesuffix(".__init__")
        for path in (PROJECT_ROOT / "generator").rglob("*.py")
    } - {"generator.__main__"}
    # A script the command line runs on another interpreter, which names it by its path.
    scripts = {
        "generator.checks.kubernetes.checkov_server": PROJECT_ROOT
        / "generator"
        / "checks"
        / "kubernetes"
        / "checkov_runs.py"
    }

    assert modules - set(loaded) == set(scripts)
    for script, runner in scripts.items():
        assert f'with_name("{script.rsplit(".", 1)[1]}.py")' in runner.read_text()
