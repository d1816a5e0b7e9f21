"""Rendering a new service repository from the template."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from copier import run_copy
from copier.errors import CopierError

from generator.answers import coerce
from generator.answers_file import read_answers
from generator.copier_errors import as_gosvc_error
from generator.errors import InvalidInputError
from generator.preset import load_preset, with_preset
from generator.template import check_renderable, default_source, load_questions, local_path
from generator.template import uncommitted_template_changes_allowed as quiet_about_uncommitted_changes

STAGING_PREFIX = ".gosvc-new-"
"""Name prefix of the folder a repository is rendered in before it moves into place."""


@dataclass(frozen=True)
class NewProject:
    """What `new_project` made."""

    dest: Path
    answers: dict[str, Any]

    @property
    def template_commit(self) -> str | None:
        return self.answers.get("_commit")


def new_project(
    dest: Path,
    data: Mapping[str, Any],
    *,
    defaults: bool = False,
    template: str | None = None,
    vcs_ref: str | None = None,
    quiet: bool = False,
    preset: Path | None = None,
) -> NewProject:
    """Render the template into `dest`, which must not exist or be empty.

    The repository is rendered into a staging folder and moved into place only
    when everything succeeded, so a failure leaves `dest` exactly as it was. An
    existing empty `dest` (the current folder, a mount point) is filled in place:
    it keeps its inode, owner and mode.
    """
    dest = absolute(dest)
    source = template or default_source()
    check_renderable(source, vcs_ref)
    with _writing(dest.parent):
        _refuse_inside_template(dest, source)
    questions = load_questions(source, vcs_ref)
    answers = coerce(questions, data)
    offered: dict[str, Any] = {"service_name": dest.name}
    if preset is not None:  # locked answers are answers; the preset's other answers are the defaults offered
        answers, preset_defaults = with_preset(load_preset(preset, questions), answers)
        offered |= preset_defaults
    with _staging(dest) as staging:
        try:
            with quiet_about_uncommitted_changes():
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
    return NewProject(dest=dest, answers=read_answers(dest))


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
    """A folder to render into, moved to `dest` when the block succeeds and removed in every case."""
    with _writing(dest.parent):
        if dest.is_symlink() or (dest.exists() and not dest.is_dir()):
            raise InvalidInputError(f"{dest} exists and is not a folder")
        is_folder = dest.is_dir()
    if is_folder:
        with _filled_in_place(dest) as staging:
            yield staging
        return
    ancestor = _existing_ancestor(dest)
    with _writing(ancestor):
        staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=ancestor))
    try:
        staging.chmod(0o777 & ~_current_umask())
        yield staging
        created = _make_parents(dest)
        try:
            with _writing(dest.parent):
                staging.replace(dest)
        except BaseException:
            _remove_empty(created)
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


@contextlib.contextmanager
def _filled_in_place(dest: Path) -> Iterator[Path]:
    """Render inside the empty folder `dest` itself, then move each entry up a level (one file system, so
    each move is a rename); on failure every entry moved is taken out again."""
    for leftover in dest.glob(f"{STAGING_PREFIX}*"):  # a staging folder a killed `gosvc new` left
        shutil.rmtree(leftover, ignore_errors=True)
    with _writing(dest):
        entries = list(dest.iterdir())
    if entries:
        raise InvalidInputError(f"{dest} exists and is not empty; gosvc new only writes into a new or empty folder")
    with _writing(dest):
        staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=dest))
    moved: list[Path] = []
    try:
        yield staging
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
    finally:
        shutil.rmtree(staging, ignore_errors=True)


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


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
