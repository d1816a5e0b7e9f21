"""Check results kept by the content of what each check reads.

A result's key is the hash of: the check's name; the source of gosvc itself (a change to any check's code, or
to what it calls, is a new key); the version of each tool the check declares; the path and content of every
file of the repository its declared globs match; and the settings of the run it declares. Nothing else reaches
a check, so an equal key is an equal result; the test of the declarations (tests/test_check_inputs.py) proves
it for every check by garbling everything a check does not declare.

Only passes are kept: a failure, a crashed or timed-out tool and a missing tool run again next time. Entries
are written whole under a temporary name and renamed, and carry their own key: a torn, corrupt or foreign
entry is a miss, never an answer. The cache is bounded: past its size the least recently used entries go.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import yaml

from generator.runtime.errors import ToolMissingError
from generator.runtime.outcome import Outcome
from generator.runtime.user_cache import cache_folder, prune_least_recently_used
from generator.tools import TOOLS, Toolbox

T = TypeVar("T")

CACHE_ENV_VAR = "GOSVC_CACHE_DIR"
"""Where results are kept: the user-facing default is the user's cache folder."""
DEFAULT_LIMIT_BYTES = 64 * 1024 * 1024
_PACKAGE = Path(__file__).resolve().parent.parent
_SKIPPED_FOLDERS = {".git"}


def default_folder() -> Path:
    if configured := os.environ.get(CACHE_ENV_VAR):
        return Path(configured)
    return cache_folder("results")


