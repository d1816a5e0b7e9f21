"""Rendering a new service repository from the template."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from copier import run_copy
from copier.errors import CopierError

from generator.answers import coerce
from generator.copier_errors import as_gosvc_error
from generator.errors import InvalidInputError
from generator.template import default_source, load_questions, uncommitted_template_changes_allowed

ANSWERS_FILE = ".copier-answers.yml"


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
) -> NewProject:
    """Render the template into `dest`, which must not exist or be empty.

    The repository is rendered into a sibling temporary folder and moved into
    place only when everything succeeded, so a failure leaves `dest` exactly
    as it was.
    """
    dest = Path(os.path.abspath(dest))  # noqa: PTH100 - normalises ".." without resolving a symlinked DEST
    _check_destination(dest)
    source = template or default_source()
    answers = coerce(load_questions(source, vcs_ref), data)
    staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.gosvc-", dir=_existing_ancestor(dest)))
    staging.chmod(0o777 & ~_current_umask())
    try:
        with uncommitted_template_changes_allowed():
            run_copy(
                src_path=source,
                dst_path=staging,
                data=answers,
                user_defaults={"service_name": dest.name},
                defaults=defaults,
                vcs_ref=vcs_ref,
                quiet=quiet,
                unsafe=True,
                cleanup_on_error=False,
            )
        dest.parent.mkdir(parents=True, exist_ok=True)
        staging.replace(dest)
    except (CopierError, ValueError) as error:
        raise as_gosvc_error(error) from error
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return NewProject(dest=dest, answers=read_answers(dest))


def read_answers(project: Path) -> dict[str, Any]:
    """The answers file of a generated repository."""
    path = project / ANSWERS_FILE
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise InvalidInputError(f"cannot read {path}: {error}") from error
    if not isinstance(loaded, dict):
        raise InvalidInputError(f"{path} is not a mapping of answers")
    return loaded


def _check_destination(dest: Path) -> None:
    if dest.is_symlink() or (dest.exists() and not dest.is_dir()):
        raise InvalidInputError(f"{dest} exists and is not a folder")
    if dest.is_dir() and any(dest.iterdir()):
        raise InvalidInputError(f"{dest} exists and is not empty; gosvc new only writes into a new or empty folder")


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _existing_ancestor(path: Path) -> Path:
    for parent in path.parents:
        if parent.is_dir():
            return parent
    raise InvalidInputError(f"no existing folder above {path}")
