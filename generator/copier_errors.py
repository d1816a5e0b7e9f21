"""Copier's failures as gosvc errors: one sentence each, naming the question."""

from __future__ import annotations

import re

from copier.errors import CopierError, InteractiveSessionError, UserMessageError

from generator.errors import GosvcError, InvalidAnswerError, InvalidInputError

_VALIDATION = re.compile(r"^Validation error for question '(?P<name>[^']+)': (?P<reason>.*)$", re.S)
_CHOICE = re.compile(r"^Invalid choice for '(?P<name>[^']+)': (?P<reason>.*)$", re.S)
_REQUIRED = re.compile(r'^Question "(?P<name>[^"]+)" is required$')


def as_gosvc_error(error: Exception) -> GosvcError:
    """The gosvc error that tells the user what Copier refused."""
    if isinstance(error, InteractiveSessionError):
        return InvalidInputError(
            "answers are needed but standard input is not a terminal: pass --defaults and/or --data"
        )
    text = str(error).strip()
    for pattern in (_VALIDATION, _CHOICE):
        if match := pattern.match(text):
            reason = " ".join(match["reason"].split())
            return InvalidAnswerError(match["name"], reason)
    if match := _REQUIRED.match(text):
        return InvalidAnswerError(match["name"], "an answer is required")
    if isinstance(error, UserMessageError):
        return GosvcError(text)
    if isinstance(error, (CopierError, ValueError)):
        return InvalidInputError(text.splitlines()[0] if text else type(error).__name__)
    return GosvcError(f"{type(error).__name__}: {text}")
