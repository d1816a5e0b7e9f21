"""Templates compiled once and kept by content: what a later render reads from the cache is what compiling would
have made, for the environment that asks, and a damaged entry is compiled again. Every render of the suite goes
through the cache; these tests show the ways it could answer wrongly and that it does not."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jinja2.sandbox import SandboxedEnvironment

from generator.template import compiled_templates


def shout(value: str) -> str:
    return value.upper()


def whisper(value: str) -> str:
    return value.lower()


@pytest.fixture
def compiles(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[list[str]]:
    """A cache of its own under `tmp_path`, installed; the sources Jinja really compiled, in order."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(SandboxedEnvironment, "compile", compiled_templates._original_compile)
    monkeypatch.setattr(compiled_templates, "_compiled", {})
    compiled: list[str] = []
    original = compiled_templates._original_compile

    def counting(self: Any, source: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(source, str):
            compiled.append(source)
        return original(self, source, *args, **kwargs)

    compiled_templates.install()
    monkeypatch.setattr(compiled_templates, "_original_compile", counting)
    yield compiled


def next_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """Forget what this process compiled: what follows reads the cache folder only, as the next gosvc would."""
    monkeypatch.setattr(compiled_templates, "_compiled", {})


def test_a_source_is_compiled_once_across_processes(compiles: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    source = "{% for item in items %}{{ item | upper }},{% endfor %}"
    assert SandboxedEnvironment().from_string(source).render(items=["a", "b"]) == "A,B,"
    next_process(monkeypatch)
    assert SandboxedEnvironment().from_string(source).render(items=["c"]) == "C,"
    assert compiles == [source]


def test_an_environment_that_compiles_otherwise_compiles_anew(
    compiles: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Delimiters, whitespace options and filters (whose result on a constant the optimizer writes into the code)
    are part of the key: each environment gets what it would have compiled."""
    source = "<< 'Hi' | tone >>  {{ x }}\n"
    loud = SandboxedEnvironment(variable_start_string="<<", variable_end_string=">>")
    loud.filters["tone"] = shout
    quiet = SandboxedEnvironment(variable_start_string="<<", variable_end_string=">>")
    quiet.filters["tone"] = whisper
    plain = SandboxedEnvironment(keep_trailing_newline=True)
    plain.filters["tone"] = shout
    assert loud.from_string(source).render(x=1) == "HI  {{ x }}"
    next_process(monkeypatch)
    assert quiet.from_string(source).render(x=1) == "hi  {{ x }}"
    assert plain.from_string(source).render(x=1) == "<< 'Hi' | tone >>  1\n"
    assert len(compiles) == 3


def test_a_damaged_or_foreign_entry_is_compiled_again(compiles: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    sources = ["{{ 1 + 1 }}", "{{ 'x' * 3 }}", "{% if y %}yes{% endif %}"]
    for source in sources:
        SandboxedEnvironment().from_string(source).render()
    entries = sorted(path for path in compiled_templates.folder().rglob("*") if path.is_file())
    assert len(entries) == 3
    torn, garbled, foreign = entries
    torn.write_bytes(torn.read_bytes()[:70])
    garbled.write_bytes(garbled.read_bytes()[:64] + os.urandom(200))
    foreign.write_bytes(torn.name.encode() + foreign.read_bytes()[64:])  # another key's header
    next_process(monkeypatch)
    assert [SandboxedEnvironment().from_string(source).render(y=True) for source in sources] == ["2", "xxx", "yes"]
    assert len(compiles) == 6


def test_the_code_names_the_file_that_asked(compiles: list[str]) -> None:
    """A template checked out in another folder shares the code, but a traceback points to its own file."""
    environment = SandboxedEnvironment()
    first = environment.compile("{{ a.b }}", "Makefile.jinja", "/one/Makefile.jinja")
    second = environment.compile("{{ a.b }}", "Makefile.jinja", "/two/Makefile.jinja")
    assert (first.co_filename, second.co_filename) == ("/one/Makefile.jinja", "/two/Makefile.jinja")
    nested = [const for const in second.co_consts if hasattr(const, "co_filename")]
    assert nested and all(const.co_filename == "/two/Makefile.jinja" for const in nested)
    assert len(compiles) == 1


@pytest.mark.usefixtures("compiles")
def test_the_folder_keeps_to_its_limit_dropping_the_least_recently_used() -> None:
    for number in range(6):
        SandboxedEnvironment().from_string(f"{{{{ {number} }}}}" + "x" * 2000).render()
    entries = sorted(path for path in compiled_templates.folder().rglob("*") if path.is_file())
    for age, path in enumerate(entries):
        os.utime(path, (time.time() - 1000 + age, time.time() - 1000 + age))
    size = entries[0].stat().st_size
    compiled_templates._prune(compiled_templates.folder(), limit=size * 4)
    assert sorted(path for path in compiled_templates.folder().rglob("*") if path.is_file()) == entries[3:]
