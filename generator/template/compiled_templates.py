"""Jinja templates compiled once, kept by content for every later render.

Copier builds a new Jinja environment for each render and compiles every template, include and templated
path or question default from its source: most of the Python time of `gosvc new`, and three renders' worth in
`gosvc update` (the old version, the new one, the merge base), over sources that rarely change between runs.
A compiled template is a function of the source, its name and the environment's configuration only, so the
code object is kept under the hash of those: in memory for the process, and on disk under the user's cache
folder for the next process. The configuration's hash covers what Jinja reads at compile time: delimiters and
whitespace options, extensions, autoescape and finalize, the filters and tests (which the optimizer calls on
constants) and the source of the modules that define them, and the Python and Jinja versions.

An entry carries its own key, is written whole under a temporary name and renamed: a torn, corrupt or foreign
entry is a miss and is compiled again. The folder is bounded: past its size, the least recently used go.
"""

from __future__ import annotations

import contextlib
import hashlib
import marshal
import os
import sys
import tempfile
import weakref
from collections.abc import Callable, Iterable
from pathlib import Path
from types import CodeType, ModuleType
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from generator.runtime.user_cache import cache_folder, prune_least_recently_used

LIMIT_BYTES = 64 * 1024 * 1024
_KEY_BYTES = 64  # the hex key that opens every entry

_compiled: dict[str, CodeType] = {}
_module_digests: dict[str, str] = {}
_configurations: weakref.WeakKeyDictionary[jinja2.Environment, tuple[tuple[int, int, int], str]] = (
    weakref.WeakKeyDictionary()
)
_original_compile: Callable[..., Any] = SandboxedEnvironment.compile


def folder() -> Path:
    return cache_folder("templates")


def install() -> None:
    """Make every sandboxed Jinja environment (Copier's) compile through the cache. Idempotent."""
    if SandboxedEnvironment.compile is not _original_compile:
        return
    _prune(folder())
    # Copier builds its environments itself: the class is the one place to reach them. mypy refuses assigning a
    # method, and _compile's signature is Jinja's without its overloads.
    SandboxedEnvironment.compile = _compile  # type: ignore[assignment,method-assign]


def _compile(
    self: SandboxedEnvironment,
    source: Any,
    name: str | None = None,
    filename: str | None = None,
    raw: bool = False,
    defer_init: bool = False,
) -> Any:
    if raw or not isinstance(source, str):
        return _original_compile(self, source, name, filename, raw, defer_init)
    key = hashlib.sha256(
        "\0".join((configuration(self), str(name), str(defer_init), source)).encode("utf-8", "surrogatepass")
    ).hexdigest()
    code = _compiled.get(key) or _read(key)
    if code is None:
        code = _original_compile(self, source, name, filename, raw, defer_init)
        _write(key, code)
    _compiled[key] = code
    # The file name is only where a traceback points; the code is the same wherever the template was checked out.
    return _with_filename(code, filename or "<template>")


def configuration(environment: jinja2.Environment) -> str:
    """The hash of everything in `environment` that changes what Jinja compiles a source to (computed again when a
    filter, test or extension is added)."""
    sizes = (len(environment.filters), len(environment.tests), len(environment.extensions))
    known = _configurations.get(environment)
    if known is None or known[0] != sizes:
        known = (sizes, _configuration(environment))
        _configurations[environment] = known
    return known[1]


def _configuration(environment: jinja2.Environment) -> str:
    parts: list[object] = [
        type(environment).__module__,
        type(environment).__qualname__,
        sys.version,
        jinja2.__version__,
        environment.block_start_string,
        environment.block_end_string,
        environment.variable_start_string,
        environment.variable_end_string,
        environment.comment_start_string,
        environment.comment_end_string,
        environment.line_statement_prefix,
        environment.line_comment_prefix,
        environment.trim_blocks,
        environment.lstrip_blocks,
        environment.newline_sequence,
        environment.keep_trailing_newline,
        environment.optimized,
        environment.is_async,
        _describe(environment.autoescape),
        _describe(environment.finalize),
        sorted(environment.extensions),
        sorted((name, _describe(value)) for name, value in environment.filters.items()),
        sorted((name, _describe(value)) for name, value in environment.tests.items()),
    ]
    modules = _modules([*environment.extensions.values(), *environment.filters.values(), *environment.tests.values()])
    parts += sorted(_module_digest(module) for module in modules)
    return hashlib.sha256(repr(parts).encode()).hexdigest()


def _describe(value: object) -> str:
    """A name for a function, class or constant that is the same in every process (no addresses)."""
    if isinstance(value, bool | str | int | type(None)):
        return repr(value)
    target = getattr(value, "func", value)  # functools.partial
    kind = target if isinstance(target, type) else type(target)
    module = getattr(target, "__module__", None) or kind.__module__
    qualname = getattr(target, "__qualname__", None) or kind.__qualname__
    return f"{module}.{qualname}"


def _modules(values: Iterable[object]) -> set[ModuleType]:
    found = set()
    for value in values:
        target = getattr(value, "func", value)
        module = sys.modules.get(getattr(target, "__module__", None) or type(target).__module__)
        if module is not None:
            found.add(module)
    return found


def _module_digest(module: ModuleType) -> str:
    """The hash of a module's source: a filter whose code changed without a new version folds constants anew."""
    name = module.__name__
    if name not in _module_digests:
        location = getattr(module, "__file__", None)
        try:
            content = Path(location).read_bytes() if location else name.encode()
        except OSError:
            content = name.encode()
        _module_digests[name] = name + ":" + hashlib.sha256(content).hexdigest()
    return _module_digests[name]


def _with_filename(code: CodeType, filename: str) -> CodeType:
    if code.co_filename == filename:
        return code
    constants = tuple(_with_filename(item, filename) if isinstance(item, CodeType) else item for item in code.co_consts)
    return code.replace(co_filename=filename, co_consts=constants)


def _path(key: str) -> Path:
    return folder() / key[:2] / key


def _read(key: str) -> CodeType | None:
    path = _path(key)
    try:
        content = path.read_bytes()
        code = marshal.loads(content[_KEY_BYTES:]) if content[:_KEY_BYTES] == key.encode() else None
    except (OSError, ValueError, EOFError, TypeError):
        return None
    if not isinstance(code, CodeType):
        return None
    with contextlib.suppress(OSError):
        os.utime(path)  # recently used: pruned last
    return code


def _write(key: str, code: CodeType) -> None:
    path = _path(key)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("wb", dir=path.parent, suffix=".tmp", delete=False) as handle:
            handle.write(key.encode() + marshal.dumps(code))
        Path(handle.name).replace(path)
    except OSError:
        return  # a cache that cannot be written is only slower


def _prune(root: Path, limit: int = LIMIT_BYTES) -> None:
    prune_least_recently_used((path for path in root.glob("*/*") if path.is_file()), limit)
