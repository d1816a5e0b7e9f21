"""Answers given up front (--data, --data-file), checked before Copier sees them.

Copier validates each answer against its question's rule; what it cannot do
is name the question when a value has the wrong type or the key is unknown.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from generator.errors import InvalidAnswerError, InvalidInputError
from generator.template import Question

_TRUE = {"true", "yes", "on", "y", "1"}
_FALSE = {"false", "no", "off", "n", "0"}


def parse_data_args(items: Iterable[str]) -> dict[str, str]:
    """KEY=VALUE pairs from the command line."""
    data: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InvalidInputError(f"--data expects KEY=VALUE, got {item!r}")
        data[key.strip()] = value
    return data


def load_data_file(path: Path) -> dict[str, Any]:
    """A YAML mapping of answers, such as a saved .copier-answers.yml."""
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise InvalidInputError(f"cannot read --data-file {path}: {error.strerror}") from error
    except yaml.YAMLError as error:
        raise InvalidInputError(f"--data-file {path} is not valid YAML: {error}") from error
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise InvalidInputError(f"--data-file {path} must hold a mapping of question: answer")
    return {str(key): value for key, value in loaded.items() if not str(key).startswith("_")}


def coerce(questions: Mapping[str, Question], data: Mapping[str, Any]) -> dict[str, Any]:
    """Answers converted to their questions' types; unknown questions are an error."""
    coerced: dict[str, Any] = {}
    for name, value in data.items():
        question = questions.get(name)
        if question is None:
            known = ", ".join(sorted(questions))
            raise InvalidInputError(f"unknown question {name!r}; the questions are: {known}")
        coerced[name] = _coerce_one(question, value)
    return coerced


def _coerce_one(question: Question, value: Any) -> Any:
    if question.type == "int":
        converted: Any = _to_int(question.name, value)
    elif question.type == "bool":
        converted = _to_bool(question.name, value)
    elif question.type == "str":
        if isinstance(value, (dict, list)) or value is None:
            raise InvalidAnswerError(question.name, f"must be text (got {value!r})")
        converted = str(value)
    else:
        converted = value
    if question.choices and converted not in question.choices:
        allowed = ", ".join(str(choice) for choice in question.choices)
        raise InvalidAnswerError(question.name, f"must be one of {allowed} (got {value!r})")
    return converted


def _to_int(name: str, value: Any) -> int:
    if isinstance(value, bool):
        raise InvalidAnswerError(name, f"must be a whole number (got {value!r})")
    if isinstance(value, int):
        return value
    text = str(value).strip()
    if text.lstrip("-").isdigit():
        return int(text)
    raise InvalidAnswerError(name, f"must be a whole number (got {value!r})")


def _to_bool(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise InvalidAnswerError(name, f"must be true or false (got {value!r})")
