"""Updating a generated repository to a newer template version without losing work.

`copier update` does the merge: it renders the version the project was made
from, diffs that against the project to find the team's edits, and replays
them onto the new version. gosvc adds the guarantees around it:

- a dirty repository is refused, and so is a second update while one runs;
- Copier runs in a scratch work tree of the repository's commit, never in the
  team's: an error, Ctrl-C or a kill while it runs leaves the team's files as
  they were. Its result is then written into the team's tree in one short step
  under a journal (see journal and staged): an interrupted write is put back
  at once, or, after SIGKILL, by the next update, file by file and only where
  a file still holds what the update wrote;
- files whose edits `git status` hides (skip-worktree, assume-unchanged) are
  never written: the template's change to them is reported as not applied;
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

import dataclasses
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from generator.merge import index as merge_index
from generator.project import agreements
from generator.project.answers_file import read_answers
from generator.runtime import git, signals
from generator.runtime.errors import InvalidInputError, shown_value
from generator.template import copier_runs
from generator.template.answers import coerce
from generator.template.source import TemplateConfig, load_config, team_owned_matcher
from generator.template.versions import is_up_to_date, parse_version, target_version
from generator.tools import Toolbox
from generator.update import answer_changes, journal, staged, team_shape
from generator.update import plan as plan_of
from generator.update.errors import DirtyRepositoryError, UpdateRefusedError, explain
from generator.update.plan import FieldChange
from generator.update.project import Project, load_project
from generator.update.verify import Verification, disproved, refuse_broken_build, refuse_broken_overlays
from generator.update.verify import verify as verify_merged

ConflictStyle = Literal["inline", "rej"]
FileChange = Literal["added", "removed", "updated", "merged", "conflict"]
CONFLICT_STYLES: tuple[ConflictStyle, ...] = ("inline", "rej")
EXIT_CONFLICTS = 3
"""Exit status of an update that left conflicts to resolve."""
MOVED_LOG_ENV_VAR = "GOSVC_MOVED_LOG"
"""Where hooks/move_file.py notes the files a migration moved, so that their removal is not a conflict."""
EXIT_NOT_APPLIED = 4
"""Exit status of an update that left template changes out (and no conflicts): see UpdateResult.not_applied."""
EXIT_BEHIND = 5
"""Exit status of `gosvc update --check` and `gosvc fleet status` when a repository is behind the template."""
HIDDEN_REASON = "marked skip-worktree or assume-unchanged in your index: your copy is kept as it is"


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
class NotApplied:
    """A template change the update did not make, and why."""

    path: str
    reason: str


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
    not_applied: tuple[NotApplied, ...] = ()
    files: tuple[tuple[str, FileChange], ...] = ()
    """What the update does to each file it changes."""
    planned: bool = False
    """Only planned (`--plan`): nothing was written."""
    objects: tuple[FieldChange, ...] = ()
    """With `--plan`: the fields of the Kubernetes objects that change, per environment."""
    hand_edited: tuple[str, ...] = ()
    """Answers edited by hand in the answers file since the last update, rendered by this one."""
    verification: Verification | None = None
    """With `--verify`: the checks run on the merged repository, and those the update broke."""
    merged: tuple[tuple[str, str], ...] = ()
    """(path, how) for each file a line merge left conflicted and a merge that knows its structure settled."""
    kept_removed: tuple[str, ...] = ()
    """Files the team deleted that the template still renders, unchanged by this update: they stay deleted."""
    team_owned: tuple[str, ...] = ()
    """With `--plan`: team-owned files whose render the template changes, left as the team has them."""

    @property
    def status(self) -> Literal["updated", "up to date", "conflicts", "not applied", "checks broken"]:
        if self.conflicts:
            return "conflicts"
        if self.verification is not None and self.verification.broken:
            return "checks broken"
        if self.not_applied:
            return "not applied"
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
            "not_applied": [{"path": item.path, "reason": item.reason} for item in self.not_applied],
            "planned": self.planned,
            "files": [{"path": path, "change": change} for path, change in self.files],
            "objects": [change.as_json() for change in self.objects],
            "hand_edited": list(self.hand_edited),
            "verification": None if self.verification is None else self.verification.as_json(),
            "merged": [{"path": path, "how": how} for path, how in self.merged],
            "kept_removed": list(self.kept_removed),
            "team_owned": list(self.team_owned),
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
    plan: bool = False,
    verify: bool = False,
) -> UpdateResult:
    """Update the repository at `dest` to the newest template version (or `vcs_ref`); with `verify`, then run the
    checks its changes concern (see verify).

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
        if plan and journal.read(top) is not None:
            raise InvalidInputError(
                f"an interrupted update of {top} left its journal: run `gosvc update` to put it back, then plan"
            )
        recovered = journal.recover(top)
        if recovered is not None:
            project = load_project(dest)
        _refuse_dirty(top)
        commit = git.head(top)
        target = target_version(project.source, vcs_ref)
        if vcs_ref is not None:
            _refuse_downgrade(project, target)
        config = load_config(project.source, vcs_ref)
        answers = coerce(config.questions, data) if data else {}
        project, answers, written = answer_changes.as_answer_changes(project, answers, commit)
        if not answers and is_up_to_date(project.version, target):
            return _result(project, project.answers, changed=(), conflicts=(), recovered=recovered)
        answer_changes.refuse_stale_team_files(project, answers, config)
        hidden = git.hidden_paths(top)
        with staged.scratch_tree(top, commit) as scratch:
            try:
                work = load_project(scratch / project.path.relative_to(top))
                merge = _update_in(scratch, work, commit, answers, config, vcs_ref, conflict, quiet, written, verify)
                new_answers = read_answers(work.path)
                rendered = Project(project.path, written.answers) if written is not None else project
                objects, owned = plan_of.planned(project, rendered, work.path, config) if plan else ([], ())
            except BaseException as error:
                if not isinstance(error, Exception):  # Ctrl-C, SIGTERM and the like: nothing was written, stop
                    raise
                raise explain(error, project.path, commit, answers_changed=bool(answers)) from error
        not_applied = merge.not_applied + tuple(
            NotApplied(write.path, HIDDEN_REASON) for write in merge.writes if write.path in hidden
        )
        planned = [write for write in merge.writes if write.path not in hidden]
        conflicts = tuple(conflict for conflict in merge.conflicts if conflict.path not in hidden)
        settled = [item for item in merge.settled if item.path not in hidden]
        if not plan:
            journal.apply(top, commit, target, planned)
        verified = None
        if verify and not plan and not conflicts and planned:
            verified = verify_merged(top, project.path, commit, [write.path for write in planned])
        conflicted = {conflict.path for conflict in conflicts}
        return dataclasses.replace(
            _result(
                project,
                new_answers,
                changed=tuple(write.path for write in planned),
                conflicts=conflicts,
                recovered=recovered,
                not_applied=not_applied,
            ),
            files=tuple((write.path, _change(write, conflicted, settled)) for write in planned),
            planned=plan,
            objects=tuple(objects),
            hand_edited=tuple(sorted(set(answers) - set(data or {}))),
            verification=verified,
            merged=tuple((item.path, item.how) for item in settled),
            kept_removed=merge.kept_removed,
            team_owned=owned,
        )


