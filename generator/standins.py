"""Base images for image builds: the real ones where a pull succeeds, local stand-ins otherwise.

A machine that reaches no container registry can still build and run every
variant. Each base image a Dockerfile names is pulled when possible; when the
pull fails, a minimal image holding what the real one has that matters here
(the Go toolchain for the builder; the users, CA certificates and /tmp for the
runtime images) is imported under the same name. Which images were real and
which were stand-ins is always reported, never hidden.
"""

from __future__ import annotations

import enum
import json
import os
import re
import shutil
import stat
import struct
import subprocess
import tarfile
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from generator.engine import Engine, EngineCommandError
from generator.errors import GosvcError

# Bump when what a stand-in holds changes: older stand-ins are then made anew.
RECIPE_VERSION = "3"
STANDIN_LABEL = "org.gosvc.standin"
HOLDS_LABEL = "org.gosvc.standin.holds"
DIGEST_STANDIN_REPOSITORY = "gosvc-standin"
PULL_TIMEOUT_SECONDS = 20.0

HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
HOST_ZONEINFO = Path("/usr/share/zoneinfo")
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
NONROOT_UID = 65532


class StandInError(GosvcError):
    """A stand-in image cannot be made on this machine."""


class Source(enum.Enum):
    PULLED = "real (pulled)"
    LOCAL = "real (already in the local image store)"
    STANDIN = "stand-in"


@dataclass(frozen=True)
class BaseImage:
    """One base image of a build, and where it came from."""

    ref: str  # as the Dockerfile names it
    local_ref: str  # what a FROM line must name to use it; differs from `ref` only for digest pins
    source: Source
    holds: str = ""  # what a stand-in holds
    created: bool = False  # a stand-in made by this run rather than found
    pull_error: str = ""

    @property
    def is_real(self) -> bool:
        return self.source is not Source.STANDIN

    def describe(self) -> str:
        """One line: real, or a stand-in and what it holds (the pull error is told apart, in `pull_error`)."""
        if self.is_real:
            return f"{self.ref}: {self.source.value}"
        made = "made now" if self.created else "made earlier"
        where = "" if self.local_ref == self.ref else f", tagged {self.local_ref}, which the build names instead"
        return f"{self.ref}: STAND-IN ({made}{where}) holding {self.holds}"


class RootFs:
    """A root file system written straight into a tar archive, owned by root unless told."""

    def __init__(self, archive: tarfile.TarFile) -> None:
        self._archive = archive
        self._present: set[str] = {"/"}

    def directory(self, path: str, mode: int = 0o755, owner: int = 0) -> None:
        self._parents(path)
        if path in self._present:
            return
        info = tarfile.TarInfo(path.lstrip("/"))
        info.type = tarfile.DIRTYPE
        info.mode = mode
        info.uid = info.gid = owner
        self._archive.addfile(info)
        self._present.add(path)

    def file(self, path: str, content: str | bytes, mode: int = 0o644) -> None:
        data = content.encode() if isinstance(content, str) else content
        self._parents(path)
        info = tarfile.TarInfo(path.lstrip("/"))
        info.size = len(data)
        info.mode = mode
        with tempfile.SpooledTemporaryFile() as buffer:
            buffer.write(data)
            buffer.seek(0)
            self._archive.addfile(info, buffer)
        self._present.add(path)

    def symlink(self, path: str, target: str) -> None:
        self._parents(path)
        info = tarfile.TarInfo(path.lstrip("/"))
        info.type = tarfile.SYMTYPE
        info.linkname = target
        self._archive.addfile(info)
        self._present.add(path)

    def host_file(self, path: str, host: Path) -> None:
        self.file(path, host.read_bytes(), mode=stat.S_IMODE(host.stat().st_mode))

    def host_tree(self, path: str, host: Path, skip: Iterable[str] = ()) -> None:
        """Copy the tree at `host` to `path`, leaving out the top-level entries named in `skip`."""
        skipped = set(skip)
        self.directory(path)
        for entry in sorted(host.iterdir()):
            if entry.name in skipped:
                continue
            self._copy(f"{path}/{entry.name}", entry)

    def _copy(self, path: str, host: Path) -> None:
        info = self._archive.gettarinfo(str(host), arcname=path.lstrip("/"))
        info.uid = info.gid = 0
        info.uname = info.gname = "root"
        if info.isdir():
            self._archive.addfile(info)
            self._present.add(path)
            for entry in sorted(host.iterdir()):
                self._copy(f"{path}/{entry.name}", entry)
        elif info.isfile():
            with host.open("rb") as content:
                self._archive.addfile(info, content)
        else:
            self._archive.addfile(info)

    def _parents(self, path: str) -> None:
        for parent in reversed(PurePosixPath(path).parents):
            if str(parent) not in self._present:
                self.directory(str(parent))


