"""YAML files that users write by hand, read so that no file can hang gosvc, exhaust its memory or crash it.

Answers files and data files hold a flat mapping of a few dozen scalars. A
file that is too big, not UTF-8, nested deeper than any answers file, or that
uses aliases (the "billion laughs" expansion) is refused with one sentence
naming the file and, where YAML tells, the line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from yaml.composer import ComposerError
from yaml.nodes import Node

from generator.runtime.errors import InvalidInputError, one_line

MAX_BYTES = 1 << 20
MAX_DEPTH = 16


class _Guarded:
    """Composer limits shared by both loaders: no aliases, bounded nesting."""

    _depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        loader: Any = self
        if loader.check_event(yaml.AliasEvent):
            event = loader.peek_event()
            raise ComposerError(None, None, "holds an alias (*name), which answers never need", event.start_mark)
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise ComposerError(None, None, f"nests deeper than {MAX_DEPTH} levels", loader.peek_event().start_mark)
            node: Node | None = super().compose_node(parent, index)  # type: ignore[misc]
            return node
        finally:
            self._depth -= 1


class TextLoader(_Guarded, yaml.BaseLoader):
    """Every scalar as the text written: `yes` stays "yes", `017` stays "017"."""


class TypedLoader(_Guarded, yaml.SafeLoader):
    """YAML 1.1 types, as Copier writes answers files."""


def load_mapping(path: Path, what: str, *, as_text: bool = False) -> dict[str, Any]:
    """The mapping in the YAML file at `path` (empty for an empty file); `what` names the file in errors."""
    data = _read_bounded(path, what)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise InvalidInputError(
            f"{what} {path} is not UTF-8 text (byte 0x{data[error.start]:02x} at offset {error.start})"
        ) from error
    try:
        loaded = yaml.load(text, Loader=TextLoader if as_text else TypedLoader)
    except yaml.MarkedYAMLError as error:
        where = f"line {error.problem_mark.line + 1}: " if error.problem_mark else ""
        raise InvalidInputError(f"{what} {path} is not valid YAML ({where}{one_line(str(error.problem))})") from error
    except yaml.YAMLError as error:
        raise InvalidInputError(f"{what} {path} is not valid YAML ({one_line(str(error))})") from error
    if loaded is None or loaded == "":
        return {}
    if not isinstance(loaded, dict):
        raise InvalidInputError(f"{what} {path} must hold a mapping of question: answer, not {type(loaded).__name__}")
    return {str(key): value for key, value in loaded.items()}


def _read_bounded(path: Path, what: str) -> bytes:
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except IsADirectoryError as error:
        raise InvalidInputError(f"cannot read {what} {path}: it is a folder") from error
    except OSError as error:
        raise InvalidInputError(f"cannot read {what} {path}: {error.strerror or error}") from error
    except ValueError as error:  # a NUL byte in the path
        raise InvalidInputError(f"cannot read {what} {path!r}: {error}") from error
    if len(data) > MAX_BYTES:
        raise InvalidInputError(f"{what} {path} is over {MAX_BYTES // 1024} KiB; answers take a few hundred bytes")
    return data
