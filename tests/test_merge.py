"""The structure-aware merges an update tries where a line merge conflicts (generator/merge): what they settle, what
they refuse, and that a settled file holds both sides' changes and nothing else.

The update tests and the corpus benchmark show them settling real updates; these show the merges alone, over any
settings and edits hypothesis makes, which no update test could afford."""

from __future__ import annotations

from random import Random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from generator.merge import keyed
from generator.merge.text import Text, line_merge
from generator.merge.three_way import three_way
from generator.tools import Toolbox

NAMES = st.from_regex(r"[A-Z][A-Z0-9_]{0,8}", fullmatch=True)
VALUES = st.from_regex(r"[a-z0-9.]{0,6}", fullmatch=True)


def _env(settings: dict[str, str], order: list[str] | None = None) -> str:
    return "".join(f"{name}={settings[name]}\n" for name in (order if order is not None else settings))


def _settings(body: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in body.splitlines() if line and not line.startswith("#"))


@st.composite
def _edits(draw: st.DrawFn) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """A base of settings, and a team's and a template's edits of it that touch different names."""
    base = draw(st.dictionaries(NAMES, VALUES, min_size=1, max_size=8))
    names = sorted(base)
    team_names = set(draw(st.lists(st.sampled_from(names), unique=True)))
    sides = []
    for own in (team_names, set(names) - team_names):
        side = dict(base)
        for name in own:
            change = draw(st.sampled_from(["keep", "change", "delete"]))
            if change == "change":
                side[name] = draw(VALUES)
            elif change == "delete":
                del side[name]
        sides.append(side)
    team, template = sides
    for name in draw(st.lists(NAMES.filter(lambda name: name not in base), max_size=3, unique=True)):
        (team if draw(st.booleans()) else template)[name] = draw(VALUES)
    return base, team, template


@given(_edits(), st.randoms(use_true_random=False), st.booleans())
def test_an_env_merge_of_changes_to_different_settings_holds_both(
    edits: tuple[dict[str, str], dict[str, str], dict[str, str]], random: Random, crlf: bool
) -> None:
    base, team, template = edits
    order = list(team)
    random.shuffle(order)
    ours = _env(team, order) + "# the team's own note\n"
    if crlf:
        ours = ours.replace("\n", "\r\n")
    merged = three_way(
        "deploy/base/config.env", _env(base).encode(), ours.encode(), _env(template).encode(), Toolbox.default()
    )
    assert merged is not None
    text = merged.content.decode()
    expected = {**base, **team, **template}
    for name in base:
        if name not in team or name not in template:
            expected.pop(name, None)
        elif team[name] != base[name]:
            expected[name] = team[name]
        elif template[name] != base[name]:
            expected[name] = template[name]
    assert _settings(text.replace("\r\n", "\n")) == expected
    assert "# the team's own note" in text
    assert ("\r\n" in text) == crlf and (not crlf or text.count("\n") == text.count("\r\n"))
    kept = [line for line in text.replace("\r\n", "\n").splitlines() if line.split("=", 1)[0] in team]
    assert [line.split("=", 1)[0] for line in kept] == [name for name in order if name in expected]


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        ("LOG_LEVEL=debug\n", "LOG_LEVEL=warn\n"),  # one setting changed two ways
        ("", "LOG_LEVEL=warn\n"),  # the team removed what the template changed
        ("LOG_LEVEL=info\nLOG_LEVEL=debug\n", "LOG_LEVEL=info\nGOGC=200\n"),  # a name set twice
        ("LOG_LEVEL=info\nnot a setting\n", "LOG_LEVEL=info\nGOGC=200\n"),
    ],
)
def test_an_env_merge_gives_up_on_a_real_conflict(ours: str, theirs: str) -> None:
    assert keyed.merge_env("LOG_LEVEL=info\n", ours, theirs) is None


