"""Copier's failures as gosvc errors: one sentence each, naming the question."""

from __future__ import annotations

import re

from copier.errors import CopierError, InteractiveSessionError, TaskError, UserMessageError

from generator.runtime.errors import GosvcError, InvalidAnswerError, InvalidInputError

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


def failed_task(error: Exception) -> str | None:
    """The command and exit status of the template task or migration whose failure `error` is, if it is one."""
    if not isinstance(error, TaskError):
        return None
    command = error.cmd if isinstance(error.cmd, str) else " ".join(map(str, error.cmd))
    return f"{command} exited {error.returncode}"


def refused(error: Exception) -> str | None:
    """What Copier said when it refused to go on, if `error` is such a refusal."""
    return str(error) if isinstance(error, UserMessageError) else None


def is_copier_error(error: Exception) -> bool:
    return isinstance(error, CopierError)
