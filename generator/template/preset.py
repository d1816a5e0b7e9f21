"""Organisation presets: answers a platform team sets once for every new service, some of them locked.

A preset file holds `defaults` (a mapping of questions to answers, which new
services start from and may change) and `locked` (questions whose answer no
service may change). `gosvc new --preset FILE` (or GOSVC_PRESET) renders with
them; a locked answer given differently is refused. `gosvc check` and `gosvc
fleet status` with a preset report repositories whose answers drifted from it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from generator.project.yamlfile import load_mapping
from generator.runtime.errors import InvalidInputError
from generator.template.answers import coerce
from generator.template.source import Question

PRESET_ENV = "GOSVC_PRESET"
"""The preset file `gosvc new`, `check` and `fleet status` use when no --preset is given."""


@dataclass(frozen=True)
class Preset:
    """A preset file, read and checked against the template's questions."""

    path: Path
    defaults: dict[str, Any]
    locked: frozenset[str]

    def locked_answers(self) -> dict[str, Any]:
        return {name: value for name, value in self.defaults.items() if name in self.locked}


@dataclass(frozen=True)
class Drift:
    """How a repository's answers differ from a preset: locked answers changed, defaults changed."""

    locked: dict[str, tuple[Any, Any]]
    defaults: dict[str, tuple[Any, Any]]

    def describe(self, preset: Preset) -> list[str]:
        lines = [
            f"{name} is {ours!r}, but the preset {preset.path} locks it to {theirs!r}"
            for name, (ours, theirs) in sorted(self.locked.items())
        ]
        lines += [
            f"{name} is {ours!r} where the preset's default is {theirs!r} (allowed: not locked)"
            for name, (ours, theirs) in sorted(self.defaults.items())
        ]
        return lines


def preset_path(given: Path | None) -> Path | None:
    """The preset file to use: --preset, else $GOSVC_PRESET, else none."""
    if given is not None:
        return given
    configured = os.environ.get(PRESET_ENV, "")
    return Path(configured) if configured else None


def load_preset(path: Path, questions: Mapping[str, Question] | None = None) -> Preset:
    """Read a preset; an unknown key, a locked question without a value, and with the template's `questions`
    an unknown question or an answer of the wrong type, is an input error naming the file."""
    raw = load_mapping(path, "preset")
    unknown = sorted(set(raw) - {"defaults", "locked"})
    if unknown:
        raise InvalidInputError(f"preset {path}: unknown key {unknown[0]!r}; a preset holds defaults and locked")
    defaults, locked = raw.get("defaults") or {}, raw.get("locked") or []
    if not isinstance(defaults, dict):
        raise InvalidInputError(f"preset {path}: defaults must be a mapping of questions to answers")
    if not isinstance(locked, list) or not all(isinstance(name, str) for name in locked):
        raise InvalidInputError(f"preset {path}: locked must be a list of question names")
    try:
        typed = dict(defaults) if questions is None else coerce(questions, defaults)
    except InvalidInputError as error:
        raise InvalidInputError(f"preset {path}: {error}") from error
    without_value = sorted(set(locked) - set(typed))
    if without_value:
        raise InvalidInputError(f"preset {path}: {without_value[0]} is locked but has no answer under defaults")
    return Preset(path, typed, frozenset(locked))


def with_preset(preset: Preset, given: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The answers to render with and the defaults to offer: locked answers are answers, given ones must agree
    with them; the other preset answers are defaults that prompts and --defaults take."""
    for name, value in preset.locked_answers().items():
        if name in given and given[name] != value:
            raise InvalidInputError(
                f"{name} is locked to {value!r} by the preset {preset.path}; the answer given is {given[name]!r}"
            )
    offered = {name: value for name, value in preset.defaults.items() if name not in preset.locked}
    return {**given, **preset.locked_answers()}, offered


def drift(preset: Preset, answers: Mapping[str, Any]) -> Drift:
    """How `answers` (a repository's answers file) differ from `preset`."""
    changed = {
        name: (answers.get(name), value)
        for name, value in preset.defaults.items()
        if not _same(answers.get(name), value)
    }
    return Drift(
        locked={name: pair for name, pair in changed.items() if name in preset.locked},
        defaults={name: pair for name, pair in changed.items() if name not in preset.locked},
    )


def _same(ours: Any, theirs: Any) -> bool:
    """Equal answers, whichever of the two was read without the question's type ("1" and 1)."""
    return bool(ours == theirs or (not isinstance(ours, bool) and str(ours) == str(theirs)))
