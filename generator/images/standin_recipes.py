"""What each stand-in image holds, and the host files it is made from."""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from generator.images.rootfs import RootFs
from generator.runtime.errors import GosvcError

HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
HOST_ZONEINFO = Path("/usr/share/zoneinfo")
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
NONROOT_UID = 65532


class StandInError(GosvcError):
    """A stand-in image cannot be made on this machine."""


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
    if (name, tag) == ("gcr.io/distroless/static-debian12", "nonroot"):
        return _distroless_static_nonroot
    if name == "cgr.dev/chainguard/static":
        return _chainguard_static
    return None


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
