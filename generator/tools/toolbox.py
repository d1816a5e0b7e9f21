"""The Toolbox: a tools folder, and how the pinned tools in it and the others are found, run and installed.

Python-shipped tools come with the package's `tools` extra; the others are
installed at pinned versions into a tools folder (the user's cache folder unless
$GOSVC_TOOLS names another), each under its name and version. After one
`gosvc tools install`, checks need no network.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sysconfig
from collections.abc import Callable, Collection, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from generator.runtime.errors import ToolMissingError
from generator.runtime.user_cache import cache_folder
from generator.tools.backends import GoInstall, Progress, Tool, npm_prefix
from generator.tools.table import TOOLS

TOOLS_ENV_VAR = "GOSVC_TOOLS"


@dataclass(frozen=True)
class Toolbox:
    """A tools folder, and how the tools are found and run. Whatever runs a tool is given one (a check as
    CheckContext.tools), so that which tools run is part of what it was given."""

    folder: Path

    @classmethod
    def default(cls) -> Toolbox:
        """The user's tools folder: $GOSVC_TOOLS, else the user's cache folder; read here and nowhere else."""
        if configured := os.environ.get(TOOLS_ENV_VAR):
            return cls(Path(configured))
        return cls(cache_folder("tools"))

    def find(self, name: str) -> Path:
        """The path of tool `name`, or ToolMissingError saying how to install it."""
        tool = TOOLS[name]
        if tool.backend.pinned:
            # Presence first: it is what nearly every call finds, and adopting only ever applies to a missing tool.
            if tool.backend.present(self.folder, tool):
                return tool.backend.path(self.folder, tool)
            tool.backend.adopt(self.folder, tool)
            if tool.backend.present(self.folder, tool):
                return tool.backend.path(self.folder, tool)
            raise ToolMissingError(f"{name} {tool.version} is not installed: {tool.install_hint}")
        scripts = Path(sysconfig.get_path("scripts")) / name
        if scripts.is_file() and os.access(scripts, os.X_OK):
            return scripts
        if on_path := shutil.which(name):
            return Path(on_path)
        raise ToolMissingError(f"{name} {tool.version} is not installed: {tool.install_hint}")

    def run(
        self, name: str, *arguments: str, cwd: Path, env: Mapping[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run tool `name` in `cwd`, with `env` added to its environment, and capture its text output; the caller
        judges the exit status."""
        return subprocess.run(
            [str(self.find(name)), *arguments],
            cwd=cwd,
            capture_output=True,
            text=True,
            check=False,
            env={**self.environment(), **(env or {})},
        )

    def environment(self) -> dict[str, str]:
        """The environment tools run in: the pinned Go tools of this table first on PATH, so that they find each
        other (buf its plugins), then Python's scripts folder."""
        pinned = [
            str(tool.backend.home(self.folder, tool)) for tool in TOOLS.values() if isinstance(tool.backend, GoInstall)
        ]
        path = os.pathsep.join([*dict.fromkeys(pinned), sysconfig.get_path("scripts"), os.environ.get("PATH", "")])
        return {**os.environ, "PATH": path, "NO_COLOR": "1"}

    def groovy_classpath(self) -> str:
        """The Groovy runtime that npm-groovy-lint ships, as a Java classpath."""
        shipper = TOOLS["npm-groovy-lint"]
        library = self.npm_modules() / "npm-groovy-lint" / "lib" / "java" / "groovy" / "lib"
        if not any(library.glob("groovy-*.jar")):
            raise ToolMissingError(
                f"Groovy (from {shipper.name} {shipper.version}) is not installed: {shipper.install_hint}"
            )
        return str(library / "*")

    def npm_modules(self) -> Path:
        """The node_modules folder of the npm tools and libraries, which gosvc's Node.js scripts require from."""
        return npm_prefix(self.folder, TOOLS.values()) / "node_modules"

    def install(self, tools: Collection[Tool] | None = None, progress: Progress = lambda _: None) -> list[str]:
        """Install every tool of `tools` (all when None) that is missing; return what was installed. Idempotent.

        The installs of one lane (Go builds, which take the CPU; npm installs,
        which write one prefix) run one after the other; the others (pip, the
        virtualenvs) beside them, each in a thread of its own.
        """
        wanted = list(TOOLS.values()) if tools is None else list(tools)
        for tool in wanted:
            tool.backend.adopt(self.folder, tool)
        missing = [tool for tool in wanted if tool.backend.installable and not tool.backend.present(self.folder, tool)]
        lanes: dict[object, list[Callable[[], list[str]]]] = {}
        for backend in dict.fromkeys(tool.backend for tool in missing):
            theirs = [tool for tool in missing if tool.backend is backend]
            # A backend that is not pinned (pip into gosvc's own environment) installs all of its tools at once.
            batches = [theirs] if not backend.pinned else [[tool] for tool in theirs]
            for batch in batches:
                lane = backend.lane if backend.lane is not None else object()
                lanes.setdefault(lane, []).append(partial(backend.install, self, batch, progress))
        if not lanes:
            return []
        self.folder.mkdir(parents=True, exist_ok=True)
        with ThreadPoolExecutor(max_workers=len(lanes)) as pool:
            done = [pool.submit(_run_lane, steps) for steps in lanes.values()]
            return sorted(name for future in done for name in future.result())


def _run_lane(steps: list[Callable[[], list[str]]]) -> list[str]:
    return [name for step in steps for name in step()]
