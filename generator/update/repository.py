"""Updating a generated repository to a newer template version without losing work.

`copier update` does the merge: it renders the version the project was made
from, diffs that against the project to find the team's edits, and replays
them onto the new version. gosvc adds the guarantees around it:

- a dirty repository is refused, and so is a second update while one runs;
- a failed or interrupted update (an error, Ctrl-C, SIGTERM, SIGHUP) puts the
  repository back exactly as it was; one killed outright leaves a journal, and
  the next update puts the repository back before it starts;
- what Copier would lose is kept: a file the team edited and the template
  deletes stays, as a modify/delete conflict; a team-owned file is never
  deleted, and one the team deleted is never brought back;
- every overlay that built before still builds, and agrees with the base, after;
- every conflict is listed at the end and left unmerged in git, where `git
  status` shows it until someone resolves it.

Copier changes the process's working directory while it runs, so run one
update per process at a time (`gosvc fleet` runs each in its own process).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from generator.project import agreements, kube
from generator.project.answers_file import read_answers
from generator.runtime import git, signals
from generator.runtime.errors import GosvcError, InvalidInputError, shown_value
from generator.template import copier_runs
from generator.template.answers import coerce
from generator.template.copier_errors import as_gosvc_error, failed_task, is_copier_error, refused
from generator.template.source import TemplateConfig, load_config, team_owned_matcher
from generator.template.versions import is_up_to_date, parse_version, target_version
from generator.tools import Toolbox
from generator.update import journal
from generator.update.project import Project, load_project

ConflictStyle = Literal["inline", "rej"]
CONFLICT_STYLES: tuple[ConflictStyle, ...] = ("inline", "rej")
EXIT_CONFLICTS = 3
"""Exit status of an update that left conflicts to resolve."""
MOVED_LOG_ENV_VAR = "GOSVC_MOVED_LOG"
"""Where hooks/move_file.py notes the files a migration moved, so that their removal is not a conflict."""
INTERRUPTED_REF = "refs/gosvc/interrupted-update"


class DirtyRepositoryError(InvalidInputError):
    """The repository has uncommitted changes, which an update could mix with its own."""


class UpdateRefusedError(InvalidInputError):
    """Copier declined to update (a downgrade, a version it cannot read...); nothing changed."""


class UpdateFailedError(GosvcError):
    """The update broke off; the repository was restored to its last commit."""


class OverlaysBrokenError(GosvcError):
    """After the update, a kustomization that built before no longer builds or no longer agrees with the base."""


@dataclass(frozen=True)
class Conflict:
    """A file the update could not merge on its own."""

    path: str
    """Relative to the repository root; unmerged in git until resolved."""
    rej: str | None = None
    """With --conflict rej: the file holding the hunks that did not apply."""
    deleted_by_template: bool = False
    """The template deleted the file and the team had edited it: the team's file is kept."""

    @property
    def where(self) -> str:
        if self.deleted_by_template:
            return "deleted by the template, kept with your edits"
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
    recovered: str | None = None
    """How an interrupted earlier update was undone before this one, if one was."""

    @property
    def status(self) -> Literal["updated", "up to date", "conflicts"]:
        if self.conflicts:
            return "conflicts"
        return "updated" if self.changed else "up to date"

    def as_json(self) -> dict[str, Any]:
        """`gosvc update --json`, which `gosvc fleet update` reads back (without the seconds the command adds)."""
        return {
            "project": str(self.project),
            "service_name": self.service_name,
            "status": self.status,
            "from": self.from_version,
            "to": self.to_version,
            "changed": list(self.changed),
            "conflicts": [
                {"path": conflict.path, "rej": conflict.rej, "deleted_by_template": conflict.deleted_by_template}
                for conflict in self.conflicts
            ],
            "recovered": self.recovered,
        }


