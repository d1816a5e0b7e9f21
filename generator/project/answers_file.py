"""The answers file of a generated repository: where it is and how it reads, without loading Copier."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from generator.project.yamlfile import load_mapping

ANSWERS_FILE = ".copier-answers.yml"


def read_answers(project: Path) -> dict[str, Any]:
    """The answers file of a generated repository."""
    return load_mapping(project / ANSWERS_FILE, "answers file")
