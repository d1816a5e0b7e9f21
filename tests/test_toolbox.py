"""The tools a check runs come from its context's toolbox: a run given a tools folder uses that folder, whatever
$GOSVC_TOOLS says, and only the user's defaults (CheckContext.from_environment) read $GOSVC_TOOLS."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from generator import checks, tools
from generator.tools import Toolbox
from generator.tools.backends import stamp_of

WORKFLOW = "name: ci\non: push\njobs:\n  test:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo hi\n"


def _with_fake(folder: Path, name: str, says: str) -> Toolbox:
    """A tools folder where `name` is installed at its pinned version, as `gosvc tools install` leaves it (the
    program and its stamp), as a script that prints `says`."""
    tool = tools.TOOLS[name]
    program = tool.backend.path(folder, tool)
    program.parent.mkdir(parents=True)
    program.write_text(f"#!/bin/sh\necho '{says}'\n")
    program.chmod(0o755)
    tool.backend.stamp(folder, tool).write_text(json.dumps(stamp_of(tool)))
    toolbox = Toolbox(folder)
    assert toolbox.find(name) == program, "the fake is where the toolbox looks for an installed tool"
    return toolbox


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository the actionlint check applies to."""
    workflows = tmp_path / "repo" / ".github" / "workflows"
    workflows.mkdir(parents=True)
    (workflows / "ci.yml").write_text(WORKFLOW)
    return tmp_path / "repo"


def test_a_check_runs_the_tool_of_its_contexts_toolbox_not_the_one_gosvc_tools_names(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    installed = _with_fake(tmp_path / "installed", "actionlint", "the fake actionlint ran")
    empty = Toolbox(tmp_path / "empty")

    monkeypatch.setenv(tools.TOOLS_ENV_VAR, str(empty.folder))
    [ran] = checks.run_checks(checks.CheckContext(repo, tools=installed), ["actionlint"])
    monkeypatch.setenv(tools.TOOLS_ENV_VAR, str(installed.folder))
    [missing] = checks.run_checks(checks.CheckContext(repo, tools=empty), ["actionlint"])

    assert (ran.status, ran.output) == (checks.PASS, "the fake actionlint ran")
    assert missing.status == checks.MISSING
    assert (
        missing.output == f"actionlint {tools.TOOLS['actionlint'].version} is not installed: run `gosvc tools install`"
    )


def test_a_result_is_keyed_by_the_tools_of_its_contexts_toolbox(repo: Path, tmp_path: Path) -> None:
    """A check whose tool is missing from its toolbox is not answered by a result kept with another toolbox's."""
    installed = _with_fake(tmp_path / "installed", "actionlint", "the fake actionlint ran")
    [actionlint] = checks.select(["actionlint"])

    with_it = checks.key_of(actionlint, checks.CheckContext(repo, tools=installed))
    without = checks.key_of(actionlint, checks.CheckContext(repo, tools=Toolbox(tmp_path / "empty")))

    assert with_it != without


def test_the_users_defaults_read_the_tools_folder_from_gosvc_tools(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(tools.TOOLS_ENV_VAR, str(tmp_path / "configured"))
    assert checks.CheckContext.from_environment(tmp_path).tools == Toolbox(tmp_path / "configured")
    given = Toolbox(tmp_path / "given")
    assert checks.CheckContext.from_environment(tmp_path, tools=given).tools == given

    monkeypatch.delenv(tools.TOOLS_ENV_VAR)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "user-cache"))
    assert checks.CheckContext.from_environment(tmp_path).tools == Toolbox(tmp_path / "user-cache" / "gosvc" / "tools")
