"""An update computed away from the team's files, then applied to them in one short, journaled step.

Copier runs in a scratch work tree of the repository's commit (a linked git worktree inside the git folder),
so what it does, for as long as it takes, never touches the team's work tree. What it left there becomes a
list of writes, each with the blob of the file before and after; the journal records them before the first
is made. A killed apply is put back from the journal, file by file, and only where a file still holds what
the update wrote or what was there before: anything else is someone's work, and gosvc refuses to touch it.
Ignored files are never written or removed.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from generator.runtime import git

SCRATCH_FOLDER = "gosvc-update-work"
"""The scratch work tree, in the git folder: the next update removes one a killed update left."""
LINK_MODE = "120000"


@dataclass(frozen=True)
class Write:
    """One file the update changes: its blob and mode before and after (None: no file), and its index entries."""

    path: str
    before: str | None
    after: str | None
    mode: str
    index: tuple[str, ...]
    """`git ls-files --stage` lines for the path after the update (conflict stages included); empty: untracked."""


@contextlib.contextmanager
def scratch_tree(top: Path, commit: str) -> Iterator[Path]:
    """A work tree of `commit` sharing `top`'s objects, removed when the block ends."""
    folder = git.git_dir(top) / SCRATCH_FOLDER
    discard_scratch(top)
    git.run(top, "-c", "core.hooksPath=/dev/null", "worktree", "add", "--quiet", "--detach", str(folder), commit)
    try:
        yield folder
    finally:
        discard_scratch(top)


@contextlib.contextmanager
def committed_as(scratch: Path, commit: str) -> Iterator[None]:
    """What the scratch tree's index holds, committed for the block (Copier refuses a tree with uncommitted
    changes) in a commit no branch points to; HEAD is `commit` again after it, index and files as the block left
    them, so `writes` compares with the team's commit."""
    if not git.run(scratch, "diff", "--cached", "--name-only", "HEAD").strip():
        yield
        return
    git.run(scratch, *_THROWAWAY_IDENTITY, "commit", "--quiet", "--no-verify", "--message", "gosvc: before Copier")
    try:
        yield
    finally:
        git.run(scratch, "update-ref", "--no-deref", "HEAD", commit)


_THROWAWAY_IDENTITY = (
    "-c", "user.name=gosvc", "-c", "user.email=gosvc@localhost", "-c", "commit.gpgsign=false",
    "-c", "core.hooksPath=/dev/null",
)  # fmt: skip


def discard_scratch(top: Path) -> None:
    """Remove the scratch work tree, one a killed update left included."""
    folder = git.git_dir(top) / SCRATCH_FOLDER
    if folder.exists():
        shutil.rmtree(folder, ignore_errors=True)
    git.run(top, "worktree", "prune")


def writes(scratch: Path, commit: str) -> list[Write]:
    """What turns a tree clean at `commit` into the scratch tree, ignored files aside."""
    before = git.tracked_blobs(scratch, commit)
    modes = git.tracked_modes(scratch, commit)
    changed = git.changed_paths(scratch)
    index: dict[str, list[str]] = {path: [] for path in changed}
    for entry in git.index_entries(scratch, changed):  # one listing for every path, conflict stages included
        index[entry.split("\t", 1)[1]].append(entry)
    result: list[Write] = []
    for path in changed:
        file = scratch / path
        after, mode = _blob(scratch, file)
        result.append(
            Write(
                path=path,
                before=before.get(path),
                after=after,
                mode=mode or modes.get(path, "100644"),
                index=tuple(index[path]),
            )
        )
    return result


def apply(top: Path, planned: Sequence[Write]) -> None:
    """Make `planned` in `top`'s work tree and index. Call with the journal written."""
    for write in planned:
        _put(top, write.path, write.after, write.mode)
    git.set_index_entries(top, [write.path for write in planned], [line for write in planned for line in write.index])


def foreign_changes(top: Path, planned: Iterable[Write]) -> list[str]:
    """The journaled paths that hold neither what the update wrote nor what was there before."""
    return [
        write.path
        for write in planned
        if (current := _blob(top, top / write.path)[0]) != write.before and current != write.after
    ]


def put_back(top: Path, planned: Sequence[Write], commit: str) -> None:
    """Undo `planned`: each file as it was at `commit`, and its index entry. Check `foreign_changes` first."""
    modes = git.tracked_modes(top, commit)
    for write in planned:
        _put(top, write.path, write.before, modes.get(write.path, write.mode))
    committed = [write for write in planned if write.before is not None]
    git.set_index_entries(
        top,
        [write.path for write in planned],
        [f"{modes[write.path]} {write.before} 0\t{write.path}" for write in committed],
    )


def _blob(repo: Path, file: Path) -> tuple[str | None, str | None]:
    """The blob id and mode of `file` as git would store it, written to the object database; (None, None) if absent."""
    if file.is_symlink():
        return git.write_blob(repo, os.fsencode(file.readlink())), LINK_MODE
    if not file.is_file():
        return None, None
    mode = "100755" if os.access(file, os.X_OK) else "100644"
    return git.write_blob(repo, file.read_bytes()), mode


def _put(top: Path, relative: str, blob: str | None, mode: str) -> None:
    """Make `top/relative` hold `blob` (remove it for None), atomically for each file."""
    path = top / relative
    if blob is None:
        if path.is_symlink() or path.is_file():
            path.unlink()
            remove_empty_parents(top, path.parent)
        return
    content = git.read_blob(top, blob)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.gosvc-{os.getpid()}")
    partial.unlink(missing_ok=True)
    if mode == LINK_MODE:
        partial.symlink_to(os.fsdecode(content))
    else:
        partial.write_bytes(content)
        partial.chmod(0o755 if mode == "100755" else 0o644)
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    partial.replace(path)


def remove_empty_parents(top: Path, folder: Path) -> None:
    while folder != top and folder.is_relative_to(top):
        try:
            folder.rmdir()
        except OSError:
            return
        folder = folder.parent
