"""What guards a repository while gosvc updates it.

A lock: a second update of the same repository is refused while the first
runs. The lock is an flock on a file in the git folder, so it dies with its
process, even one killed with SIGKILL.

A journal: every file the update is about to write, with its blob before and
after, recorded before the first write and removed once the repository is
updated or put back. A journal left behind means an update was killed while it
wrote (SIGKILL, a power loss); the next update finds it and puts back the files
it lists, as long as each still holds the update's bytes or the original ones.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from generator.runtime import git, signals
from generator.runtime.errors import GosvcError, InvalidInputError
from generator.update import staged
from generator.update.staged import Write

LOCK_FILE = "gosvc-update.lock"
JOURNAL_FILE = "gosvc-update.json"


class RepositoryLockedError(InvalidInputError):
    """Another gosvc update of the repository is running."""


class InterruptedUpdateError(InvalidInputError):
    """An interrupted update's files were changed since: gosvc cannot tell its writes from someone's work."""


class WriteFailedError(GosvcError):
    """Writing the update into the team's tree failed; every file was put back."""


class UnreadableJournalError(InvalidInputError):
    """A journal is there but cannot be read, so gosvc cannot tell what to put back."""


@dataclass(frozen=True)
class Journal:
    """The state an update started from: enough to put the repository back."""

    commit: str
    target: str | None
    pid: int
    started: str
    writes: tuple[Write, ...]

    @classmethod
    def begin(cls, commit: str, target: str | None, writes: Iterable[Write]) -> Journal:
        return cls(
            commit=commit,
            target=target,
            pid=os.getpid(),
            started=datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
            writes=tuple(writes),
        )


@contextlib.contextmanager
def locked(repo: Path) -> Iterator[None]:
    """Hold the repository's update lock for the block; RepositoryLockedError if another process holds it."""
    path = git.git_dir(repo) / LOCK_FILE
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(descriptor, 32, 0).decode(errors="replace").strip() or "unknown"
            raise RepositoryLockedError(
                f"another gosvc update of {repo} is running (pid {holder}); wait for it to end, then run this again"
            ) from None
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, f"{os.getpid()}\n".encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(descriptor, 0)
            fcntl.flock(descriptor, fcntl.LOCK_UN)
    finally:
        os.close(descriptor)


def is_locked(repo: Path) -> bool:
    """Whether an update of `repo` holds the lock now."""
    path = git.git_dir(repo) / LOCK_FILE
    if not path.exists():
        return False
    descriptor = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(descriptor)
    return False


def write(repo: Path, journal: Journal) -> None:
    """Record `journal` durably: whatever happens next, it is either there whole or not at all."""
    path = git.git_dir(repo) / JOURNAL_FILE
    partial = path.with_name(f".{JOURNAL_FILE}.{os.getpid()}")
    with partial.open("w", encoding="utf-8") as handle:
        json.dump(asdict(journal), handle, indent=2)
        handle.flush()
        os.fsync(handle.fileno())
    partial.replace(path)
    _sync_folder(path.parent)


def read(repo: Path) -> Journal | None:
    """The journal an interrupted update left, or None."""
    path = git.git_dir(repo) / JOURNAL_FILE
    try:
        fields = json.loads(path.read_text(encoding="utf-8"))
        return Journal(
            commit=str(fields["commit"]),
            target=fields["target"],
            pid=int(fields["pid"]),
            started=str(fields["started"]),
            writes=tuple(
                Write(
                    path=str(write["path"]),
                    before=write["before"],
                    after=write["after"],
                    mode=str(write["mode"]),
                    index=tuple(write["index"]),
                )
                for write in fields["writes"]
            ),
        )
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise UnreadableJournalError(
            f"{path} records an interrupted update but cannot be read ({error}); check the repository with "
            "`git status`, put it back with `git reset --hard && git clean -fd` if the changes are not yours, "
            "then delete that file"
        ) from error


def clear(repo: Path) -> None:
    path = git.git_dir(repo) / JOURNAL_FILE
    path.unlink(missing_ok=True)
    _sync_folder(path.parent)


def _sync_folder(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def apply(top: Path, commit: str, target: str | None, planned: list[staged.Write]) -> None:
    """Write `planned` into the team's tree under a journal; on any interruption, put every file back."""
    write(top, Journal.begin(commit, target, planned))
    try:
        staged.apply(top, planned)
        clear(top)
    except BaseException as error:
        with signals.deferred():
            staged.put_back(top, planned, commit)
            clear(top)
        if not isinstance(error, Exception):
            raise
        raise WriteFailedError(
            f"writing the update into {top} failed ({error}); it is back at commit {commit[:12]}, as it was"
        ) from error


def recover(top: Path) -> str | None:
    """Put back the files an update killed while writing them had written; say what was done, or None.

    Only files the journal lists are touched, and only while each holds the update's bytes or the original
    ones: a file changed since is someone's work, and recovery is refused. Call with the lock held.
    """
    staged.discard_scratch(top)
    record = read(top)
    if record is None:
        return None
    head = git.head_or_none(top)
    if head != record.commit:
        clear(top)
        return (
            f"an update interrupted at commit {record.commit[:12]} ({record.started}) left its journal, but the "
            f"repository has moved to another commit since; it was left as it is"
        )
    foreign = staged.foreign_changes(top, record.writes)
    if foreign:
        shown = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
        raise InterruptedUpdateError(
            f"an update killed while writing {top} ({record.started}) left files that were changed since "
            f"({shown}); nothing was put back: keep what is yours (`git diff`), `git checkout` the rest, then "
            f"delete {git.git_dir(top) / JOURNAL_FILE} and run the update again"
        )
    (git.git_dir(top) / "index.lock").unlink(missing_ok=True)  # left by a git command the killed update ran
    with signals.deferred():
        staged.put_back(top, record.writes, record.commit)
        clear(top)
    return (
        f"an update to template {record.target or 'a new version'} was interrupted ({record.started}, pid "
        f"{record.pid}) while writing; the {len(record.writes)} files it was writing in {top} are back as they "
        f"were at commit {record.commit[:12]}"
    )
