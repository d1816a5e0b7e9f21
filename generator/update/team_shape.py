"""Files the team renamed or deleted, so that a template change to them lands where the team put it, or is reported.

Copier merges a template change into a file only at the path it rendered it: a change to a file the team renamed
(ci.yml to build.yml, server.go to http_server.go) or deleted is dropped without a word. Before Copier runs, the
scratch tree is put back into the template's shape: a renamed file moves back to its template path (git's rename
detection, between the version the repository was made from, rendered, and the team's commit, finds it), a
deleted one comes back as that version rendered it. Copier then merges each like any other file, conflicts
included. After it, each goes back to the team's shape: the renamed file to the team's path with the template's
change merged in, the deleted one away again; a change the template made to a deleted file is reported as not
applied.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from generator.runtime import git
from generator.template.copier_runs import LazyRender
from generator.template.source import TemplateConfig, team_owned_matcher
from generator.update.project import Project
from generator.update.staged import remove_empty_parents

DELETED_REASON = "you deleted it, and the template changed it: bring it back from the template to take the change"


@dataclass(frozen=True)
class TeamShape:
    """How the team's commit departs from the template's paths, relative to the project folder."""

    renamed: dict[str, str]
    """Template path -> the path the team moved the file to."""
    deleted: tuple[str, ...]
    """Template paths the team deleted (and did not rename)."""

    def __bool__(self) -> bool:
        return bool(self.renamed or self.deleted)


def may_have_moved(top: Path, prefix: str) -> bool:
    """Whether any commit deleted or renamed a file in the project: without one (and with the whole history at
    hand), the team's paths are the template's and nothing needs rendering to know it."""
    if git.run(top, "rev-parse", "--is-shallow-repository").strip() == "true":
        return True
    history = git.run(top, "log", "--format=", "--name-only", "--diff-filter=DR", "HEAD", "--", prefix or ".")
    return bool(history.strip())


def team_shape(top: Path, prefix: str, commit: str, previous: Path, team_owned: Callable[[str], bool]) -> TeamShape:
    """The team's renames and deletions of the files `previous` (the template's render of the repository's
    version, answers file included) holds, by git's rename detection. Team-owned files are the team's to move."""
    tree = _tree_of(top, previous)
    team_tree = f"{commit}:{prefix.rstrip('/')}" if prefix else f"{commit}^{{tree}}"
    listed = git.run(top, "diff-tree", "-r", "-z", "-M", "--name-status", tree, team_tree)
    renamed: dict[str, str] = {}
    deleted: list[str] = []
    for status, paths in _entries(listed):
        source = paths[0]
        if team_owned(source) or os.path.lexists(top / prefix / source):
            continue  # the team's own file, or one its .gitignore keeps out of commits but the tree holds
        if status.startswith("R"):
            renamed[source] = paths[1]
        elif status == "D":
            deleted.append(source)
    return TeamShape(renamed=renamed, deleted=tuple(deleted))


def into_template_shape(top: Path, prefix: str, shape: TeamShape, previous: Path) -> None:
    """In the scratch tree `top` (the project at `prefix`): each renamed file back at its template path, each
    deleted one as `previous` rendered it, in the index (see staged.committed_as)."""
    if not shape:
        return
    for source, renamed in shape.renamed.items():
        _move(top, prefix + renamed, prefix + source)
    for source in shape.deleted:
        (top / prefix / source).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(previous / source, top / prefix / source, follow_symlinks=False)
    if shape.deleted:
        git.run(top, "add", "--force", "--", *(prefix + source for source in shape.deleted), env=git.LITERAL_PATHS)


@dataclass(frozen=True)
class Outcome:
    """What going back to the team's shape found."""

    deleted_changed: tuple[str, ...]
    """Deleted files the template changed: the change is not applied."""
    deleted_kept: tuple[str, ...]
    """Deleted files the template still renders as before: they stay deleted, as nothing changed in them."""
    renamed_away: tuple[tuple[str, str], ...]
    """(template path, team path) of renamed files the template deleted: the team's file is kept."""