def test_an_ignore_merge_takes_both_sides_patterns_and_refuses_exceptions() -> None:
    base = "bin/\n.git\ndocker-compose.yml\n"
    ours = "*.log\nbin/\n.git\ndocker-compose.yml\ntmp/\n"
    theirs = "bin/\n.git\ncompose.yaml\n"
    assert keyed.merge_ignore(base, ours, theirs) == "*.log\nbin/\n.git\ncompose.yaml\ntmp/\n"
    assert keyed.merge_ignore(base, ours + "!bin/keep\n", theirs) is None


def test_line_endings_alone_do_not_make_a_conflict() -> None:
    base = "services:\n  api:\n    image: api\n"
    theirs = "name: orders\n\n" + base
    ours = base.replace("\n", "\r\n").encode()
    assert line_merge(base, base.replace("api:", "web:"), theirs.replace("api:", "api2:")) is None
    merged = three_way("compose.yaml", base.encode(), ours, theirs.encode(), Toolbox.default())
    assert merged is not None and merged.how == "line endings"
    assert merged.content == theirs.replace("\n", "\r\n").encode()


def test_a_merge_that_does_not_parse_is_not_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(keyed, "merge_env", lambda *_: "A=1\nnot a setting\n")
    assert three_way("x.env", b"A=1\n", b"A=1\nB=2\n", b"A=2\nC=3\n", Toolbox.default()) is None
    monkeypatch.setattr(keyed, "merge_env", lambda *_: "A=2\nB=2\nC=3\n")
    assert three_way("x.env", b"A=1\n", b"A=1\nB=2\n", b"A=2\nC=3\n", Toolbox.default()) is not None


def test_mixed_line_endings_and_binary_files_are_left_to_the_line_merge() -> None:
    assert Text.decoded(b"a\r\nb\n") is None
    assert Text.decoded(b"a\0b\n") is None
    assert three_way("x.env", b"A=1\n", b"A=1\r\nB=2\n", b"A=2\n", Toolbox.default()) is None


def test_mergiraf_settles_two_imports_and_two_functions_added_at_one_place() -> None:
    toolbox = Toolbox.default()
    toolbox.find("mergiraf")  # a missing mergiraf fails here, saying how to install it
    base = 'package a\n\nimport (\n\t"fmt"\n)\n\nfunc A() { fmt.Println("a") }\n'
    ours = base.replace('"fmt"\n', '"fmt"\n\t"os"\n') + "\nfunc B() { os.Exit(1) }\n"
    theirs = base.replace('"fmt"\n', '"fmt"\n\t"strings"\n') + '\nfunc C() string { return strings.ToUpper("c") }\n'
    assert line_merge(base, ours, theirs) is None
    merged = three_way("internal/a/a.go", base.encode(), ours.encode(), theirs.encode(), toolbox)
    assert merged is not None and merged.how == "mergiraf"
    text = merged.content.decode()
    assert all(part in text for part in ('"os"', '"strings"', "func B()", "func C()"))


def test_mergiraf_settles_two_dependency_bumps_on_adjacent_lines_of_go_mod() -> None:
    """A team's Renovate bumps one module and the template bumps the next one: a line conflict, no collision."""
    base = "module example.com/a\n\ngo 1.25\n\nrequire (\n\tgithub.com/x/a v1.0.0\n\tgithub.com/x/b v1.0.0\n)\n"
    ours, theirs = base.replace("a v1.0.0", "a v1.1.0"), base.replace("b v1.0.0", "b v1.2.0")
    assert line_merge(base, ours, theirs) is None
    merged = three_way("go.mod", base.encode(), ours.encode(), theirs.encode(), Toolbox.default())
    assert merged is not None and merged.how == "mergiraf"
    assert "github.com/x/a v1.1.0" in merged.content.decode() and "github.com/x/b v1.2.0" in merged.content.decode()
    both = base.replace("a v1.0.0", "a v1.3.0")
    assert three_way("go.mod", base.encode(), ours.encode(), both.encode(), Toolbox.default()) is None, "a collision"
