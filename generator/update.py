"""Updating a generated repository to a newer template version without losing work.

`copier update` does the merge: it renders the version the project was made
from, diffs that against the project to find the team's edits, and replays
them onto the new version. gosvc adds the guarantees around it: a dirty
repository is refused, a failed update puts the repository back exactly as it
was, and every conflict is listed at the end and left unmerged in git, where
`git status` shows it until someone resolves it.

Copier changes the process's working directory while it runs, so run one
update per process at a time (`gosvc fleet` runs each in its own process).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from copier import run_update
from copier.errors import CopierError, TaskError, UserMessageError
from packaging.version import Version

from generator import git
from generator.answers import coerce
from generator.copier_errors import as_gosvc_error
from generator.errors import GosvcError, InvalidInputError
from generator.render import ANSWERS_FILE, read_answers
from generator.template import load_questions, uncommitted_template_changes_allowed

ConflictStyle = Literal["inline", "rej"]
CONFLICT_STYLES: tuple[ConflictStyle, ...] = ("inline", "rej")
EXIT_CONFLICTS = 3
"""Exit status of an update that left conflicts to resolve."""
_RELEASE = re.compile(r"^v?\d+\.\d+")


class DirtyRepositoryError(InvalidInputError):
    """The repository has uncommitted changes, which an update could mix with its own."""


class UpdateRefusedError(InvalidInputError):
    """Copier declined to update (a downgrade, a version it cannot read...); nothing changed."""


class UpdateFailedError(GosvcError):
    """The update broke off; the repository was restored to its last commit."""


@dataclass(frozen=True)
class Conflict:
    """A file the update could not merge on its own."""

    path: str
    """Relative to the repository root; unmerged in git until resolved."""
    rej: str | None = None
    """With --conflict rej: the file holding the hunks that did not apply."""

    @property
    def where(self) -> str:
        return self.rej or "conflict markers"


@dataclass(frozen=True)
class UpdateResult:
    """What `update_project` did."""

    project: Path
    service_name: str | None
    from_version: str | None
    to_version: str | None
    changed: tuple[str, ...]
    conflicts: tuple[Conflict, ...]

    @property
    def status(self) -> Literal["updated", "up to date", "conflicts"]:
        if self.conflicts:
            return "conflicts"
        return "updated" if self.changed else "up to date"


@dataclass(frozen=True)
class Project:
    """A generated repository as its answers file describes it."""

    path: Path
    answers: dict[str, Any]

    @property
    def source(self) -> str:
        return str(self.answers["_src_path"])

    @property
    def version(self) -> str:
        return str(self.answers["_commit"])

    @property
    def service_name(self) -> str | None:
        name = self.answers.get("service_name")
        return None if name is None else str(name)


def load_project(path: Path) -> Project:
    """The generated repository at `path`; bad input if it is not one."""
    path = Path(path).absolute()
    if not (path / ANSWERS_FILE).is_file():
        raise InvalidInputError(f"{path} has no {ANSWERS_FILE}: it was not generated from a template")
    answers = read_answers(path)
    missing = [key for key in ("_src_path", "_commit") if not answers.get(key)]
    if missing:
        raise InvalidInputError(
            f"{path / ANSWERS_FILE} lacks {' and '.join(missing)}: it does not say which template version made it"
        )
    return Project(path=path, answers=answers)


def target_version(source: str, vcs_ref: str | None) -> str | None:
    """The template version an update goes to, when it is a release at all (a branch or commit is not).

    A ref written like a release that the template never tagged is bad input.
    """
    tags = git.version_tags(source)
    if vcs_ref is None:
        return git.newest_version(tags)
    if vcs_ref in tags:
        return vcs_ref
    if _RELEASE.match(vcs_ref):
        known = ", ".join(sorted(tags, key=lambda tag: git.parse_version(tag) or Version("0"))) or "none"
        raise InvalidInputError(f"the template at {source} has no version {vcs_ref} (its versions: {known})")
    return None


def is_up_to_date(version: str, target: str | None) -> bool:
    current, wanted = git.parse_version(version), git.parse_version(target)
    return current is not None and wanted is not None and current >= wanted


def _refuse_downgrade(project: Project, target: str | None) -> None:
    current, wanted = git.parse_version(project.version), git.parse_version(target)
    if current is not None and wanted is not None and wanted < current:
        raise UpdateRefusedError(
            f"{project.path} is at template {project.version}; going back to {target} is a downgrade, "
            "which Copier does not support (nothing was changed)"
        )


def update_project(
    dest: Path,
    data: Mapping[str, Any] | None = None,
    *,
    vcs_ref: str | None = None,
    conflict: ConflictStyle = "inline",
    quiet: bool = False,
) -> UpdateResult:
    """Update the repository at `dest` to the newest template version (or `vcs_ref`).

    Raises DirtyRepositoryError (nothing touched) when the repository has
    uncommitted or untracked files, InvalidInputError for bad answers or
    arguments, and UpdateFailedError after restoring the repository when the
    update breaks off. Conflicts are not errors: they are in the result.
    """
    if conflict not in CONFLICT_STYLES:
        raise InvalidInputError(f"--conflict must be inline or rej (got {conflict!r})")
    project = load_project(dest)
    top = git.toplevel(project.path)
    _refuse_dirty(top)
    commit = git.head(top)
    target = target_version(project.source, vcs_ref)
    if vcs_ref is not None:
        _refuse_downgrade(project, target)
    answers = coerce(load_questions(project.source, vcs_ref), data) if data else {}
    if not answers and is_up_to_date(project.version, target):
        return _result(project, project.answers, changed=(), conflicts=())
    paths_before = git.tree_paths(top)
    try:
        _run_copier(project.path, answers, vcs_ref=vcs_ref, conflict=conflict, quiet=quiet)
        conflicts = _settle_conflicts(top, paths_before)
        changed = tuple(path for _, path in git.status_entries(top))
        return _result(project, read_answers(project.path), changed=changed, conflicts=conflicts)
    except BaseException as error:
        _restore(top, commit, paths_before, error)
        if not isinstance(error, Exception):  # KeyboardInterrupt and the like: restored, now stop
            raise
        raise _explain(error, project.path, commit) from error


def _restore(top: Path, commit: str, paths_before: frozenset[str], cause: BaseException) -> None:
    try:
        git.restore(top, commit, paths_before)
    except (GosvcError, OSError) as error:
        raise UpdateFailedError(
            f"the update broke off ({cause}) and putting {top} back failed ({error}); "
            f"restore it with `git reset --hard {commit[:12]} && git clean -fd` there"
        ) from cause


def _refuse_dirty(top: Path) -> None:
    dirty = git.dirty_paths(top)
    if dirty:
        shown = ", ".join(dirty[:5]) + (f" and {len(dirty) - 5} more" if len(dirty) > 5 else "")
        raise DirtyRepositoryError(
            f"{top} has uncommitted changes ({shown}); commit or stash them first, "
            "so the update's changes stay separate from yours (nothing was changed)"
        )


def _run_copier(
    project: Path, answers: Mapping[str, Any], *, vcs_ref: str | None, conflict: ConflictStyle, quiet: bool
) -> None:
    with uncommitted_template_changes_allowed():
        run_update(
            dst_path=project,
            data=dict(answers),
            defaults=True,
            overwrite=True,
            unsafe=True,
            conflict=conflict,
            vcs_ref=vcs_ref,
            quiet=quiet,
        )


def _settle_conflicts(top: Path, paths_before: frozenset[str]) -> tuple[Conflict, ...]:
    """Every conflict the update left, each one unmerged in git so `git status` shows it."""
    unmerged = set(git.unmerged_paths(top))
    rejects = {
        name.removesuffix(".rej"): name
        for name in git.untracked_and_ignored(top)
        if name.endswith(".rej") and name not in paths_before
    }
    with_markers = {
        path for _, path in git.status_entries(top) if path not in unmerged and git.has_conflict_markers(top / path)
    }
    git.mark_unmerged(top, sorted((set(rejects) | with_markers) - unmerged))
    paths = sorted(unmerged | with_markers | set(rejects))
    return tuple(Conflict(path=path, rej=rejects.get(path)) for path in paths)


def _result(
    project: Project, answers: Mapping[str, Any], *, changed: tuple[str, ...], conflicts: tuple[Conflict, ...]
) -> UpdateResult:
    return UpdateResult(
        project=project.path,
        service_name=project.service_name,
        from_version=project.version,
        to_version=str(answers.get("_commit")) if answers.get("_commit") else None,
        changed=changed,
        conflicts=conflicts,
    )


def _explain(error: Exception, project: Path, commit: str) -> GosvcError:
    restored = f"{project} is back at commit {commit[:12]}, as it was"
    if isinstance(error, TaskError):
        command = error.cmd if isinstance(error.cmd, str) else " ".join(map(str, error.cmd))
        return UpdateFailedError(
            f"a template task or migration failed ({command} exited {error.returncode}); {restored}"
        )
    if isinstance(error, UserMessageError):
        return UpdateRefusedError(f"copier refused the update: {error}; {restored}")
    if isinstance(error, (CopierError, ValueError)):
        converted = as_gosvc_error(error)
        converted.args = (f"{converted}; {restored}",)
        return converted
    if isinstance(error, GosvcError):
        return UpdateFailedError(f"{error}; {restored}")
    return UpdateFailedError(f"the update broke off ({type(error).__name__}: {error}); {restored}")
