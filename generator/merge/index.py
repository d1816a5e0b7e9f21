"""Settling the conflicts a line merge left in a git work tree: each conflicted file whose index holds the three
versions (stage 1 the base, 2 the team's, 3 the template's) is merged again by `three_way`; a file it settles
holds the merged content, and its index the team's version, as after any clean merge. What the line merge left
is kept, so that a settled file can be put back as the conflict it was when a check finds the merge wrong."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from generator.merge.three_way import three_way
from generator.runtime import git
from generator.tools import Toolbox

_REGULAR_FILES = ("100644", "100755")


@dataclass(frozen=True)
class Settled:
    """A conflict a structure-aware merge settled."""

    path: str
    how: str
    """Which merge settled it (see three_way)."""
    conflicted: bytes
    """The file as the line merge left it, conflict markers and all."""
    entries: tuple[str, ...]
    """Its index entries then: the conflict stages."""


def settle(repo: Path, paths: Iterable[str], toolbox: Toolbox) -> list[Settled]:
    """Merge each of `paths` (relative to `repo`, unmerged in its index) again; the ones it settled."""
    settled = []
    for path in paths:
        entries = tuple(git.index_entries(repo, [path]))
        stages = {}
        for entry in entries:
            mode, blob, stage = entry.split("\t", 1)[0].split()
            stages[stage] = (mode, blob)
        if set(stages) != {"1", "2", "3"} or any(mode not in _REGULAR_FILES for mode, _ in stages.values()):
            continue  # added or deleted on one side, a link or a submodule: only a person can tell
        if len({blob for _, blob in stages.values()}) < 3:
            continue  # not a merge's stages (a side equal to the base merges cleanly): markers a migration left
        base, ours, theirs = (git.read_blob(repo, stages[stage][1]) for stage in ("1", "2", "3"))
        merged = three_way(path, base, ours, theirs, toolbox)
        if merged is None:
            continue
        conflicted = (repo / path).read_bytes()
        (repo / path).write_bytes(merged.content)
        mode, team_blob = stages["2"]
        git.set_index_entries(repo, [path], [f"{mode} {team_blob} 0\t{path}"])
        settled.append(Settled(path, merged.how, conflicted, entries))
    return settled


def unsettle(repo: Path, settled: Sequence[Settled]) -> None:
    """Put each of `settled` back as the conflict the line merge left."""
    for item in settled:
        (repo / item.path).write_bytes(item.conflicted)
        git.set_index_entries(repo, [item.path], item.entries)
