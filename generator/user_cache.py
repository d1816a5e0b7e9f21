"""The user's cache folder for gosvc: tools, kept check results, compiled templates and crash logs live under it."""

from __future__ import annotations

import os
from pathlib import Path


def cache_folder(name: str) -> Path:
    """`name` under $XDG_CACHE_HOME/gosvc, or ~/.cache/gosvc."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "gosvc" / name
