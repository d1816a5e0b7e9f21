"""The errors gosvc reports to its users: each one a sentence and an exit status."""

from __future__ import annotations

import re

MESSAGE_LIMIT = 500
"""Characters of a message shown at most: a message never echoes a huge value whole."""

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]")


class GosvcError(Exception):
    """A failure the user can act on; its text is shown as is, without a traceback."""

    exit_code = 1


class InvalidInputError(GosvcError):
    """Bad input: an answer, an argument or a file the user gave."""

    exit_code = 2


class InvalidAnswerError(InvalidInputError):
    """An answer that breaks a question's rule."""

    def __init__(self, question: str, reason: str) -> None:
        super().__init__(f"invalid answer for {question}: {reason}")
        self.question = question
        self.reason = reason


class TemplateSourceError(InvalidInputError):
    """The template to render from cannot be found or read."""


class ToolMissingError(GosvcError):
    """A tool a command needs is not installed."""

    exit_code = 2


def printable(text: str) -> str:
    """`text` with control and invisible characters (and undecodable bytes) escaped, so that it prints as one
    line that shows what is there."""
    escaped = _CONTROL.sub(lambda match: match.group().encode("unicode_escape").decode("ascii"), text)
    return escaped.encode("utf-8", "backslashreplace").decode("utf-8")


def one_line(text: str, limit: int = MESSAGE_LIMIT) -> str:
    """`text` as one bounded line: whitespace runs joined, control and invisible characters escaped, cut at `limit`."""
    shown = printable(" ".join(text.split()))
    return shown if len(shown) <= limit else shown[: limit - 3] + "..."


def shown_value(value: object, limit: int = 40) -> str:
    """A value as a message quotes it: repr-escaped, and cut when long."""
    text = str(value)
    if len(text) <= limit:
        return repr(text) if isinstance(value, str) else repr(value)
    return f"{text[:limit]!r}... ({len(text)} characters)"
