"""A generated repository as its answers file describes it: what an update and the fleet read first."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from generator.project.answers_file import ANSWERS_FILE, read_answers
from generator.runtime.errors import InvalidInputError, shown_value
from generator.template.source import local_path
from generator.template.versions import is_up_to_date, target_version


@dataclass(frozen=True)
class Project:
    """A generated repository as its answers file describes it."""

    path: Path
    answers: dict[str, Any]

    @property
    def source(self) -> str:
        return str(self.answers["_src_path"])

    @property
    def version(self) -> str:
        return str(self.answers["_commit"])

    @property
    def service_name(self) -> str | None:
        name = self.answers.get("service_name")
        return None if name is None else str(name)

    @property
    def public_answers(self) -> dict[str, Any]:
        return {key: value for key, value in self.answers.items() if not key.startswith("_")}


def load_project(path: Path) -> Project:
    """The generated repository at `path`; bad input if it is not one."""
    path = Path(path).absolute()
    if not (path / ANSWERS_FILE).is_file():
        raise InvalidInputError(f"{path} has no {ANSWERS_FILE}: it was not generated from a template")
    answers = read_answers(path)
    missing = [key for key in ("_src_path", "_commit") if not answers.get(key)]
    if missing:
        raise InvalidInputError(
            f"{path / ANSWERS_FILE} lacks {' and '.join(missing)}: it does not say which template version made it"
        )
    for key in ("_src_path", "_commit"):
        value = answers[key]
        if not isinstance(value, str) or not value.isprintable():
            raise InvalidInputError(f"{path / ANSWERS_FILE}: {key} must be one line of text (got {shown_value(value)})")
    local_path(answers["_src_path"])  # a ~user that does not exist is bad input, here rather than in Copier
    return Project(path=path, answers=answers)


@dataclass(frozen=True)
class VersionCheck:
    """`gosvc update --check`: whether the repository is behind the template."""

    project: Path
    version: str | None
    newest: str | None

    @property
    def behind(self) -> bool:
        return self.newest is not None and not is_up_to_date(self.version or "", self.newest)

    def as_json(self) -> dict[str, Any]:
        return {"project": str(self.project), "version": self.version, "newest": self.newest, "behind": self.behind}


def check_version(dest: Path, vcs_ref: str | None = None) -> VersionCheck:
    """Whether the repository at `dest` is behind the newest template version (or `vcs_ref`); changes nothing."""
    project = load_project(dest)
    return VersionCheck(project.path, project.version, target_version(project.source, vcs_ref))
