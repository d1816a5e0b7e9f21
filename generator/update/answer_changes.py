"""Answer changes an update makes: those edited by hand in the answers file, and the refusal of a change the
team's own files cannot follow.

Copier renders the version a repository was made from with the answers file as it is now. After a hand edit
(`memory_limit: 256Mi` made `384Mi`), that render differs from what was generated wherever the answer shows,
Copier takes the difference for the team's edits, and replays the old value onto the new version: the answers say
384Mi, the manifests keep 256Mi, and a template change on such a line is lost. gosvc finds the answers as the last
generation or update wrote them (the newest version of the answers file whose answers match the digest it records:
the template writes the digest, a hand edit leaves it behind), puts them back in the scratch tree, and gives Copier
the edited ones as new answers: the update renders them everywhere, or is refused up front as any answer change is
(a name the team's own files still use).

A changed name (given with --data, or edited by hand) that files the team owns still use is refused: the update
re-renders only the template's files.
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
from generator.runtime.errors import shown_value
from generator.template.source import TemplateConfig, team_owned_matcher
from generator.update.errors import UpdateRefusedError
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


def refuse_stale_team_files(project: Project, answers: Mapping[str, Any], config: TemplateConfig) -> None:
    """Refuse a changed name that files the team owns still use: the update re-renders only the template's."""
    owned = team_owned_matcher(config.team_owned)
    team_files = {
        relative: _without_comment_lines((project.path / relative).read_text(encoding="utf-8", errors="replace"))
        for relative in _project_files(project.path)
        if owned(relative)
    }
    for name, new in answers.items():
        old = project.answers.get(name)
        question = config.questions.get(name)
        if question is None or question.type != "str" or question.choices or not isinstance(old, str):
            continue
        if old == new or len(old) < 3:
            continue
        # Other answers that hold this one (a registry path holding the organization) are not uses of it.
        holders = [
            value
            for key, value in project.answers.items()
            if key != name and isinstance(value, str) and old in value and value != old and key not in answers
        ]
        holding = [
            relative for relative, text in team_files.items() if old in _without(text, sorted(holders, key=len)[::-1])
        ]
        if holding:
            shown = ", ".join(holding[:4]) + (f" and {len(holding) - 4} more" if len(holding) > 4 else "")
            raise UpdateRefusedError(
                f"changing {name} from {shown_value(old)} to {shown_value(new)} re-renders only the template's "
                f"files, but files you own still hold {shown_value(old)} ({shown}); change them in a commit first "
                "(the update keeps them as they are), then run the update again (nothing was changed)"
            )


def _without_comment_lines(text: str) -> str:
    """`text` without its YAML and Go comment lines: prose may say a name ("for example") without using it."""
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith(("#", "//")))


def _without(text: str, parts: list[str]) -> str:
    for part in parts:
        text = text.replace(part, "\0")
    return text


def _project_files(project: Path) -> list[str]:
    listed = git.run(project, "ls-files", "-z", "--full-name", "--", ".")
    prefix = git.run(project, "rev-parse", "--show-prefix").strip()
    return [name.removeprefix(prefix) for name in filter(None, listed.split("\0"))]
