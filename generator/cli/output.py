"""How the commands print: one-line errors on stderr, JSON and tables on stdout."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from generator.runtime.errors import printable


def fail(message: str) -> None:
    """`message` on stderr as gosvc's one line."""
    with contextlib.suppress(OSError):
        print(f"gosvc: {message}", file=sys.stderr)


def print_json(value: Any) -> None:
    json.dump(value, sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")


def print_table(rows: Sequence[Sequence[str]]) -> None:
    """`rows` in aligned columns (the last left ragged), each cell made printable."""
    rows = [[printable(cell) for cell in row] for row in rows]
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]) - 1)]
    for row in rows:
        print("  ".join([*(cell.ljust(width) for cell, width in zip(row, widths, strict=False)), row[-1]]))


def count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def relative(path: Path, root: Path) -> str:
    return str(path.relative_to(root)) if path.is_relative_to(root) and path != root else str(path)


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """Send what Copier and template tasks print to stderr, keeping stdout for the result."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 1)
        os.close(saved)