@dataclass(frozen=True)
class Recipe:
    """How to make the stand-in of one image reference."""

    holds: str
    lay_out: Callable[[RootFs], None]
    config: tuple[str, ...]  # `docker import --change` instructions


def recipe_for(ref: str) -> Callable[[], Recipe] | None:
    """How to make the stand-in recipe of an image reference (it looks for host files), or None if gosvc has none."""
    name, _, tag = ref.partition("@")[0].partition(":")
    if name in {"golang", "docker.io/library/golang"}:
        return lambda: _golang(tag)
    if name in {"alpine", "docker.io/library/alpine"}:
        return lambda: _alpine(tag)
    if ref == "gcr.io/distroless/static-debian12:nonroot":
        return _distroless_static_nonroot
    if name == "cgr.dev/chainguard/static":
        return _chainguard_static
    return None


def standin_tag(ref: str) -> str:
    """The local tag a stand-in of `ref` gets: the name itself, except for digest pins no local image can match."""
    if "@" not in ref:
        return ref
    name, _, digest = ref.partition("@")
    path = name.split("/", 1)[1] if "." in name.split("/", 1)[0] else name  # drop the registry host
    repository = path.split(":")[0].replace("/", "-")
    return f"{DIGEST_STANDIN_REPOSITORY}/{repository}:{digest.replace(':', '-')[:19]}"


class BaseImages:
    """Resolves the base images of builds once each: pulled, found real, or made as stand-ins."""

    def __init__(self, engine: Engine, *, pull: bool = True, pull_timeout: float = PULL_TIMEOUT_SECONDS) -> None:
        self._engine = engine
        self._pull = pull
        self._pull_timeout = pull_timeout
        self._resolved: dict[str, BaseImage] = {}
        self._pull_errors: dict[str, str] = {}

    @property
    def resolved(self) -> list[BaseImage]:
        """Every base image resolved so far, in the order first asked for."""
        return list(self._resolved.values())

    def ensure(self, ref: str) -> BaseImage:
        if ref not in self._resolved:
            self._resolved[ref] = self._resolve(ref)
        return self._resolved[ref]

    def pull_error(self, ref: str) -> str:
        """Why `ref` cannot be pulled, or "" when the pull succeeded; each reference is tried once."""
        if ref not in self._pull_errors:
            self._pull_errors[ref] = self._try_pull(ref)
        return self._pull_errors[ref]

    def _try_pull(self, ref: str) -> str:
        if not self._pull:
            return "pulling is off"
        try:
            pulled = self._engine.run("pull", "--quiet", ref, timeout=self._pull_timeout, check=False)
        except EngineCommandError as error:  # timed out
            return _first_line(str(error))
        return "" if pulled.returncode == 0 else _first_line(pulled.stderr or pulled.stdout)

    def _resolve(self, ref: str) -> BaseImage:
        pull_error = self.pull_error(ref)
        if not pull_error:
            return BaseImage(ref, ref, Source.PULLED)
        local = self._engine.image_config(ref)
        if local is not None and _standin_version(local) is None:
            return BaseImage(ref, ref, Source.LOCAL, pull_error=pull_error)
        make_recipe = recipe_for(ref)
        if make_recipe is None:
            raise StandInError(f"cannot pull {ref} ({pull_error}) and gosvc has no stand-in for it")
        tag = standin_tag(ref)
        present = self._engine.image_config(tag)
        if present is not None and _standin_version(present) == RECIPE_VERSION:
            return BaseImage(ref, tag, Source.STANDIN, holds=_label(present, HOLDS_LABEL), pull_error=pull_error)
        recipe = make_recipe()
        self._import(tag, recipe)
        if present is not None:  # an older recipe's image, untagged now: drop it unless something still uses it
            self._engine.run("image", "rm", str(present["Id"]), check=False)
        return BaseImage(ref, tag, Source.STANDIN, holds=recipe.holds, created=True, pull_error=pull_error)

    def _import(self, tag: str, recipe: Recipe) -> None:
        with tempfile.TemporaryDirectory(prefix="gosvc-standin-") as scratch:
            archive_path = Path(scratch) / "rootfs.tar"
            with tarfile.open(archive_path, "w", format=tarfile.PAX_FORMAT) as archive:
                recipe.lay_out(RootFs(archive))
            labels = f"LABEL {STANDIN_LABEL}={RECIPE_VERSION} {HOLDS_LABEL}={json.dumps(recipe.holds)}"
            changes = [*recipe.config, labels]
            args = [arg for change in changes for arg in ("--change", change)]
            try:
                self._engine.run(
                    "import", *args, "-", tag, stdin_path=archive_path, timeout=600, what=f"importing {tag}"
                )
            except EngineCommandError as error:
                raise StandInError(f"cannot make the stand-in {tag}: {error}") from error


