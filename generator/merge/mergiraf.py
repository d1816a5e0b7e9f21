"""mergiraf, a merge of syntax trees (tree-sitter parsers), run as a pinned external tool (it is GPL-3.0, and only
ever run, never linked). It settles what a line merge cannot tell apart: two imports, two functions or two map
keys added at one place."""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

from generator.runtime.errors import ToolMissingError
from generator.tools import Toolbox

_TIMEOUT_MS = "5000"
"""Past this, mergiraf falls back to git's line merge, which then conflicts: the result is not kept."""


def installed(toolbox: Toolbox) -> bool:
    try:
        toolbox.find("mergiraf")
    except ToolMissingError:
        return False
    return True


def merge(toolbox: Toolbox, name: str, base: str, ours: str, theirs: str) -> str | None:
    """mergiraf's merge of the three texts of a file called `name` (its extension names the language), or None
    when it leaves a conflict."""
    with tempfile.TemporaryDirectory(prefix="gosvc-mergiraf-") as folder:
        paths = [Path(folder, side) for side in ("base", "ours", "theirs")]
        for path, body in zip(paths, (base, ours, theirs), strict=True):
            path.write_bytes(body.encode("utf-8"))
        merged = Path(folder, "merged")
        options = (f"--path-name={name}", f"--output={merged}", f"--timeout={_TIMEOUT_MS}")
        result = subprocess.run(
            [str(toolbox.find("mergiraf")), "merge", *map(str, paths), *options],
            capture_output=True,
            check=False,
            # mergiraf keeps each merge it settled for `mergiraf review` in the cache folder: not the user's.
            env={**os.environ, "XDG_CACHE_HOME": folder, "HOME": folder},
        )
        if result.returncode != 0 or not merged.is_file():
            return None
        try:
            return merged.read_bytes().decode("utf-8")
        except UnicodeDecodeError:
            return None
