"""The README says what is true: its test command is CI's, its tables match the code."""

from __future__ import annotations

import re
import tomllib

import yaml

from generator import checks, tools
from tests.conftest import PROJECT_ROOT

README = (PROJECT_ROOT / "README.md").read_text()


def _code_blocks() -> list[str]:
    return re.findall(r"```sh\n(.*?)\n```", README, flags=re.S)


def test_ci_runs_exactly_the_readme_test_command() -> None:
    test_command = next(block for block in _code_blocks() if "pytest" in block)
    ci_lines = [line for line in (PROJECT_ROOT / ".ci/run").read_text().splitlines() if line and line[0] not in "#"]

    assert test_command in ci_lines


def test_every_question_is_in_the_readme_table() -> None:
    questions = [key for key in yaml.safe_load((PROJECT_ROOT / "copier.yml").read_text()) if not key.startswith("_")]
    documented = re.findall(r"^\| `([a-z_]+)` \|", README, flags=re.M)

    assert documented == questions


def test_every_check_is_in_the_readme() -> None:
    for check in checks.CHECKS:
        assert check.name in README, check.name


def test_the_tools_extra_pins_the_python_tools_of_the_tools_table() -> None:
    pyproject = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())

    assert pyproject["project"]["optional-dependencies"]["tools"] == tools.python_requirements()
