"""The CI files this repository ships for forks of the template: valid, pinned like the template's, and running
`gosvc matrix` on the commit under test."""

from __future__ import annotations

import re
import subprocess

import pytest
import yaml

from generator.tools import Toolbox
from tests.conftest import PROJECT_ROOT

WORKFLOW = PROJECT_ROOT / ".github" / "workflows" / "template-matrix.yml"
GITLAB = PROJECT_ROOT / ".gitlab-ci.yml"


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    return Toolbox.default().run(*argv, cwd=PROJECT_ROOT)


@pytest.mark.parametrize(
    ("argv"),
    [
        ("actionlint", str(WORKFLOW)),
        ("check-jsonschema", "--builtin-schema", "vendor.github-workflows", str(WORKFLOW)),
        ("check-jsonschema", "--builtin-schema", "vendor.gitlab-ci", str(GITLAB)),
    ],
    ids=["actionlint", "github-workflow-schema", "gitlab-ci-schema"],
)
def test_the_template_ci_files_pass_their_linters(argv: tuple[str, ...]) -> None:
    result = _run(*argv)

    assert result.returncode == 0, result.stdout + result.stderr


def test_the_workflow_pins_its_actions_as_the_generated_pipelines_do() -> None:
    template_pins = set(
        re.findall(r"'([\w-]+/[\w-]+@[0-9a-f]{40} # v[\d.]+)'", (PROJECT_ROOT / "includes/ci.jinja").read_text())
    )
    used = re.findall(r"uses: (\S+@\S+(?: # \S+)?)", WORKFLOW.read_text())

    assert used, "the workflow uses no action"
    assert set(used) <= template_pins, set(used) - template_pins
    assert yaml.safe_load(WORKFLOW.read_text())["permissions"] == {}


def test_both_run_the_matrix_on_the_commit_under_test() -> None:
    workflow_steps = [step.get("run", "") for step in yaml.safe_load(WORKFLOW.read_text())["jobs"]["matrix"]["steps"]]
    gitlab_script = yaml.safe_load(GITLAB.read_text())["template-matrix"]["script"]

    for commands in (workflow_steps, gitlab_script):
        assert any(command.startswith("gosvc matrix --vcs-ref HEAD") for command in commands)
        assert any("gosvc tools install" in command for command in commands)
