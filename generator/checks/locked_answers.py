"""The preset check: a repository keeps the answers its organisation's preset locks."""

from __future__ import annotations

from generator.checks.context import CheckContext
from generator.runtime.outcome import Outcome
from generator.template.preset import drift, load_preset


def preset_given(context: CheckContext) -> bool:
    return context.preset is not None


def keeps_locked_answers(context: CheckContext) -> Outcome:
    """The answers keep every locked answer of the preset; changed defaults are listed, and allowed."""
    if context.preset is None:
        return Outcome(True, "no preset given")
    preset = load_preset(context.preset)
    found = drift(preset, context.answers)
    said = found.describe(preset) or [f"the answers keep every answer of the preset {preset.path}"]
    return Outcome(not found.locked, "\n".join(said))
