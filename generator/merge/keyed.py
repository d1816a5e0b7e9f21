"""A three-way merge of files whose lines each stand alone: an env file's `KEY=VALUE` settings, an ignore file's
patterns.

Each line is known by a key: a setting by its name, any other line by its text (and which occurrence of that text
it is). The team's file keeps its order and its lines; a line the template changed takes the template's text, one
it removed goes, one it added goes after the line it follows in the template. Both sides changing one key
differently, or one side changing what the other removed, is a real conflict: the merge gives up.

Only formats whose meaning does not depend on line order qualify: env files (with each name once), and ignore files
without `!` exceptions (a path is ignored when any pattern matches it).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

Key = tuple[str, str, int]
_SETTING = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=")


def env_key(line: str) -> str | None:
    """The name an env file line sets, or None for a comment, a blank line or anything else."""
    match = _SETTING.match(line)
    return match.group(1) if match else None


def env_problem(body: str) -> str | None:
    """Why `body` is not an env file of settings, comments and blank lines each name set once; None when it is."""
    seen: set[str] = set()
    for number, line in enumerate(body.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        key = env_key(line)
        if key is None:
            return f"line {number} is neither KEY=VALUE nor a comment"
        if key in seen:
            return f"{key} is set twice"
        seen.add(key)
    return None


def ignore_problem(body: str) -> str | None:
    """Why `body` is an ignore file whose order matters (it has `!` exceptions); None when it does not."""
    return "it has ! exceptions" if any(line.lstrip().startswith("!") for line in body.splitlines()) else None


def merge_env(base: str, ours: str, theirs: str) -> str | None:
    return _merge(base, ours, theirs, env_key, env_problem)


def merge_ignore(base: str, ours: str, theirs: str) -> str | None:
    return _merge(base, ours, theirs, lambda _: None, ignore_problem)


def _keyed(body: str, key_of: Callable[[str], str | None]) -> list[tuple[Key, str]]:
    seen: dict[tuple[str, str], int] = {}
    lines = []
    for line in body.splitlines():
        name = key_of(line)
        kind = ("key", name) if name is not None else ("line", line)
        seen[kind] = seen.get(kind, 0) + 1
        lines.append(((*kind, seen[kind]), line))
    return lines


def _merge(
    base: str,
    ours: str,
    theirs: str,
    key_of: Callable[[str], str | None],
    problem: Callable[[str], str | None],
) -> str | None:
    if any(problem(body) for body in (base, ours, theirs)):
        return None
    old, mine, new = (dict(_keyed(body, key_of)) for body in (base, ours, theirs))
    merged: dict[Key, str] = {}
    for key in [*mine, *(key for key in new if key not in mine)]:
        line = _merged_line(old.get(key), mine.get(key), new.get(key))
        if line is _CONFLICT:
            return None
        if line is not None:
            merged[key] = line
    order = _placed([key for key in mine if key in merged], list(new), {key for key in new if key not in old})
    trailing = "\n" if ours.endswith("\n") or not ours else ""
    return "\n".join(merged[key] for key in order if key in merged) + (trailing if order else "")


_CONFLICT = "\0conflict"


def _merged_line(base: str | None, ours: str | None, theirs: str | None) -> str | None:
    """The line a key holds after the merge (None: removed), or _CONFLICT."""
    if ours == theirs:
        return ours
    if ours == base:
        return theirs
    if theirs == base:
        return ours
    return _CONFLICT


def _placed(kept: list[Key], theirs: Sequence[Key], added: set[Key]) -> list[Key]:
    """The team's keys in their order, each key the template added after the one it follows in the template."""
    order = list(kept)
    for index, key in enumerate(theirs):
        if key not in added or key in order:
            continue
        before = next((theirs[earlier] for earlier in range(index - 1, -1, -1) if theirs[earlier] in order), None)
        order.insert(0 if before is None else order.index(before) + 1, key)
    return order
