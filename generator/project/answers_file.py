"""The answers file of a generated repository: where it is and how it reads, without loading Copier."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from generator.project.yamlfile import load_mapping
from generator.runtime.errors import InvalidInputError

ANSWERS_FILE = ".copier-answers.yml"


def read_answers(project: Path) -> dict[str, Any]:
    """The answers file of a generated repository."""
    return load_mapping(project / ANSWERS_FILE, "answers file")


def require_repository_root(folder: Path) -> None:
    """Refuse a folder that is not the root of a generated repository: one holding its answers file."""
    folder = folder.absolute()
    if (folder / ANSWERS_FILE).is_file():
        return
    if not folder.is_dir():
        raise InvalidInputError(f"{folder} is not a folder")
    root = next((parent for parent in folder.parents if (parent / ANSWERS_FILE).is_file()), None)
    if root is not None:
        raise InvalidInputError(f"{folder} is inside the generated repository {root}: give its root instead")
    raise InvalidInputError(f"{folder} is not a generated repository: it has no {ANSWERS_FILE}")