def _standin_version(inspected: dict[str, Any]) -> str | None:
    return _label(inspected, STANDIN_LABEL) or None


def _label(inspected: dict[str, Any], name: str) -> str:
    labels = (inspected.get("Config") or {}).get("Labels") or {}
    return str(labels.get(name, ""))


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "no output")


# --- the recipes -------------------------------------------------------------------------------


def _golang(tag: str) -> Recipe:
    wanted = tag.split("-")[0]
    goroot, go_version, where = _go_toolchain(wanted)
    busybox = _host_busybox()
    ca_bundle = _host_file(HOST_CA_BUNDLE, "ca-certificates")
    holds = f"{go_version} ({where}"
    holds += ")" if _same_release(go_version, wanted) else f", standing in for Go {wanted})"
    holds += ", a busybox shell and CA certificates"

    def lay_out(root: RootFs) -> None:
        _base_layout(root, users=[("root", 0, "/root", "/bin/sh")], groups=[("root", 0)])
        _busybox(root, busybox)
        root.host_file("/etc/ssl/certs/ca-certificates.crt", ca_bundle)
        root.host_tree("/usr/local/go", goroot, skip={"test", ".git"})
        for folder in ("/go", "/go/bin", "/go/src"):
            root.directory(folder, mode=0o1777)

    config = (
        f"ENV PATH=/go/bin:/usr/local/go/bin:{SYSTEM_PATH}",
        "ENV GOPATH=/go",
        "ENV GOTOOLCHAIN=local",
        f"ENV GOLANG_VERSION={go_version.removeprefix('go')}",
        "WORKDIR /go",
        'CMD ["/bin/sh"]',
    )
    return Recipe(holds=holds, lay_out=lay_out, config=config)


def _alpine(tag: str) -> Recipe:
    busybox = _host_busybox()
    ca_bundle = _host_file(HOST_CA_BUNDLE, "ca-certificates")

    def lay_out(root: RootFs) -> None:
        _base_layout(
            root,
            users=[("root", 0, "/root", "/bin/sh"), ("nobody", 65534, "/", "/sbin/nologin")],
            groups=[("root", 0), ("nogroup", 65533), ("nobody", 65534)],
        )
        _busybox(root, busybox)
        root.host_file("/etc/ssl/certs/ca-certificates.crt", ca_bundle)
        root.file("/etc/alpine-release", f"{tag}.0\n")
        root.file("/etc/os-release", f'NAME="Alpine Linux"\nID=alpine\nVERSION_ID={tag}.0\n')

    config = (f"ENV PATH={SYSTEM_PATH}", 'CMD ["/bin/sh"]')
    return Recipe(
        holds="a static busybox shell, root and nobody users, CA certificates, /tmp", lay_out=lay_out, config=config
    )


def _distroless_static_nonroot() -> Recipe:
    return _static_nonroot(
        os_release='PRETTY_NAME="Distroless"\nNAME="Debian GNU/Linux"\nID="debian"\nVERSION_ID="12"\n',
        users=[
            ("root", 0, "/root", "/sbin/nologin"),
            ("nobody", 65534, "/nonexistent", "/sbin/nologin"),
            ("nonroot", NONROOT_UID, "/home/nonroot", "/sbin/nologin"),
        ],
    )


def _chainguard_static() -> Recipe:
    return _static_nonroot(
        os_release='ID=wolfi\nNAME="Wolfi"\nPRETTY_NAME="Wolfi"\n',
        users=[("root", 0, "/root", "/bin/ash"), ("nonroot", NONROOT_UID, "/home/nonroot", "/bin/sh")],
    )


