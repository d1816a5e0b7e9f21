"""The few git operations gosvc needs: a new repository's first commit, and for updates: is it clean, what changed,
put it back."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterable, Sequence
from pathlib import Path

from generator.runtime.errors import GosvcError, InvalidInputError

# The labels Copier writes around the two sides of a conflict it leaves inline.
LITERAL_PATHS = {"GIT_LITERAL_PATHSPECS": "1"}
"""Paths given to git are names, never patterns."""
CONFLICT_START = "<<<<<<< before updating"
CONFLICT_END = ">>>>>>> after updating"


class GitError(GosvcError):
    """A git command failed."""


class DubiousOwnershipError(InvalidInputError):
    """git refuses a repository that belongs to another user (its `safe.directory` check)."""

    def __init__(self, repo: Path | str) -> None:
        super().__init__(
            f"git refuses to work in {repo}: it belongs to another user than the one running gosvc; "
            f"if you trust it, run `git config --global --add safe.directory {repo}` and try again"
        )


def run(repo: Path, *args: str, stdin: str | None = None, env: dict[str, str] | None = None) -> str:
    """Run git in `repo`; return its standard output, raise GitError on failure."""
    result = subprocess.run(
        ["git", *args],
        cwd=repo,
        input=stdin,
        capture_output=True,
        text=True,
        errors="surrogateescape",
        check=False,
        env={**os.environ, "GIT_OPTIONAL_LOCKS": "0", "LC_ALL": "C", **(env or {})},
    )
    if result.returncode != 0:
        refuse_dubious_ownership(result.stderr)
        raise GitError(f"git {args[0]} failed in {repo}: {_reason(result.stderr) or f'exit {result.returncode}'}")
    return result.stdout


def refuse_dubious_ownership(stderr: str) -> None:
    """Raise DubiousOwnershipError when git's output says it refused a repository owned by someone else."""
    marker = "detected dubious ownership in repository at '"
    if marker in stderr:
        repo = stderr.split(marker, 1)[1].split("'", 1)[0]
        raise DubiousOwnershipError(repo.removesuffix("/.git"))


def _reason(stderr: str) -> str:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    for line in lines:
        if line.startswith(("fatal: ", "error: ")):
            return line.split(": ", 1)[1]
    return lines[-1] if lines else ""


FALLBACK_IDENTITY = {"GIT_AUTHOR_NAME": "gosvc", "GIT_AUTHOR_EMAIL": "gosvc@localhost"}
"""Who makes a new repository's first commit when git knows no user on this machine."""


def enclosing_work_tree(folder: Path) -> Path | None:
    """The root of the git work tree `folder` lies in, or None when it lies in none."""
    try:
        return Path(run(folder, "rev-parse", "--show-toplevel").strip())
    except DubiousOwnershipError:
        raise
    except GitError:
        return None


def first_commit(repo: Path, message: str) -> tuple[str, bool]:
    """Make `repo` a git repository on branch main holding every file in one commit: (the commit, whether it was
    made under FALLBACK_IDENTITY because git knows no user here). The user's hooks do not run: the files are
    what gosvc generated, and a hook that fails or asks must not leave half a repository."""
    run(repo, "init", "--quiet", "--initial-branch=main")
    return commit_all(repo, message)


def commit_all(repo: Path, message: str) -> tuple[str, bool]:
    """Commit every file of `repo`'s work tree, hooks skipped: (the commit, whether it was made under
    FALLBACK_IDENTITY because git knows no user here)."""
    run(repo, "add", "--all")
    fallback = not _knows_user(repo)
    identity = FALLBACK_IDENTITY if fallback else {}
    environment = {**identity, **{key.replace("AUTHOR", "COMMITTER"): value for key, value in identity.items()}}
    run(repo, "commit", "--quiet", "--no-verify", "--allow-empty", "--message", message, env=environment)
    return run(repo, "rev-parse", "HEAD").strip(), fallback


def _knows_user(repo: Path) -> bool:
    if os.environ.get("GIT_AUTHOR_EMAIL") and os.environ.get("GIT_COMMITTER_EMAIL"):
        return True
    try:
        return bool(run(repo, "config", "user.name").strip() and run(repo, "config", "user.email").strip())
    except GitError:
        return False


