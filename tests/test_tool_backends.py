"""Each tool is kept under its name and version, so that gosvc versions pinning different versions of one tool
each find their own; a tool an earlier gosvc kept in its single-version place is taken over, not built again."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from generator import tools
from generator.runtime.errors import ToolMissingError
from generator.tools import table
from generator.tools.backends import Backend, Tool, npm_prefix, stamp_of


def _install_fake(folder: Path, tool: Tool) -> Path:
    """`tool` as an install leaves it in `folder`: the program where its backend keeps it, and its stamp."""
    program = tool.backend.path(folder, tool)
    program.parent.mkdir(parents=True, exist_ok=True)
    program.write_text(f"#!/bin/sh\necho {tool.version}\n")
    program.chmod(0o755)
    tool.backend.stamp(folder, tool).write_text(json.dumps(stamp_of(tool)))
    return program


@pytest.mark.parametrize("backend", [table.GO, table.GO_BUILD, table.VIRTUALENV])
def test_two_versions_of_a_tool_are_kept_side_by_side(
    backend: Backend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old, new = (Tool("sometool", backend, "example.com/sometool", version) for version in ("v1.0.0", "v2.0.0"))
    toolbox = tools.Toolbox(tmp_path)

    installed_old = _install_fake(tmp_path, old)
    monkeypatch.setitem(tools.TOOLS, "sometool", new)
    with pytest.raises(ToolMissingError, match=re.escape("sometool v2.0.0 is not installed")):
        toolbox.find("sometool")
    installed_new = _install_fake(tmp_path, new)

    assert installed_old != installed_new
    assert toolbox.find("sometool") == installed_new
    monkeypatch.setitem(tools.TOOLS, "sometool", old)
    assert toolbox.find("sometool") == installed_old


def test_a_go_tool_an_earlier_gosvc_kept_in_bin_is_taken_over(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tool = Tool("sometool", table.GO, "example.com/sometool", "v1.0.0", tags=("netgo",))
    monkeypatch.setitem(tools.TOOLS, "sometool", tool)
    legacy = tmp_path / "bin" / "sometool"
    legacy.parent.mkdir()
    legacy.write_text("#!/bin/sh\necho built before\n")
    (tmp_path / "bin" / ".sometool.json").write_text(json.dumps(stamp_of(tool)))

    found = tools.Toolbox(tmp_path).find("sometool")

    assert found == tool.backend.path(tmp_path, tool) and found.read_text() == "#!/bin/sh\necho built before\n"
    assert not legacy.exists()
    assert str(found.parent) in tools.Toolbox(tmp_path).environment()["PATH"].split(":")


def test_a_tool_an_earlier_gosvc_kept_at_another_version_is_not_taken_over(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tool = Tool("sometool", table.GO, "example.com/sometool", "v2.0.0")
    monkeypatch.setitem(tools.TOOLS, "sometool", tool)
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "sometool").write_text("old")
    (tmp_path / "bin" / ".sometool.json").write_text(json.dumps(stamp_of(tool) | {"version": "v1.0.0"}))

    with pytest.raises(ToolMissingError):
        tools.Toolbox(tmp_path).find("sometool")
    assert (tmp_path / "bin" / "sometool").exists()


def test_the_npm_prefix_is_named_after_every_npm_tools_version(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = npm_prefix(tmp_path, tools.TOOLS.values())
    newer = tools.TOOLS["yaml"].version + ".1"
    monkeypatch.setitem(tools.TOOLS, "yaml", Tool("yaml", table.NPM_LIBRARY, "yaml", newer))

    assert npm_prefix(tmp_path, tools.TOOLS.values()) != before
    assert tools.Toolbox(tmp_path).npm_modules() == npm_prefix(tmp_path, tools.TOOLS.values()) / "node_modules"


def test_the_npm_prefix_an_earlier_gosvc_kept_is_taken_over(tmp_path: Path) -> None:
    modules = tmp_path / "npm" / "node_modules"
    (modules / ".bin").mkdir(parents=True)
    (tmp_path / "bin").mkdir()
    for tool in (tool for tool in tools.TOOLS.values() if tool.backend in (table.NPM, table.NPM_LIBRARY)):
        where = modules / (".bin/" + tool.name if tool.backend is table.NPM else tool.package)
        where.parent.mkdir(parents=True, exist_ok=True)
        where.mkdir() if tool.backend is table.NPM_LIBRARY else where.write_text("")
        (tmp_path / "bin" / f".{tool.name}.json").write_text(json.dumps(stamp_of(tool)))

    found = tools.Toolbox(tmp_path).find("buf")

    assert found == npm_prefix(tmp_path, tools.TOOLS.values()) / "node_modules" / ".bin" / "buf"
    assert not modules.exists()


def test_each_backend_is_one_class_named_as_the_tools_list_shows_it() -> None:
    backends = {tool.backend for tool in tools.TOOLS.values()}
    assert len({backend.name for backend in backends}) == len(backends)
    assert len({type(backend) for backend in backends}) == len(backends), "one instance of each backend class"
    assert {tool.name for tool in tools.TOOLS.values() if tool.backend.slow} >= {"prometheus", "kube-apiserver-1.33"}


def test_install_leaves_a_folder_holding_every_tool_as_it_is(tmp_path: Path) -> None:
    """Every backend's presence and adoption, through `gosvc tools install` on a folder where each pinned tool is
    installed at its version (the Python tools are those of the `tools` extra)."""
    for tool in tools.TOOLS.values():
        if tool.backend.pinned:
            if tool.backend in (table.NPM_LIBRARY, table.GO_MODULE):
                tool.backend.path(tmp_path, tool).mkdir(parents=True)
                tool.backend.stamp(tmp_path, tool).parent.mkdir(parents=True, exist_ok=True)
                tool.backend.stamp(tmp_path, tool).write_text(json.dumps(stamp_of(tool)))
            else:
                _install_fake(tmp_path, tool)

    assert tools.Toolbox(tmp_path).install() == []