def _static_nonroot(os_release: str, users: list[tuple[str, int, str, str]]) -> Recipe:
    """Distroless static and Chainguard static hold the same things that matter: no shell, a nonroot user."""
    ca_bundle = _host_file(HOST_CA_BUNDLE, "ca-certificates")
    zoneinfo = HOST_ZONEINFO if HOST_ZONEINFO.is_dir() else None

    def lay_out(root: RootFs) -> None:
        _base_layout(root, users=users, groups=[(name, uid) for name, uid, _, _ in users])
        root.directory("/home/nonroot", mode=0o700, owner=NONROOT_UID)
        root.file("/etc/nsswitch.conf", "hosts: files dns\n")
        root.file("/etc/os-release", os_release)
        root.host_file("/etc/ssl/certs/ca-certificates.crt", ca_bundle)
        if zoneinfo is not None:
            root.host_tree("/usr/share/zoneinfo", zoneinfo)

    config = (
        f"ENV PATH={SYSTEM_PATH}",
        "ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt",
        f"USER {NONROOT_UID}",
        "WORKDIR /home/nonroot",
    )
    holds = "no shell; root and nonroot (65532) users, CA certificates, /tmp" + (", tzdata" if zoneinfo else "")
    return Recipe(holds=holds, lay_out=lay_out, config=config)


def _base_layout(root: RootFs, users: list[tuple[str, int, str, str]], groups: list[tuple[str, int]]) -> None:
    root.directory("/tmp", mode=0o1777)
    root.directory("/root", mode=0o700)
    for folder in ("/bin", "/sbin", "/etc", "/usr/bin", "/usr/sbin", "/usr/local/bin", "/var"):
        root.directory(folder)
    root.file(
        "/etc/passwd", "".join(f"{name}:x:{uid}:{uid}:{name}:{home}:{shell}\n" for name, uid, home, shell in users)
    )
    root.file("/etc/group", "".join(f"{name}:x:{gid}:\n" for name, gid in groups))


def _busybox(root: RootFs, busybox: Path) -> None:
    root.host_file("/bin/busybox", busybox)
    applets = subprocess.run([str(busybox), "--list"], capture_output=True, text=True, check=True).stdout.split()
    for applet in applets:
        if applet != "busybox":
            root.symlink(f"/bin/{applet}", "busybox")


def _go_toolchain(wanted: str) -> tuple[Path, str, str]:
    """GOROOT, version and origin of the Go toolchain closest to release `wanted` (such as 1.25).

    The host's own Go when it is that release; else that release's first
    version as the go command fetches it (the golang.org/toolchain module,
    from the module proxy), so a go line the release cannot build fails
    here as it would in the real image; else the host's Go, said to stand in.
    """
    go = shutil.which("go") or "/usr/local/go/bin/go"
    if not Path(go).is_file():
        raise StandInError("a Go builder stand-in needs a Go toolchain on this machine, and `go` is not installed")
    host = _go_env(go, "local")
    if host is None:
        raise StandInError(f"`{go} env GOROOT GOVERSION` failed")
    if _same_release(host[1], wanted):
        return host[0], host[1], "the host's toolchain"
    if re.fullmatch(r"1\.\d+", wanted) and (fetched := _go_env(go, f"go{wanted}.0")) is not None:
        return fetched[0], fetched[1], "the golang.org/toolchain module"
    return host[0], host[1], "the host's toolchain"


def _go_env(go: str, toolchain: str) -> tuple[Path, str] | None:
    result = subprocess.run(
        [go, "env", "GOROOT", "GOVERSION"],
        capture_output=True,
        text=True,
        check=False,
        cwd="/",
        env={**os.environ, "GOTOOLCHAIN": toolchain},
        timeout=600,
    )
    lines = result.stdout.split()
    return (Path(lines[0]), lines[1]) if result.returncode == 0 and len(lines) == 2 else None


def _same_release(go_version: str, release: str) -> bool:
    version = go_version.removeprefix("go")
    return version == release or version.startswith(f"{release}.")


def _host_busybox() -> Path:
    for candidate in (Path("/bin/busybox"), Path("/usr/bin/busybox")):
        if candidate.is_file() and _is_static_elf(candidate):
            return candidate
    raise StandInError("stand-ins with a shell need a statically linked busybox: apt-get install busybox-static")


def _host_file(path: Path, package: str) -> Path:
    if not path.is_file():
        raise StandInError(f"stand-ins need {path}: apt-get install {package}")
    return path


def _is_static_elf(path: Path) -> bool:
    """Whether an x86-64/arm64 ELF executable needs no dynamic loader (has no PT_INTERP segment)."""
    with path.open("rb") as elf:
        header = elf.read(64)
        if header[:5] != b"\x7fELF\x02":  # 64-bit only; that is all Debian ships for these architectures
            return False
        order = "<" if header[5] == 1 else ">"
        (phoff,) = struct.unpack_from(order + "Q", header, 0x20)
        phentsize, phnum = struct.unpack_from(order + "HH", header, 0x36)
        elf.seek(phoff)
        table = elf.read(phentsize * phnum)
    pt_interp = 3
    return all(struct.unpack_from(order + "I", table, i * phentsize)[0] != pt_interp for i in range(phnum))
