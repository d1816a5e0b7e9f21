"""Which merge a file gets, and the proof a merged file must give before it is kept: it parses as its kind.

The merges are tried in order, each on the three versions with LF line endings, and the result is written with
the team's line endings:

1. a line merge (git merge-file), when only the line endings made the conflict;
2. a keyed merge, for env files and ignore files (see keyed);
3. mergiraf, a merge of syntax trees, for the languages it knows and gosvc can parse the result of (Go, go.mod
   and go.sum, YAML, JSON, TOML), when it is installed (`gosvc tools install --only mergiraf`).

A result is kept only when it parses as its kind (see `problem`), so a merge never leaves a file that a line merge
would have left as a conflict for someone to resolve, broken but unmarked.
"""

from __future__ import annotations

import json
import re
import subprocess
import tempfile
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import yaml

from generator.merge import keyed, mergiraf
from generator.merge.text import Text, line_merge
from generator.tools import Toolbox

Merge = Callable[[str, str, str], str | None]


@dataclass(frozen=True)
class Merged:
    """A conflict settled: the file's merged content, and which merge settled it."""

    content: bytes
    how: str


def three_way(path: str, base: bytes, ours: bytes, theirs: bytes, toolbox: Toolbox) -> Merged | None:
    """The merge of the team's `ours` and the template's `theirs` from `base`, or None when none of the merges
    settles it (or the file is not text they can read)."""
    old, mine, new = (Text.decoded(content) for content in (base, ours, theirs))
    if old is None or mine is None or new is None:
        return None
    endings_differ = len({text.newline for text in (old, mine, new)}) > 1
    for how, merge in _merges(path, endings_differ=endings_differ, toolbox=toolbox):
        body = merge(old.body, mine.body, new.body)
        if body is not None and problem(path, body, toolbox) is None:
            return Merged(mine.encoded(body), how)
    return None


def _merges(path: str, *, endings_differ: bool, toolbox: Toolbox) -> list[tuple[str, Merge]]:
    name = PurePosixPath(path).name
    merges: list[tuple[str, Merge]] = [("line endings", line_merge)] if endings_differ else []
    if _is_env(name):
        merges.append(("by setting", keyed.merge_env))
    elif name.startswith(".") and name.endswith("ignore"):
        merges.append(("by pattern", keyed.merge_ignore))
    elif _parser(name, toolbox) is not None and not _in_chart_templates(path) and mergiraf.installed(toolbox):
        merges.append(("mergiraf", lambda base, ours, theirs: mergiraf.merge(toolbox, name, base, ours, theirs)))
    return merges


def problem(path: str, body: str, toolbox: Toolbox) -> str | None:
    """Why `body` does not parse as what the file at `path` holds; None when it does, or when gosvc cannot tell
    (then only a line merge, which keeps every line of both sides, may settle it)."""
    name = PurePosixPath(path).name
    if _is_env(name):
        return keyed.env_problem(body)
    parse = _parser(name, toolbox)
    if parse is None or _in_chart_templates(path):
        return None
    try:
        parse(body)
    except Exception as error:  # every parser's own error means the same: it does not parse
        return f"it does not parse: {str(error).splitlines()[0] if str(error) else type(error).__name__}"
    return None


def _is_env(name: str) -> bool:
    return name.endswith(".env") or name == ".env" or name.startswith(".env.")


def _parser(name: str, toolbox: Toolbox) -> Callable[[str], object] | None:
    if name == "go.mod":
        return lambda body: _go_mod_parses(body, toolbox)
    if name in ("go.sum", "go.work.sum"):
        return _go_sum_parses
    suffix = PurePosixPath(name).suffix
    if suffix in (".yaml", ".yml"):
        return lambda body: list(yaml.safe_load_all(body))
    if suffix == ".json":
        return json.loads
    if suffix == ".toml":
        return tomllib.loads
    if suffix == ".go":
        return lambda body: _go_parses(body, toolbox)
    return None


def _in_chart_templates(path: str) -> bool:
    """A Helm chart's templates are Go templates of YAML: no YAML parser reads them as they are."""
    return "templates" in PurePosixPath(path).parts[:-1]


def _go_parses(body: str, toolbox: Toolbox) -> None:
    result = subprocess.run([str(toolbox.find("gofmt")), "-e"], input=body, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise ValueError(result.stderr.strip() or "gofmt failed")


def _go_mod_parses(body: str, toolbox: Toolbox) -> None:
    with tempfile.TemporaryDirectory(prefix="gosvc-gomod-") as folder:
        Path(folder, "go.mod").write_text(body, encoding="utf-8")
        result = subprocess.run(
            [str(toolbox.find("go")), "mod", "edit", "-json"],
            cwd=folder,
            capture_output=True,
            text=True,
            check=False,
            env={**toolbox.environment(), "GOFLAGS": "-mod=mod"},
        )
    if result.returncode != 0:
        raise ValueError(result.stderr.strip() or "go mod edit failed")


_GO_SUM_LINE = re.compile(r"^\S+ \S+ h1:[A-Za-z0-9+/]+=*$")


def _go_sum_parses(body: str) -> None:
    for number, line in enumerate(body.splitlines(), 1):
        if line and not _GO_SUM_LINE.match(line):
            raise ValueError(f"line {number} is not `module version h1:hash`")
