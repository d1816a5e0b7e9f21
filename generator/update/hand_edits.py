"""Answers changed by hand in the answers file: rendered, as `--data` renders a changed answer, never half.

Copier renders the version a repository was made from with the answers file as it is now. After a hand edit
(`memory_limit: 256Mi` made `384Mi`), that render differs from what was generated wherever the answer shows,
Copier takes the difference for the team's edits, and replays the old value onto the new version: the answers say
384Mi, the manifests keep 256Mi, and a template change on such a line is lost. gosvc finds the answers as the last
generation or update wrote them (the newest version of the answers file whose answers match the digest it records:
the template writes the digest, a hand edit leaves it behind), puts them back in the scratch tree, and gives Copier
the edited ones as new answers: the update renders them everywhere, or is refused up front as any answer change is
(a name the team's own files still use).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from generator.project.answers_file import ANSWERS_FILE
from generator.runtime import git
from generator.update.project import Project

HISTORY_LIMIT = 200
"""How many commits of the answers file are read back to find the one an update wrote."""
_DIGEST = re.compile(r"^# answers sha256: ([0-9a-f]{64})$", re.MULTILINE)


@dataclass(frozen=True)
class Written:
    """The answers file as the last generation or update wrote it."""

    text: str
    answers: dict[str, Any]
    digest: str | None
    """The digest the file records (see digest_of)."""


def as_answer_changes(
    project: Project, answers: Mapping[str, Any], commit: str
) -> tuple[Project, dict[str, Any], Written | None]:
    """The repository as last rendered, and the answers to change: `answers`, and those edited by hand since the
    last update (`answers` win). The answers file as written, to put back before Copier runs; None: no hand edit."""
    written = as_written(project.path, commit)
    by_hand = {} if written is None else edited(written, project.answers)
    if written is None or not by_hand:
        return project, dict(answers), None
    rendered = Project(project.path, {**project.answers, **{key: written.answers[key] for key in by_hand}})
    return rendered, {**by_hand, **answers}, written


def put_back(project: Path, written: Written) -> None:
    """The answers file of `project` (a scratch tree) as written, in its index."""
    (project / ANSWERS_FILE).write_text(written.text, encoding="utf-8")
    git.run(project, "add", "--", ANSWERS_FILE)


def as_written(project: Path, commit: str) -> Written | None:
    """The answers file of `project` as the last generation or update wrote it: the newest version at or before
    `commit` whose answers match the digest it records. None when the history cannot say: a file written before
    gosvc recorded digests, or a shallow clone that ends after the update."""
    path = git.run(project, "rev-parse", "--show-prefix").strip() + ANSWERS_FILE
    listed = git.run(project, "log", f"--max-count={HISTORY_LIMIT}", "--format=%H", commit, "--", ANSWERS_FILE).split()
    for each in listed:
        version = _at(project, each, path)
        if version is None or version.digest is None:
            return None
        if version.digest == digest_of(version.answers):
            return version
    return None


def digest_of(answers: Mapping[str, Any]) -> str:
    """What the answers file template records: the SHA-256 of the answers but Copier's own, as sorted JSON."""
    public = {key: value for key, value in answers.items() if not key.startswith("_")}
    return hashlib.sha256(json.dumps(public, sort_keys=True).encode()).hexdigest()


def edited(written: Written, current: dict[str, Any]) -> dict[str, Any]:
    """The answers `current` holds with another value than `written` (Copier's own `_` keys aside)."""
    return {
        key: value
        for key, value in current.items()
        if not key.startswith("_") and key in written.answers and written.answers[key] != value
    }


def _at(top: Path, commit: str, path: str) -> Written | None:
    try:
        text = git.run(top, "show", f"{commit}:{path}")
        answers = yaml.safe_load(text)
    except (git.GitError, yaml.YAMLError):
        return None
    if not isinstance(answers, dict):
        return None
    recorded = _DIGEST.search(text)
    return Written(text=text, answers=answers, digest=recorded.group(1) if recorded else None)
