"""Answers given up front (--data, --data-file), checked before Copier sees them.

Copier validates each answer against its question's rule; what it cannot do
is name the question when a value has the wrong type or the key is unknown.
Text answers keep the text the user wrote: a data file's `description: yes`
is the word "yes", never the boolean true.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from generator.project.yamlfile import load_mapping
from generator.runtime.errors import InvalidAnswerError, InvalidInputError, shown_value
from generator.template.source import Question

_TRUE = {"true", "yes", "on", "y", "1"}
_FALSE = {"false", "no", "off", "n", "0"}
_LONGEST_NUMBER = 40
"""Characters of a whole-number answer read at most: no answer needs more, and int() of a huge text is slow."""

IDENTITY_QUESTIONS = ("service_name", "module_path")
"""Answers that name one service: a new service never takes them from another service's answers file."""


@dataclass(frozen=True)
class DataFile:
    """The answers a data file gives, and the ones it held but does not give."""

    answers: dict[str, Any]
    withheld: tuple[str, ...] = ()


def parse_data_args(items: Iterable[str]) -> dict[str, str]:
    """KEY=VALUE pairs from the command line."""
    data: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InvalidInputError(f"--data expects KEY=VALUE, got {shown_value(item)}")
        data[key.strip()] = value
    return data


def load_data_file(path: Path, *, identity: bool = False) -> DataFile:
    """A YAML mapping of answers, such as another service's .copier-answers.yml.

    A Copier answers file describes another service: its service name and
    module path are withheld unless `identity` asks for them.
    """
    loaded = load_mapping(path, "--data-file", as_text=True)
    answers = {key: value for key, value in loaded.items() if not key.startswith("_")}
    is_answers_file = "_src_path" in loaded or "_commit" in loaded
    withheld = tuple(name for name in IDENTITY_QUESTIONS if name in answers and is_answers_file and not identity)
    for name in withheld:
        del answers[name]
    return DataFile(answers=answers, withheld=withheld)


def coerce(questions: Mapping[str, Question], data: Mapping[str, Any]) -> dict[str, Any]:
    """Answers converted to their questions' types; unknown questions are an error."""
    coerced: dict[str, Any] = {}
    for name, value in data.items():
        question = questions.get(name)
        if question is None:
            known = ", ".join(sorted(questions))
            raise InvalidInputError(f"unknown question {shown_value(name)}; the questions are: {known}")
        coerced[name] = _coerce_one(question, value)
    return coerced


def _coerce_one(question: Question, value: Any) -> Any:
    if question.type == "int":
        converted: Any = _to_int(question.name, value)
    elif question.type == "float":
        converted = _to_float(question.name, value)
    elif question.type == "bool":
        converted = _to_bool(question.name, value)
    elif question.type == "str":
        if isinstance(value, (dict, list)) or value is None:
            raise InvalidAnswerError(question.name, f"must be text (got {type(value).__name__})")
        converted = str(value)
    else:
        converted = value
    if question.choices and converted not in question.choices:
        allowed = ", ".join(str(choice) for choice in question.choices)
        raise InvalidAnswerError(question.name, f"must be one of {allowed} (got {shown_value(value)})")
    return converted


def _to_int(name: str, value: Any) -> int:
    """A whole number as Copier reads one (Python's int(): digits of any script, `_` between them), bounded."""
    if isinstance(value, bool):
        raise InvalidAnswerError(name, f"must be a whole number (got {value!r})")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and len(value) <= _LONGEST_NUMBER:
        with contextlib.suppress(ValueError):
            return int(value)
    raise InvalidAnswerError(name, f"must be a whole number (got {shown_value(value)})")


def _to_float(name: str, value: Any) -> float:
    """A number as Copier reads one (Python's float()), bounded in length and finite."""
    if isinstance(value, bool):
        raise InvalidAnswerError(name, f"must be a number (got {value!r})")
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str) and len(value) <= _LONGEST_NUMBER:
        try:
            number = float(value)
        except ValueError:
            number = math.nan
    else:
        number = math.nan
    if not math.isfinite(number):
        raise InvalidAnswerError(name, f"must be a number such as 99.9 (got {shown_value(value)})")
    return number


def _to_bool(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower() if isinstance(value, (str, int)) else ""
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise InvalidAnswerError(name, f"must be true or false (got {shown_value(value)})")
