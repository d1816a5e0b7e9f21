"""Reading and writing a project's answers file from a migration, keeping its header comment."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


def read(path: Path) -> tuple[str, dict[str, Any]]:
    """The comment lines at the top of the answers file, and its answers."""
    text = path.read_text(encoding="utf-8")
    header = "".join(line for line in text.splitlines(keepends=True) if line.startswith("#"))
    return header, yaml.safe_load(text) or {}


def write(path: Path, header: str, answers: dict[str, Any]) -> None:
    path.write_text(header + yaml.safe_dump(answers, sort_keys=False, allow_unicode=True), encoding="utf-8")
