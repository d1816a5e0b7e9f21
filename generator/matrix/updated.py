"""A variant as a team gets it after an update (`gosvc matrix --updated-from REF`): rendered at an older template
version, edited as a team would (`--edit-with`, a command of the user's), committed, and updated to the version
the matrix checks. An update that leaves a conflict or a change not applied fails the variant, naming the files;
the checks then run on what the update left, so every variant's update path passes every check, not only its
fresh render."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from generator.runtime import git
from generator.runtime.errors import GosvcError, one_line
from generator.template.source import load_questions
from generator.update.fleet import run_update_process

_SHOWN = 3


@dataclass(frozen=True)
class UpdatedFrom:
    """Where each variant starts: the template version it is rendered at, and the team's edits made on it."""

    version: str
    edit_with: str | None = None
    """A shell command run in the rendered repository, whose changes are committed as the team's."""


def asked_at(template: str, updated_from: UpdatedFrom) -> frozenset[str]:
    """The questions the older version asks: read once per matrix, for every variant."""
    return frozenset(load_questions(template, updated_from.version))


def split_answers(data: Mapping[str, Any], asked: frozenset[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The answers the older version asks, and those it does not know yet (given to the update as --data)."""
    return (
        {key: value for key, value in data.items() if key in asked},
        {key: value for key, value in data.items() if key not in asked},
    )


def update_variant(repo: Path, updated_from: UpdatedFrom, vcs_ref: str | None, later: Mapping[str, Any]) -> str | None:
    """Commit the render at `repo`, make and commit the team's edits, update it to `vcs_ref` (newest when None)
    with the `later` answers; why the variant fails, or None."""
    git.first_commit(repo, f"Generate from the template at {updated_from.version}")
    if updated_from.edit_with:
        edited = subprocess.run(
            updated_from.edit_with, shell=True, cwd=repo, capture_output=True, text=True, check=False
        )
        if edited.returncode != 0:
            output = one_line((edited.stderr or edited.stdout).strip() or f"exit {edited.returncode}")
            return f"the edits ({updated_from.edit_with}) failed: {output}"
        git.commit_all(repo, "The team's edits")
    flags = [f"--data={key}={_shown(value)}" for key, value in later.items()]
    try:
        report = run_update_process(repo, vcs_ref, flags)
    except GosvcError as error:
        return f"the update from {updated_from.version} failed: {one_line(str(error))}"
    for kind, label in (("conflicts", "left conflicts in"), ("not_applied", "did not apply changes to")):
        paths = [str(item["path"]) for item in report.get(kind, [])]
        if paths:
            more = f" and {len(paths) - _SHOWN} more" if len(paths) > _SHOWN else ""
            return f"the update from {updated_from.version} {label} {', '.join(paths[:_SHOWN])}{more}"
    return None


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