@functools.cache
def code_version() -> str:
    """The hash of gosvc's own source and data files: any change to a check, or to what it calls, keys anew."""
    digest = hashlib.sha256()
    for path in sorted(_PACKAGE.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(_PACKAGE)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _tool_version(toolbox: Toolbox, name: str) -> str:
    """What identifies a tool's behaviour, as `toolbox` finds it: the pinned version, or what a system tool says of
    itself; "missing" when it is not installed, so that a check whose tool went away runs, and says so, instead of
    answering from the cache."""
    tool = TOOLS.get(name)
    try:
        path = str(toolbox.find(name)) if tool is not None else shutil.which(name)
    except ToolMissingError:
        path = None
    if path is None:
        return "missing"
    if tool is not None and tool.source != "system":
        return f"{tool.source}:{tool.version}:{'/'.join(tool.tags)}"
    return _says(path, name)


def tool_versions(toolbox: Toolbox, tools: Iterable[str]) -> dict[str, str]:
    """The version of each of `tools` as `toolbox` finds it, by name."""
    return {name: _tool_version(toolbox, name) for name in sorted(tools)}


@functools.cache
def _says(path: str, name: str) -> str:
    flag = {"go": ["env", "GOVERSION"], "java": ["-version"]}.get(name, ["--version"])
    try:
        said = subprocess.run([path, *flag], capture_output=True, text=True, check=False, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"unknown: {error}"
    return (said.stdout + said.stderr).strip()


ANSWERS_ONLY = "#answers:"
"""Between a file's path and a list of answer names in a check's globs (see `answers_read`): the check reads those
answers of the file (.copier-answers.yml) and nothing else of it: not the other answers, nor the keys Copier keeps
beside them (its `_commit`, `_src_path`). Renders of the same answers from two clones or two tags of the template
are one input, and so are variants that differ only in answers the check never reads. The test of the
declarations garbles the rest of the file."""


def answers_read(path: str, *names: str) -> str:
    """The glob of `path` read for the answers `names` alone."""
    return f"{path}{ANSWERS_ONLY}{','.join(sorted(names))}"


def answers_glob(glob: str) -> tuple[str, frozenset[str] | None]:
    """A glob's pattern, and the answers it reads of the files it matches (None: the whole file)."""
    pattern, marker, names = glob.partition(ANSWERS_ONLY)
    return pattern, frozenset(filter(None, names.split(","))) if marker else None


def matching_files(repo: Path, globs: Sequence[str]) -> list[str]:
    """The files of `repo` that `globs` match, as sorted relative POSIX paths (.git only where named)."""
    found: set[str] = set()
    for pattern, _ in map(answers_glob, globs):
        # "folder/**" is every file below the folder; pathlib (before 3.13) matches only folders with it.
        for path in repo.glob(pattern + "/*" if pattern.endswith("**") else pattern):
            relative = path.relative_to(repo)
            if path.is_file() and (pattern.startswith(".git/") or not _SKIPPED_FOLDERS & set(relative.parts)):
                found.add(relative.as_posix())
    return sorted(found)


def answers_only(repo: Path, globs: Sequence[str]) -> dict[str, frozenset[str]]:
    """The files `globs` read the answers of and nothing else, with the answers read of each."""
    whole = set(matching_files(repo, [glob for glob in globs if answers_glob(glob)[1] is None]))
    read: dict[str, frozenset[str]] = {}
    for pattern, names in map(answers_glob, globs):
        if names is None:
            continue
        for relative in set(matching_files(repo, [pattern])) - whole:
            read[relative] = read.get(relative, frozenset()) | names
    return read


def inputs_digest(repo: Path, globs: Sequence[str]) -> str:
    """The hash of the names and contents of the files `globs` match: what a check reads of the repository (of a
    file read with ANSWERS_ONLY alone, the answers it names)."""
    partial = answers_only(repo, globs)
    digest = hashlib.sha256()
    for relative in matching_files(repo, globs):
        digest.update(relative.encode() + b"\0")
        try:
            content = (repo / relative).read_bytes()
        except OSError as error:
            digest.update(f"unreadable {error.errno}".encode())
            continue
        names = partial.get(relative)
        digest.update(hashlib.sha256(content if names is None else _answers_of(content, names)).digest())
    return digest.hexdigest()


def _answers_of(content: bytes, names: frozenset[str]) -> bytes:
    """The answers `names` an answers file records; the file as it is where it holds no mapping."""
    try:
        recorded = yaml.safe_load(content)
    except yaml.YAMLError:
        return content
    if not isinstance(recorded, dict):
        return content
    answers = {str(key): value for key, value in recorded.items() if str(key) in names}
    return json.dumps(answers, sort_keys=True, default=str).encode()


def result_key(
    check: str,
    repo: Path,
    globs: Sequence[str],
    toolbox: Toolbox,
    tools: Iterable[str],
    settings: Iterable[tuple[str, str]],
) -> str:
    parts = {
        "check": check,
        "code": code_version(),
        "tools": tool_versions(toolbox, tools),
        "inputs": inputs_digest(repo, globs),
        "settings": dict(sorted(settings)),
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def remembered(
    cache: ResultCache | None,
    step: str,
    content: bytes,
    toolbox: Toolbox,
    tools: Iterable[str],
    compute: Callable[[], Outcome],
) -> Outcome:
    """A step of a check whose verdict depends on nothing but `content` and its tools, done once per content: its
    pass is kept under their hash, as a check's is under its inputs' (several variants share a Makefile's install
    recipe or an alert test suite while differing elsewhere). Without a cache it is done every time."""
    if cache is None:
        return compute()
    parts = {"step": step, "code": code_version(), "tools": tool_versions(toolbox, tools)}
    key = hashlib.sha256(json.dumps(parts, sort_keys=True).encode() + b"\0" + content).hexdigest()
    kept, outcome = cache.kept_or_computed(key, lambda: _keeping(compute()))
    if kept is not None:
        return Outcome(True, kept)
    assert outcome is not None
    return outcome


def _keeping(outcome: Outcome) -> tuple[Outcome, str | None]:
    return outcome, outcome.output if outcome.passed and outcome.cacheable else None


@dataclass(frozen=True)
class Stats:
    folder: Path
    entries: int
    size: int
    limit: int

    def as_json(self) -> dict[str, object]:
        """`gosvc cache --json`."""
        return {"folder": str(self.folder), "entries": self.entries, "bytes": self.size, "limit": self.limit}


class ResultCache:
    """Passing results by key, in one folder; safe to share between processes."""

    def __init__(self, folder: Path | None = None, limit: int = DEFAULT_LIMIT_BYTES) -> None:
        self.folder = folder or default_folder()
        self.limit = limit

    def _path(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}.json"

    def get(self, key: str) -> str | None:
        """The output kept under `key`, or None: a missing, torn or foreign entry is a miss."""
        path = self._path(key)
        try:
            entry = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(entry, dict) or entry.get("key") != key or not isinstance(entry.get("output"), str):
            return None
        with contextlib.suppress(OSError):
            os.utime(path)  # recently used: pruned last
        return str(entry["output"])

    def kept_or_computed(self, key: str, compute: Callable[[], tuple[T, str | None]]) -> tuple[str | None, T | None]:
        """(the output kept under `key`, None), or else (None, the value `compute` returns beside the output to keep,
        which None keeps from being kept), computed once however many processes ask at the same time."""
        kept = self.get(key)
        if kept is not None:
            return kept, None
        with self.computing(key):
            kept = self.get(key)
            if kept is not None:
                return kept, None
            value, output = compute()
            if output is not None:
                self.put(key, output)
            return None, value

    @contextlib.contextmanager
    def computing(self, key: str) -> Iterator[None]:
        """Held while the result under `key` is computed: a process or thread that asks for the same key meanwhile
        waits, then finds the result kept instead of computing it again (lanes that start together render the same
        variants). When the work fails, the waiter does it in turn: only passes are kept. A lock that cannot be
        taken, in a cache that cannot be written, stops nothing."""
        lock = self._path(key).with_suffix(".lock")
        try:
            lock.parent.mkdir(parents=True, exist_ok=True)
            handle = lock.open("a")
        except OSError:
            yield
            return
        with handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                # Gone before it is released: a waiter holding it finds the result; one that opens the name
                # afterwards locks a new file and at worst computes the result again, never a wrong one.
                with contextlib.suppress(OSError):
                    lock.unlink()
                fcntl.flock(handle, fcntl.LOCK_UN)

    def put(self, key: str, output: str) -> None:
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile("w", dir=path.parent, suffix=".tmp", delete=False) as handle:
                json.dump({"key": key, "output": output}, handle)
            Path(handle.name).replace(path)
        except OSError:
            return  # a cache that cannot be written is only slower
        self._prune()

    def _entries(self) -> list[Path]:
        return sorted(self.folder.glob("*/*.json")) if self.folder.is_dir() else []

    def stats(self) -> Stats:
        entries = self._entries()
        return Stats(self.folder, len(entries), sum(_size(path) for path in entries), self.limit)

    def clear(self) -> int:
        """Remove every entry; how many there were."""
        entries = self._entries()
        for path in entries:
            with contextlib.suppress(OSError):
                path.unlink()
        return len(entries)

    def _prune(self) -> None:
        prune_least_recently_used(self._entries(), self.limit)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0
