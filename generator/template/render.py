"""Rendering a new service repository from the template."""

from __future__ import annotations

import contextlib
import fcntl
import math
import os
import re
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from copier import run_copy
from copier.errors import CopierError

from generator.project.answers_file import ANSWERS_FILE, read_answers
from generator.runtime import git
from generator.runtime.errors import GosvcError, InvalidInputError
from generator.template.answers import coerce
from generator.template.copier_errors import as_gosvc_error
from generator.template.preset import load_preset, with_preset
from generator.template.source import (
    canonical_source,
    check_published,
    check_renderable,
    copier_rendering,
    default_source,
    load_questions,
    local_path,
)

STAGING_PREFIX = ".gosvc-new-"
"""Name prefix of the folder a repository is rendered in before it moves into place."""


@dataclass(frozen=True)
class NewProject:
    """What `new_project` made."""

    dest: Path
    answers: dict[str, Any]
    commit: str | None = None
    """The repository's first commit; None when it has no git repository of its own (see `within`)."""
    committed_as_gosvc: bool = False
    """git knows no user on this machine: the first commit is gosvc's (git.FALLBACK_IDENTITY)."""
    within: Path | None = None
    """The git work tree DEST was made in (a monorepo), which gosvc leaves to its owner to commit to."""

    @property
    def template_commit(self) -> str | None:
        return self.answers.get("_commit")

    def as_json(self) -> dict[str, Any]:
        """`gosvc new --json` (without the seconds the command adds): the answers without Copier's own."""
        return {
            "dest": str(self.dest),
            "template": self.answers.get("_src_path"),
            "commit": self.template_commit,
            "first_commit": self.commit,
            "inside_repository": str(self.within) if self.within else None,
            "answers": {key: value for key, value in self.answers.items() if not key.startswith("_")},
        }


def new_project(
    dest: Path,
    data: Mapping[str, Any],
    *,
    defaults: bool = False,
    template: str | None = None,
    vcs_ref: str | None = None,
    quiet: bool = False,
    preset: Path | None = None,
    git_repository: bool = True,
    throwaway: bool = False,
) -> NewProject:
    """Render the template into `dest`, which must not exist or be empty.

    The repository is rendered into a staging folder and moved into place only
    when everything succeeded, so a failure leaves `dest` exactly as it was. An
    existing empty `dest` (the current folder, a mount point) is filled in place:
    it keeps its inode, owner and mode.

    The answers file records the template by a location any clone can update from (`canonical_source`). With
    `git_repository`, `dest` becomes a git repository holding the generated files in a first commit, which every
    update starts from; unless it lies inside another git work tree, whose owner commits it there. A `throwaway`
    repository (one `gosvc matrix` checks and deletes) is never updated: it records the source as given, may come
    from a template version no remote has yet (a maintainer's unpushed work), and gets no git repository.
    """
    dest = absolute(dest)
    source = template or default_source()
    check_renderable(source, vcs_ref)
    recorded = source if throwaway else canonical_source(source)
    with _writing(dest.parent):
        _refuse_inside_template(dest, source)
    git_repository = git_repository and not throwaway
    within = git.enclosing_work_tree(_existing_ancestor(dest)) if git_repository else None
    questions = load_questions(source, vcs_ref)
    answers = coerce(questions, data)
    offered: dict[str, Any] = {"service_name": dest.name}
    if preset is not None:  # locked answers are answers; the preset's other answers are the defaults offered
        answers, preset_defaults = with_preset(load_preset(preset, questions), answers)
        offered |= preset_defaults
    with _staging(dest) as staging:
        try:
            with copier_rendering():
                run_copy(
                    src_path=source,
                    dst_path=staging,
                    data=answers,
                    user_defaults=offered,
                    defaults=defaults,
                    vcs_ref=vcs_ref,
                    quiet=quiet,
                    unsafe=True,
                    cleanup_on_error=False,
                )
        except (CopierError, ValueError) as error:
            raise as_gosvc_error(error) from error
        if not throwaway:
            check_published(source, str(read_answers(staging).get("_commit", "")))
            _record_source(staging, recorded)
        first = None
        if git_repository and within is None:
            first = git.first_commit(staging, f"Generate {dest.name} from the gosvc template")
    commit, as_gosvc = first or (None, False)
    return NewProject(dest, read_answers(dest), commit, as_gosvc, within)


def _record_source(repo: Path, recorded: str) -> None:
    """Write `recorded` as the template source of the answers file Copier wrote in `repo`."""
    if read_answers(repo).get("_src_path") == recorded:
        return
    answers = repo / ANSWERS_FILE
    text = answers.read_text(encoding="utf-8")
    line = yaml.safe_dump({"_src_path": recorded}, width=math.inf).strip()
    rewritten, count = re.subn(r"^_src_path: .*$", lambda _: line, text, count=1, flags=re.M)
    if count != 1:
        raise GosvcError(f"the answers file Copier wrote has no _src_path line:\n{text}")
    answers.write_text(rewritten, encoding="utf-8")