@dataclass(frozen=True)
class _Merge:
    """What the update did in the scratch tree, to write into the team's."""

    writes: list[staged.Write]
    conflicts: tuple[Conflict, ...]
    not_applied: tuple[NotApplied, ...]
    settled: list[merge_index.Settled]
    kept_removed: tuple[str, ...]


def _change(write: staged.Write, conflicted: set[str], settled: list[merge_index.Settled]) -> FileChange:
    if write.path in conflicted:
        return "conflict"
    if any(item.path == write.path for item in settled):
        return "merged"
    if write.before is None:
        return "added"
    return "removed" if write.after is None else "updated"


def _update_in(
    scratch: Path,
    work: Project,
    commit: str,
    answers: Mapping[str, Any],
    config: TemplateConfig,
    vcs_ref: str | None,
    conflict: ConflictStyle,
    quiet: bool,
    written: answer_changes.Written | None,
    verify: bool,
) -> _Merge:
    """Update the scratch tree's project `work`; return the writes that make the team's tree the same. `written`:
    the answers file as the last update wrote it, to put back when answers were edited by hand since. Conflicts
    a merge that knows the file's structure settles are kept settled when the overlays (and with `verify` the
    checks that read them) find nothing wrong with them."""
    toolbox = Toolbox.default()
    team_owned = team_owned_matcher(config.team_owned)
    prefix = git.run(work.path, "rev-parse", "--show-prefix").strip()
    built_before = agreements.kustomization_problems(work.path, toolbox)
    paths_before = git.tree_paths(scratch)
    rendered = Project(work.path, written.answers) if written is not None else work
    with copier_runs.LazyRender(rendered.source, rendered.version, rendered.public_answers) as previous:
        if written is not None:
            answer_changes.put_back(work.path, written)
        shape = team_shape.TeamShape(renamed={}, deleted=())
        if team_shape.may_have_moved(scratch, prefix):
            shape = team_shape.team_shape(scratch, prefix, commit, previous.path(), team_owned)
            team_shape.into_template_shape(scratch, prefix, shape, previous.path())
        with staged.committed_as(scratch, commit):
            moved = copier_runs.update_in_place(
                work.path,
                answers,
                vcs_ref=vcs_ref,
                conflict=conflict,
                quiet=quiet,
                moved_log_variable=MOVED_LOG_ENV_VAR,
            )
        back = team_shape.back_to_team_shape(scratch, prefix, shape, previous, commit)
        kept = _keep_team_work(scratch, work, commit, moved, team_owned, previous)
        for source, renamed in back.renamed_away:
            base = git.write_blob(scratch, (previous.path() / source).read_bytes())
            git.mark_deleted_by_them(scratch, prefix + renamed, base)
        kept += tuple(Conflict(path=prefix + renamed, deleted_by_template=True) for _, renamed in back.renamed_away)
    conflicts = _settle_conflicts(scratch, paths_before, {conflict.path for conflict in kept}) + kept
    merged = [conflict.path for conflict in conflicts if conflict.rej is None and not conflict.deleted_by_template]
    settled = merge_index.settle(scratch, merged, toolbox)
    wrong = disproved(scratch, work.path, commit, [item.path for item in settled], built_before, toolbox, verify)
    merge_index.unsettle(scratch, [item for item in settled if item.path in wrong])
    settled = [item for item in settled if item.path not in wrong]
    conflicts = tuple(conflict for conflict in conflicts if all(conflict.path != item.path for item in settled))
    refuse_broken_overlays(work.path, built_before, [conflict.path for conflict in conflicts], toolbox)
    if answers and not conflicts:  # a conflicted file does not build until it is resolved
        refuse_broken_build(scratch, work.path, commit, toolbox)
    not_applied = tuple(NotApplied(prefix + path, team_shape.DELETED_REASON) for path in back.deleted_changed)
    kept_removed = tuple(prefix + path for path in back.deleted_kept)
    return _Merge(staged.writes(scratch, commit), conflicts, not_applied, settled, kept_removed)


def _refuse_dirty(top: Path) -> None:
    dirty = git.dirty_paths(top)
    if dirty:
        shown = ", ".join(dirty[:5]) + (f" and {len(dirty) - 5} more" if len(dirty) > 5 else "")
        raise DirtyRepositoryError(
            f"{top} has uncommitted changes ({shown}); commit or stash them first, "
            "so the update's changes stay separate from yours (nothing was changed)"
        )


def _keep_team_work(
    top: Path,
    project: Project,
    commit: str,
    moved: frozenset[str],
    team_owned: Callable[[str], bool],
    rendered: copier_runs.LazyRender,
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
    previous = rendered.path()
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


def _result(
    project: Project,
    answers: Mapping[str, Any],
    *,
    changed: tuple[str, ...],
    conflicts: tuple[Conflict, ...],
    recovered: str | None,
    not_applied: tuple[NotApplied, ...] = (),
) -> UpdateResult:
    return UpdateResult(
        project=project.path,
        service_name=project.service_name,
        from_version=project.version,
        to_version=str(answers.get("_commit")) if answers.get("_commit") else None,
        changed=changed,
        conflicts=conflicts,
        recovered=recovered,
        not_applied=not_applied,
    )
