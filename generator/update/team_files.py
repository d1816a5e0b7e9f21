"""The files a service team owns, as an answer change meets them: a changed name they still use is refused."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from generator.runtime import git
from generator.runtime.errors import shown_value
from generator.template.source import TemplateConfig, team_owned_matcher
from generator.update.errors import UpdateRefusedError
from generator.update.project import Project


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
