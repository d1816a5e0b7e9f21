"""What an unfinished merge leaves behind: conflict markers and `.rej` files, which no build may ship.

An update that conflicts leaves both (inline markers, or with --conflict rej the hunks that did not apply);
so does a Renovate pull request made with plain `copier update`. Every file git would commit is read, ignored
ones aside.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from generator.runtime import git
from generator.runtime.errors import GosvcError
from generator.runtime.outcome import Outcome
from generator.tools import Toolbox

_START = re.compile(rb"^<{7}(?: |$)", re.MULTILINE)
_END = re.compile(rb"^>{7}(?: |$)", re.MULTILINE)
_LARGEST = 4 * 1024 * 1024
"""Larger files are data, not merged text."""


def check_merge_leftovers(repo: Path, _: Toolbox) -> Outcome:
    found: list[str] = []
    for relative in _files(repo):
        if relative.endswith(".rej"):
            found.append(f"{relative}: hunks an update could not apply; apply them by hand, then delete the file")
            continue
        line = _conflict_line(repo / relative)
        if line is not None:
            found.append(f"{relative}:{line}: conflict markers; resolve the conflict, then remove them")
    return Outcome(not found, "\n".join(found))


def _conflict_line(path: Path) -> int | None:
    """The line of the first conflict in `path`, or None."""
    try:
        if path.is_symlink() or path.stat().st_size > _LARGEST:
            return None
        data = path.read_bytes()
    except OSError:
        return None
    start = _START.search(data)
    if start is None or b"\0" in data or not _END.search(data, start.end()):
        return None
    return data.count(b"\n", 0, start.start()) + 1


def _files(repo: Path) -> list[str]:
    """The files git would commit in `repo` (all of them outside a git work tree), relative to it."""
    try:
        listed = git.run(repo, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
    except GosvcError:
        found: list[str] = []
        for folder, folders, names in os.walk(repo):
            folders[:] = [name for name in folders if name != ".git"]
            found += [Path(folder, name).relative_to(repo).as_posix() for name in names]
        return sorted(found)
    return sorted({entry for entry in listed.split("\0") if entry and (repo / entry).is_file()})
