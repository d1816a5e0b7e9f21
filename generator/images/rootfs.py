"""A root file system written straight into a tar archive, for `docker import`."""

from __future__ import annotations

import stat
import tarfile
import tempfile
from collections.abc import Iterable
from pathlib import Path, PurePosixPath


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