def _refuse_downgrade(project: Project, target: str | None) -> None:
    current, wanted = parse_version(project.version), parse_version(target)
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
    uncommitted or untracked files, RepositoryLockedError while another update
    runs, InvalidInputError for bad answers or arguments, and UpdateFailedError
    after restoring the repository when the update breaks off. Conflicts are
    not errors: they are in the result.
    """
    if conflict not in CONFLICT_STYLES:
        raise InvalidInputError(f"--conflict must be inline or rej (got {shown_value(conflict)})")
    project = load_project(dest)
    top = git.toplevel(project.path)
    with signals.terminations_raise(), journal.locked(top):
        recovered = recover_interrupted(top)
        if recovered is not None:
            project = load_project(dest)
        _refuse_dirty(top)
        commit = git.head(top)
        target = target_version(project.source, vcs_ref)
        if vcs_ref is not None:
            _refuse_downgrade(project, target)
        config = load_config(project.source, vcs_ref)
        answers = coerce(config.questions, data) if data else {}
        if not answers and is_up_to_date(project.version, target):
            return _result(project, project.answers, changed=(), conflicts=(), recovered=recovered)
        _refuse_stale_team_files(project, answers, config)
        toolbox = Toolbox.default()
        built_before = agreements.kustomization_problems(project.path, toolbox)
        paths_before = git.tree_paths(top)
        record = journal.Journal.begin(top, commit, target)
        journal.write(top, record)
        try:
            moved = copier_runs.update_in_place(
                project.path,
                answers,
                vcs_ref=vcs_ref,
                conflict=conflict,
                quiet=quiet,
                moved_log_variable=MOVED_LOG_ENV_VAR,
            )
            kept = _keep_team_work(top, project, commit, moved, team_owned_matcher(config.team_owned))
            conflicts = _settle_conflicts(top, paths_before, {conflict.path for conflict in kept}) + kept
            _verify_kustomizations(project.path, built_before, conflicts, toolbox)
            changed = tuple(path for _, path in git.status_entries(top))
            result = _result(
                project, read_answers(project.path), changed=changed, conflicts=conflicts, recovered=recovered
            )
            journal.clear(top)
            return result
        except BaseException as error:
            with signals.deferred():
                _restore(top, commit, record.branch, paths_before, error)
                journal.clear(top)
            if not isinstance(error, Exception):  # Ctrl-C, SIGTERM and the like: restored, now stop
                raise
            raise _explain(error, project.path, commit, answers_changed=bool(answers)) from error


def recover_interrupted(top: Path) -> str | None:
    """Undo an update a journal says was killed half-way; say what was done, or None when there was none.

    Call with the repository's lock held: then no update of it is running.
    """
    record = journal.read(top)
    if record is None:
        return None
    head = git.head_or_none(top)
    if head != record.commit:
        journal.clear(top)
        return (
            f"an update interrupted at commit {record.commit[:12]} ({record.started}) left its journal, but the "
            f"repository has moved to another commit since; it was left as it is"
        )
    (git.git_dir(top) / "index.lock").unlink(missing_ok=True)  # left by a git command the killed update ran
    saved = git.snapshot(top, INTERRUPTED_REF, f"What an update interrupted at {record.started} had written")
    git.restore(top, record.commit, branch=record.branch, ignored_before=record.ignored)
    journal.clear(top)
    kept = f"; what it had written is kept in {INTERRUPTED_REF}" if saved else ""
    return (
        f"an update to template {record.target or 'a new version'} was interrupted ({record.started}, pid "
        f"{record.pid}); {top} is back at commit {record.commit[:12]} as it was before it{kept}"
    )


def _restore(top: Path, commit: str, branch: str | None, paths_before: frozenset[str], cause: BaseException) -> None:
    try:
        git.restore(top, commit, branch=branch, paths_before=paths_before)
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


def _refuse_stale_team_files(project: Project, answers: Mapping[str, Any], config: TemplateConfig) -> None:
    """Refuse a changed name that files the team owns still use: the update re-renders only the template's."""
    owned = team_owned_matcher(config.team_owned)
    team_files = {
        relative: _without_comment_lines((project.path / relative).read_text(encoding="utf-8", errors="replace"))
        for relative in _project_files(project.path)
        if owned(relative)
    }
    for name, new in answers.items():
        old = project.answers.get(name)
        question = config.questions.get(name)
        if question is None or question.type != "str" or question.choices or not isinstance(old, str):
            continue
        if old == new or len(old) < 3:
            continue
        # Other answers that hold this one (a registry path holding the organization) are not uses of it.
        holders = [
            value
            for key, value in project.answers.items()
            if key != name and isinstance(value, str) and old in value and value != old and key not in answers
        ]
        holding = [
            relative for relative, text in team_files.items() if old in _without(text, sorted(holders, key=len)[::-1])
        ]
        if holding:
            shown = ", ".join(holding[:4]) + (f" and {len(holding) - 4} more" if len(holding) > 4 else "")
            raise UpdateRefusedError(
                f"changing {name} from {shown_value(old)} to {shown_value(new)} re-renders only the template's "
                f"files, but files you own still hold {shown_value(old)} ({shown}); change them in a commit first "
                "(the update keeps them as they are), then run the update again (nothing was changed)"
            )


def _without_comment_lines(text: str) -> str:
    """`text` without its YAML and Go comment lines: prose may say a name ("for example") without using it."""
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith(("#", "//")))


def _without(text: str, parts: list[str]) -> str:
    for part in parts:
        text = text.replace(part, "\0")
    return text


def _project_files(project: Path) -> list[str]:
    listed = git.run(project, "ls-files", "-z", "--full-name", "--", ".")
    prefix = git.run(project, "rev-parse", "--show-prefix").strip()
    return [name.removeprefix(prefix) for name in filter(None, listed.split("\0"))]