def back_to_team_shape(top: Path, prefix: str, shape: TeamShape, previous: LazyRender, commit: str) -> Outcome:
    """After Copier: each renamed file, merged, at the team's path with its index entries (conflict stages
    included), each deleted one gone again (compared with `previous` first, rendered only if there is one)."""
    if not shape:
        return Outcome(deleted_changed=(), deleted_kept=(), renamed_away=())
    renamed_away: list[tuple[str, str]] = []
    for source, renamed in shape.renamed.items():
        if os.path.lexists(top / prefix / source):
            _move(top, prefix + source, prefix + renamed)
            rejected = top / prefix / f"{source}.rej"
            if rejected.exists():
                rejected.replace(top / prefix / f"{renamed}.rej")
        else:  # the template deleted it: the team's file stays as it was
            git.set_index_entries(top, [prefix + source], [])
            git.run(top, "checkout", commit, "--", prefix + renamed, env=git.LITERAL_PATHS)
            renamed_away.append((source, renamed))
        remove_empty_parents(top, (top / prefix / source).parent)
    changed: list[str] = []
    kept: list[str] = []
    for source in shape.deleted:
        file = top / prefix / source
        if os.path.lexists(file):
            (kept if _same(file, previous.path() / source) else changed).append(source)
            file.unlink()
            remove_empty_parents(top, file.parent)
    git.set_index_entries(top, [prefix + source for source in shape.deleted], [])
    return Outcome(deleted_changed=tuple(changed), deleted_kept=tuple(kept), renamed_away=tuple(renamed_away))


def _move(top: Path, source: str, target: str) -> None:
    """Move a file and its index entries, conflict stages included (which `git mv` refuses)."""
    entries = git.index_entries(top, [source])
    (top / target).parent.mkdir(parents=True, exist_ok=True)
    (top / source).replace(top / target)
    git.set_index_entries(top, [source, target], [entry.replace(f"\t{source}", f"\t{target}") for entry in entries])
    remove_empty_parents(top, (top / source).parent)


def _tree_of(top: Path, folder: Path) -> str:
    """A git tree of `folder`'s files (its .gitignore applied), written to `top`'s objects."""
    with tempfile.TemporaryDirectory(prefix="gosvc-index-") as scratch:
        index = {"GIT_INDEX_FILE": str(Path(scratch) / "index")}
        where = (f"--git-dir={git.git_dir(top)}", f"--work-tree={folder}")
        git.run(folder, *where, "add", "--all", env=index)
        return git.run(folder, *where, "write-tree", env=index).strip()


def _entries(listed: str) -> Iterator[tuple[str, list[str]]]:
    fields = iter(listed.split("\0"))
    for status in fields:
        if not status:
            continue
        count = 2 if status[0] in "RC" else 1
        yield status, [next(fields) for _ in range(count)]


def _same(first: Path, second: Path) -> bool:
    if first.is_symlink() or second.is_symlink():
        return first.is_symlink() and second.is_symlink() and first.readlink() == second.readlink()
    return second.is_file() and first.read_bytes() == second.read_bytes()


TEAM_OWNED_REASON = "team-owned: the template changed it, and your copy is kept as it is; take what you want of it"


def team_owned_changes(before: Project, after: Project, team: Path, config: TemplateConfig) -> tuple[str, ...]:
    """The team-owned files (relative to the project) whose render differs between `before`'s template version and
    answers and `after`'s, and whose copy in the team's project folder `team` is not the new render: what an
    update leaves as the team has it, by design, and a plan lists."""
    team_owned = team_owned_matcher(config.team_owned)
    with (
        LazyRender(before.source, before.version, before.public_answers) as old,
        LazyRender(after.source, after.version, after.public_answers) as new,
    ):
        paths = {
            path.relative_to(render.path()).as_posix()
            for render in (old, new)
            for path in render.path().rglob("*")
            if path.is_file() or path.is_symlink()
        }
        return tuple(
            path
            for path in sorted(paths)
            if team_owned(path)
            and not _same(old.path() / path, new.path() / path)
            and not _same(team / path, new.path() / path)
        )
