"""The user's cache folder for gosvc: tools, kept check results, compiled templates and crash logs live under it."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable
from pathlib import Path


def cache_folder(name: str) -> Path:
    """`name` under $XDG_CACHE_HOME/gosvc, or ~/.cache/gosvc."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "gosvc" / name


def prune_least_recently_used(entries: Iterable[Path], limit: int) -> None:
    """Past `limit` bytes in `entries`, remove the least recently used (the oldest modification time: a read
    touches an entry) until a quarter of the limit is free."""
    found = []
    for path in entries:
        with contextlib.suppress(OSError):
            stat = path.stat()
            found.append((stat.st_mtime, stat.st_size, path))
    total = sum(size for _, size, _ in found)
    if total <= limit:
        return
    for _, size, path in sorted(found):
        if total <= limit * 3 // 4:
            break
        total -= size
        with contextlib.suppress(OSError):
            path.unlink()