def _keep_team_work(
    top: Path, project: Project, commit: str, moved: frozenset[str], team_owned: Callable[[str], bool]
) -> tuple[Conflict, ...]:
    """Undo what Copier did to the team's work; return the modify/delete conflicts this leaves.

    A file deleted by the update comes back: silently when the team owns it, as
    a modify/delete conflict when the team had edited a file the template
    deletes. A file the team had deleted and the update brought back goes again.
    """
    prefix = git.run(project.path, "rev-parse", "--show-prefix").strip()
    committed = {path: blob for path, blob in git.tracked_blobs(top, commit).items() if path.startswith(prefix)}
    deleted = [path for path in committed if not os.path.lexists(top / path) and path[len(prefix) :] not in moved]
    appeared = [path for status, path in git.status_entries(top) if status == "??" and path.startswith(prefix)]
    if not deleted and not appeared:
        return ()
    conflicts: list[Conflict] = []
    with tempfile.TemporaryDirectory(prefix="gosvc-previous-") as scratch:
        previous = copier_runs.render_version(
            project.source, project.version, project.public_answers, Path(scratch) / "previous"
        )
        for path in deleted:
            relative = path[len(prefix) :]
            before = previous / relative
            rendered_before = before.is_file() and not before.is_symlink()
            if not team_owned(relative) and rendered_before and git.blob_id(top, before) == committed[path]:
                continue  # the template deleted a file the team never changed
            git.run(top, "checkout", commit, "--", path)
            if not team_owned(relative):
                base = git.write_blob(top, before.read_bytes()) if rendered_before else None
                git.mark_deleted_by_them(top, path, base)
                conflicts.append(Conflict(path=path, deleted_by_template=True))
        for path in appeared:
            relative = path[len(prefix) :]
            if os.path.lexists(previous / relative) and not (top / path).is_dir():
                (top / path).unlink()  # the template rendered it before, and the team deleted it
    return tuple(conflicts)


def _settle_conflicts(top: Path, paths_before: frozenset[str], settled: set[str]) -> tuple[Conflict, ...]:
    """Every conflict the update left (but those already `settled`), each one unmerged in git."""
    unmerged = set(git.unmerged_paths(top)) - settled
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


def _verify_kustomizations(
    project: Path, before: Mapping[str, frozenset[str]], conflicts: tuple[Conflict, ...], toolbox: Toolbox
) -> None:
    """Every kustomization that built and agreed with the base before the update still does.

    Manifests left with conflicts do not build until someone resolves them; the
    conflicts are reported, and resolving them is when the overlays are checked.
    """
    prefix = git.run(project, "rev-parse", "--show-prefix").strip()
    if any(conflict.path.removeprefix(prefix).startswith(f"{kube.DEPLOY}/") for conflict in conflicts):
        return
    after = agreements.kustomization_problems(project, toolbox)
    for name, problems in after.items():
        earlier = before.get(name, frozenset())
        if any(problem.startswith(agreements.BUILD_FAILED) for problem in earlier):
            continue  # broken before the update: not the update's doing
        new = sorted(problems - earlier)
        if new:
            raise OverlaysBrokenError(f"after the update, {name} {new[0]}")


def _result(
    project: Project,
    answers: Mapping[str, Any],
    *,
    changed: tuple[str, ...],
    conflicts: tuple[Conflict, ...],
    recovered: str | None,
) -> UpdateResult:
    return UpdateResult(
        project=project.path,
        service_name=project.service_name,
        from_version=project.version,
        to_version=str(answers.get("_commit")) if answers.get("_commit") else None,
        changed=changed,
        conflicts=conflicts,
        recovered=recovered,
    )


def _explain(error: Exception, project: Path, commit: str, *, answers_changed: bool) -> GosvcError:
    restored = f"{project} is back at commit {commit[:12]}, as it was"
    if isinstance(error, OverlaysBrokenError):
        advice = (
            "the overlays are yours: make them build with the new answers in a commit, then update again"
            if answers_changed
            else "the overlays are yours: adapt them to the new template version in a commit, then update again"
        )
        kind = UpdateRefusedError if answers_changed else UpdateFailedError
        return kind(f"{error}; {restored}; {advice}")
    if (task := failed_task(error)) is not None:
        return UpdateFailedError(f"a template task or migration failed ({task}); {restored}")
    if (refusal := refused(error)) is not None:
        return UpdateRefusedError(f"copier refused the update: {refusal}; {restored}")
    if is_copier_error(error) or isinstance(error, ValueError):
        converted = as_gosvc_error(error)
        converted.args = (f"{converted}; {restored}",)
        return converted
    if isinstance(error, InvalidInputError):
        error.args = (f"{error}; {restored}",)
        return error
    if isinstance(error, GosvcError):
        return UpdateFailedError(f"{error}; {restored}")
    return UpdateFailedError(f"the update broke off ({type(error).__name__}: {error}); {restored}")
