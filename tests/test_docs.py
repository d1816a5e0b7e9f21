"""The README says what is true: its test command is CI's, its tables match the code."""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tomllib

import yaml

from generator import checks, cli, tools
from tests.conftest import PROJECT_ROOT

README = (PROJECT_ROOT / "README.md").read_text()


def _code_blocks() -> list[str]:
    return re.findall(r"```sh\n(.*?)\n```", README, flags=re.S)


def test_ci_runs_every_step_of_the_readme_test_command() -> None:
    """.ci/run runs each step of the README's command; it splits the tool install and the tests into two
    halves, the tools compiled for minutes and everything else, that together are the whole."""
    test_command = next(block for block in _code_blocks() if "pytest" in block)
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

    for command, parser in _commands(cli._parser()).items():
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
        [sys.executable, "-c", "import sys, generator.cli; print(' '.join(sorted(sys.modules)))"],
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
    scripts = {"generator.checks.checkov_server": PROJECT_ROOT / "generator" / "checks" / "checkov_runs.py"}

    assert modules - set(loaded) == set(scripts)
    for script, runner in scripts.items():
        assert f'with_name("{script.rsplit(".", 1)[1]}.py")' in runner.read_text()
