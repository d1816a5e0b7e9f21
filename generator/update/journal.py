"""What guards a repository while gosvc updates it.

A lock: a second update of the same repository is refused while the first
runs. The lock is an flock on a file in the git folder, so it dies with its
process, even one killed with SIGKILL.

A journal: written before the update touches a file and removed once the
repository is updated or put back. A journal left behind means an update was
killed where nothing could undo it (SIGKILL, a power loss); the next update
finds it and puts the repository back as the journal recorded it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from generator.runtime import git
from generator.runtime.errors import InvalidInputError

LOCK_FILE = "gosvc-update.lock"
JOURNAL_FILE = "gosvc-update.json"


class RepositoryLockedError(InvalidInputError):
    """Another gosvc update of the repository is running."""


class UnreadableJournalError(InvalidInputError):
    """A journal is there but cannot be read, so gosvc cannot tell what to put back."""


@dataclass(frozen=True)
class Journal:
    """The state an update started from: enough to put the repository back."""

    commit: str
    branch: str | None
    ignored: tuple[str, ...]
    target: str | None
    pid: int
    started: str

    @classmethod
    def begin(cls, repo: Path, commit: str, target: str | None) -> Journal:
        return cls(
            commit=commit,
            branch=git.current_branch(repo),
            ignored=tuple(git.ignored_entries(repo)),
            target=target,
            pid=os.getpid(),
            started=datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
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
            branch=fields["branch"],
            ignored=tuple(fields["ignored"]),
            target=fields["target"],
            pid=int(fields["pid"]),
            started=str(fields["started"]),
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