def absolute(path: Path) -> Path:
    """`path` made absolute, with `..` resolved but a symlinked last element kept as it is."""
    text = str(path)
    if "\0" in text:
        raise InvalidInputError(f"the path {text!r} holds a NUL byte")
    return Path(os.path.abspath(text))  # noqa: PTH100 - normalises ".." without resolving a symlinked DEST


def _refuse_inside_template(dest: Path, source: str) -> None:
    folder = local_path(source)
    if folder is None:
        return
    template_root = folder.resolve()
    if dest.resolve() == template_root or dest.resolve().is_relative_to(template_root):
        raise InvalidInputError(
            f"{dest} is inside the template at {template_root}: generate services outside of the template's folder"
        )


@contextlib.contextmanager
def _staging(dest: Path) -> Iterator[Path]:
    """A folder to render into, whose entries move into `dest` when the block succeeds; removed in every case.

    `dest` is locked (an flock on the folder itself) while anything is written into it, so two `gosvc new`
    into one folder never mix their files: the second is refused. A `dest` that does not exist yet is
    created only once the repository is rendered, by whichever run gets there first.
    """
    with _writing(dest.parent):
        if dest.is_symlink() or (dest.exists() and not dest.is_dir()):
            raise InvalidInputError(f"{dest} exists and is not a folder")
        is_folder = dest.is_dir()
    if is_folder:
        with _locked(dest), _filled_in_place(dest) as staging:
            yield staging
        return
    ancestor = _existing_ancestor(dest)
    with _writing(ancestor):
        staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=ancestor))
    try:
        yield staging
        created = _make_parents(dest)
        try:
            with _writing(dest.parent):
                try:
                    dest.mkdir()
                except FileExistsError:
                    raise InvalidInputError(
                        f"{dest} was created by someone else while gosvc new ran; nothing was written into it"
                    ) from None
            created.append(dest)
            with _locked(dest):
                _move_entries(staging, dest)
        except BaseException:
            _remove_empty(created)
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


@contextlib.contextmanager
def _locked(dest: Path) -> Iterator[None]:
    """Hold an exclusive lock on the folder `dest` for the block; refuse when another `gosvc new` holds it."""
    with _writing(dest):
        descriptor = os.open(dest, os.O_RDONLY | os.O_DIRECTORY)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise InvalidInputError(
                f"another gosvc new is writing into {dest}; wait for it to end (nothing was written)"
            ) from None
        yield
    finally:
        os.close(descriptor)


@contextlib.contextmanager
def _filled_in_place(dest: Path) -> Iterator[Path]:
    """Render inside the empty folder `dest` itself, then move each entry up a level. Hold `_locked(dest)`."""
    for leftover in dest.glob(f"{STAGING_PREFIX}*"):  # a killed `gosvc new` left it: a running one holds the lock
        shutil.rmtree(leftover, ignore_errors=True)
    with _writing(dest):
        entries = list(dest.iterdir())
    if entries:
        raise InvalidInputError(f"{dest} exists and is not empty; gosvc new only writes into a new or empty folder")
    with _writing(dest):
        staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=dest))
    try:
        yield staging
        _move_entries(staging, dest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _move_entries(staging: Path, dest: Path) -> None:
    """Move every entry of `staging` into `dest` (one file system: each move is a rename); on failure, every
    entry moved is taken out again."""
    moved: list[Path] = []
    try:
        with _writing(dest):
            for entry in sorted(staging.iterdir()):
                entry.replace(dest / entry.name)
                moved.append(dest / entry.name)
    except BaseException:
        for path in moved:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def _writing(folder: Path) -> Iterator[None]:
    """File system errors while writing in `folder` as one-line input errors."""
    try:
        yield
    except OSError as error:
        where = Path(error.filename) if error.filename else folder
        raise InvalidInputError(f"cannot write in {where}: {error.strerror or error}") from error


def _existing_ancestor(path: Path) -> Path:
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise InvalidInputError(f"cannot create {path}: {parent} is a file, not a folder")
            return parent
    raise InvalidInputError(f"no existing folder above {path}")


def _make_parents(dest: Path) -> list[Path]:
    """Create the missing folders above `dest`, outermost first; return the ones created."""
    missing = [parent for parent in reversed(dest.parents) if not parent.exists()]
    created: list[Path] = []
    try:
        with _writing(dest.parent):
            for folder in missing:
                folder.mkdir()
                created.append(folder)
    except InvalidInputError:
        _remove_empty(created)
        raise
    return created


def _remove_empty(folders: list[Path]) -> None:
    """Remove the folders this run created, innermost first, as far as they are still empty."""
    for folder in reversed(folders):
        with contextlib.suppress(OSError):
            folder.rmdir()