def toplevel(path: Path) -> Path:
    """The root of the git work tree holding `path`."""
    if not path.is_dir():
        raise InvalidInputError(f"{path} is not a folder")
    try:
        return Path(run(path, "rev-parse", "--show-toplevel").strip())
    except GitError as error:
        raise InvalidInputError(
            f"{path} is not inside a git repository; gosvc updates only git-tracked projects"
        ) from error


def git_dir(repo: Path) -> Path:
    """The git folder of the work tree at `repo` (its own one for a linked work tree)."""
    return Path(run(repo, "rev-parse", "--absolute-git-dir").strip())


def head_or_none(repo: Path) -> str | None:
    try:
        return run(repo, "rev-parse", "--verify", "--quiet", "HEAD^{commit}").strip() or None
    except GitError:
        return None


def head(repo: Path) -> str:
    """The commit checked out, which must exist."""
    try:
        return run(repo, "rev-parse", "--verify", "--quiet", "HEAD^{commit}").strip()
    except GitError as error:
        raise InvalidInputError(f"{repo} has no commit yet; commit the generated files first") from error


def status_entries(repo: Path) -> list[tuple[str, str]]:
    """(two-letter status, path) of every changed, staged, unmerged or untracked path, as `git status` shows them."""
    entries = iter(run(repo, "status", "--porcelain=v1", "-z", "--untracked-files=all").split("\0"))
    result: list[tuple[str, str]] = []
    for entry in entries:
        if entry:
            result.append((entry[:2], entry[3:]))
            if entry[0] in "RC":  # a rename or copy: its source path follows
                next(entries, None)
    return result


def dirty_paths(repo: Path) -> list[str]:
    """What keeps `repo` from being clean (ignored files aside)."""
    return [path for _, path in status_entries(repo)]


def is_dirty(repo: Path) -> bool:
    return bool(dirty_paths(repo))


def untracked_and_ignored(repo: Path) -> list[str]:
    """Files git does not track, ignored ones included."""
    listed = run(repo, "ls-files", "-z", "--others", "--exclude-standard")
    ignored = run(repo, "ls-files", "-z", "--others", "--ignored", "--exclude-standard")
    return sorted({*filter(None, listed.split("\0")), *filter(None, ignored.split("\0"))})


def unmerged_paths(repo: Path) -> list[str]:
    """Paths the index holds as unmerged (conflict stages), as `git status` shows them."""
    listed = run(repo, "ls-files", "-z", "--unmerged")
    return sorted({entry.split("\t", 1)[1] for entry in listed.split("\0") if "\t" in entry})


def has_conflict_markers(path: Path) -> bool:
    """Whether a file holds a conflict that Copier (or a migration) left inline."""
    try:
        with path.open("rb") as handle:
            lines = {line.rstrip() for line in handle}
    except OSError:
        return False
    return CONFLICT_START.encode() in lines and CONFLICT_END.encode() in lines


def mark_unmerged(repo: Path, paths: Iterable[str]) -> None:
    """Record `paths` as unmerged so `git status` lists them until `git add` resolves them.

    Stage 1 and 2 hold the committed file (what the team had), stage 3 the file as
    the update left it; a file new to the project gets stages 2 and 3 only.
    """
    lines: list[str] = []
    for path in paths:
        working = repo / path
        if not working.is_file():
            continue
        mode = "100755" if os.access(working, os.X_OK) else "100644"
        theirs = run(repo, "hash-object", "-w", "--", path).strip()
        ours = _blob_at_head(repo, path)
        lines.append(f"0 {'0' * 40}\t{path}")
        if ours is not None:
            lines.append(f"{mode} {ours} 1\t{path}")
        lines.append(f"{mode} {ours or theirs} 2\t{path}")
        lines.append(f"{mode} {theirs} 3\t{path}")
    if lines:
        run(repo, "update-index", "--index-info", stdin="\n".join(lines) + "\n")


def _blob_at_head(repo: Path, path: str) -> str | None:
    try:
        return run(repo, "rev-parse", "--verify", "--quiet", f"HEAD:{path}").strip() or None
    except GitError:
        return None


def tracked_blobs(repo: Path, commit: str = "HEAD") -> dict[str, str]:
    """Path -> blob id of every file in `commit`."""
    listed = run(repo, "ls-tree", "-r", "-z", "--full-tree", commit)
    blobs: dict[str, str] = {}
    for entry in filter(None, listed.split("\0")):
        meta, path = entry.split("\t", 1)
        kind, blob = meta.split()[1:3]
        if kind == "blob":
            blobs[path] = blob
    return blobs


def tracked_modes(repo: Path, commit: str = "HEAD") -> dict[str, str]:
    """Path -> mode (100644, 100755, 120000) of every file in `commit`."""
    listed = run(repo, "ls-tree", "-r", "-z", "--full-tree", commit)
    return {entry.split("\t", 1)[1]: entry.split()[0] for entry in filter(None, listed.split("\0"))}


def hidden_paths(repo: Path) -> frozenset[str]:
    """Tracked files whose edits `git status` hides: marked skip-worktree or assume-unchanged in the index."""
    listed = run(repo, "ls-files", "-v", "-z")
    return frozenset(entry[2:] for entry in filter(None, listed.split("\0")) if entry[0] == "S" or entry[0].islower())


def changed_paths(repo: Path) -> list[str]:
    """Every path whose file or index entry differs from HEAD, untracked files included, ignored ones not."""
    listings = (
        ("diff", "--name-only", "-z", "--no-renames", "HEAD"),
        ("diff", "--name-only", "-z", "--no-renames", "--cached", "HEAD"),
        ("ls-files", "-z", "--others", "--exclude-standard"),
        ("ls-files", "-z", "--unmerged"),
    )
    paths: set[str] = set()
    for listing in listings:
        for entry in filter(None, run(repo, *listing).split("\0")):
            paths.add(entry.split("\t", 1)[1] if "\t" in entry else entry)
    return sorted(paths)


def index_entries(repo: Path, paths: Sequence[str]) -> list[str]:
    """`git ls-files --stage` lines of `paths`, conflict stages included."""
    if not paths:
        return []
    listed = run(repo, "ls-files", "--stage", "-z", "--", *paths, env=LITERAL_PATHS)
    return [entry for entry in listed.split("\0") if entry]


def set_index_entries(repo: Path, paths: Sequence[str], entries: Iterable[str]) -> None:
    """Replace whatever the index holds for `paths` with `entries` (`ls-files --stage` lines; none: untracked)."""
    lines = [f"0 {'0' * 40}\t{path}" for path in paths] + list(entries)
    if lines:
        run(repo, "update-index", "--index-info", stdin="\n".join(lines) + "\n")


def read_blob(repo: Path, blob: str) -> bytes:
    result = subprocess.run(["git", "cat-file", "blob", blob], cwd=repo, capture_output=True, check=False)
    if result.returncode != 0:
        raise GitError(f"git cat-file failed in {repo}: {_reason(result.stderr.decode(errors='replace'))}")
    return result.stdout


def blob_id(repo: Path, path: Path) -> str:
    """The id git would give the file at `path` (outside the repository, or inside it)."""
    return run(repo, "hash-object", "--no-filters", "--", str(path)).strip()


def write_blob(repo: Path, content: bytes) -> str:
    result = subprocess.run(
        ["git", "hash-object", "-w", "--stdin"], cwd=repo, input=content, capture_output=True, check=False
    )
    if result.returncode != 0:
        raise GitError(f"git hash-object failed in {repo}: {_reason(result.stderr.decode(errors='replace'))}")
    return result.stdout.decode().strip()


def mark_deleted_by_them(repo: Path, path: str, base_blob: str | None, mode: str = "100644") -> None:
    """Record `path` as a modify/delete conflict: the work tree keeps the team's file, `git status` says
    "deleted by them" until someone resolves it."""
    ours = _blob_at_head(repo, path)
    lines = [f"0 {'0' * 40}\t{path}"]
    if base_blob is not None:
        lines.append(f"{mode} {base_blob} 1\t{path}")
    if ours is not None:
        lines.append(f"{mode} {ours} 2\t{path}")
    run(repo, "update-index", "--index-info", stdin="\n".join(lines) + "\n")


def tree_paths(repo: Path) -> frozenset[str]:
    """Every file, link and folder in the work tree (the .git folder aside), relative to `repo`."""
    paths: set[str] = set()
    for folder, dirs, files in os.walk(repo):
        relative = Path(folder).relative_to(repo)
        if relative == Path():
            dirs[:] = [name for name in dirs if name != ".git"]
        paths.update((relative / name).as_posix() for name in (*dirs, *files))
    return frozenset(paths)
