"""Hostile answers through `gosvc new`, plain `copier copy --trust` and `gosvc update --data`.

Every free-text and numeric answer is fed control and format characters, line
breaks, YAML keywords and typed scalars, quotes, template syntax and very long
values. Each one is either refused (exit 2, one line naming the question,
nothing written; plain Copier refuses it too) or accepted, and then every YAML
file still reads as the default render does (strings stay strings, under YAML
1.1 and 1.2) and the Go code is gofmt-, vet- and build-clean. No command may
print a traceback. A fixed sample of accepted hostile answers runs the full
`gosvc check`.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from generator import checks
from generator.update import answer_changes
from tests.conftest import budget, git
from tests.rules import DEFAULTS, LONGEST
from tests.template_versions import fingerprint

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("control_planes")]

BIN = Path(sys.executable).parent
FREE_TEXT = ["service_name", "organization", "module_path", "description", "image_registry", "cpu_request",
             "cpu_limit", "memory_request", "memory_limit", "ingress_namespace", "monitoring_namespace",
             "runbook_url"]  # fmt: skip
NUMERIC = ["http_port", "metrics_port", "replicas", "hpa_min_replicas", "hpa_max_replicas", "hpa_cpu_utilization",
           "slo_availability", "slo_latency_ms"]  # fmt: skip
# A refused answer may be reported under a question whose default it feeds.
DERIVED = {
    "service_name": {"module_path", "description", "image_registry", "runbook_url"},
    "organization": {"module_path", "image_registry", "runbook_url"},
    "module_path": {"runbook_url"},
    "http_port": {"metrics_port"},
    "cpu_request": {"cpu_limit"},
    "memory_request": {"memory_limit"},
    "replicas": {"hpa_max_replicas"},
    "hpa_min_replicas": {"hpa_max_replicas"},
}
TYPED = ["yes", "no", "on", "off", "y", "n", "true", "False", "null", "~", "123", "0x1f", "0o17", "017", "1e5",
         "2001-12-14", ".inf", "1:20", "-", "<<"]  # fmt: skip
SYNTAX = ["{{ service_name }}", "{% raw %}", "{#", "${{ secrets.TOKEN }}", "$(id)", "`id`", "'", '"', "\\", "#",
          ": x", "- x", "&a", "*a", "!!str", "%TAG", "@x", "|", ">", "[x]", "{x: y}", "<b>", "*emph*"]  # fmt: skip
BREAKS = ["\n", "\r", "\r\n", "\x85", "\u2028", "\u2029", "\x0b", "\x0c", "\t", " "]
INVISIBLE = ["\ufeff", "\u200b", "\u200e", "\u202e", "\u2066", "\x9b", "\x7f", "\x1b[31m", "\u00ad", "\ue000"]
NUMBERS = ["\u00b2", "\u0668\u0660\u0668\u0660", "1_024", "9" * 5000, "1" * 45, "-1", "0", " 8080 ", "8080.0",
           "1e3", "0x1f90", "+80"]  # fmt: skip


def _valid(question: str) -> str:
    return str(DEFAULTS[question])


_LABEL = st.from_regex(r"[a-z]([-a-z0-9]{0,20}[a-z0-9])?", fullmatch=True)
# Values each rule should accept although they look like something else: YAML keywords and typed scalars,
# Markdown and HTML, digits of other scripts, the longest lengths.
_UNUSUAL_BUT_VALID: dict[str, st.SearchStrategy[str]] = {
    "service_name": st.sampled_from(["yes", "no", "on", "off", "y", "n", "true", "false", "null", "s" * 50]) | _LABEL,
    "organization": st.sampled_from(["123", "0x1f", "1e5", "2001-12-14", "0o17", "017", "true", "null", "o" * 63]),
    "module_path": st.sampled_from(["example.com/yes", "x.io/a~b/c_d/v2", "gopkg.in/svc.v1", "a.b/" + "c" * 190]),
    "description": st.text(
        st.sampled_from([*"abcXYZ019 #*_[]()<>|~&!+-=.:;,?/%@{}^", "\u00e9", "\u4e2d", "\u2013", "\u2026", "\u20ac"]),
        min_size=1,
        max_size=200,
    ).map(lambda text: " ".join(text.split()) or "x"),
    "image_registry": st.sampled_from(["localhost", "1.2.3.4:5000/y", "registry.example.com/a__b/c-d", "x.io/123"]),
    "cpu_request": st.sampled_from(["1m", "0.001", "9999", "999999m"]),
    "cpu_limit": st.sampled_from(["none", "2", "64"]),
    "memory_request": st.sampled_from(["1", "1k", "64M", "1Ti"]),
    "memory_limit": st.sampled_from(["1Ti", "128Mi", "999999999Ti"]),
    "http_port": st.sampled_from(["1024", "\u0668\u0660\u0668\u0661", "65_535", " 8081 ", "+8081"]),
    "metrics_port": st.sampled_from(["1025", "9_100", " 9103 "]),
    "ingress_namespace": st.sampled_from(["yes", "null", "0x1f", "n" * 63, "2001-12-14"]),
    "monitoring_namespace": st.sampled_from(["on", "123", "m" * 63, "1e5"]),
    "slo_availability": st.sampled_from(["99", "99.99", "99.5", " 99.9 ", "9_9.9", "\u0669\u0669.\u0669"]),
    "slo_latency_ms": st.sampled_from(["1", "10000", "2_50", "\u0663\u0660\u0660"]),
    "runbook_url": st.sampled_from(["http://yes", "https://1.2.3.4:8443/a%20b/~c+d", "https://w.io/" + "p" * 280]),
    "replicas": st.sampled_from(["2", "\u0662", "0_2"]),
    "hpa_min_replicas": st.sampled_from(["1", "2", "\u0662"]),
    "hpa_max_replicas": st.sampled_from(["10", "1_000", "\u0663"]),
    "hpa_cpu_utilization": st.sampled_from(["1", "100", "\u0665\u0660"]),
}


@st.composite
def hostile_answers(draw: st.DrawFn) -> tuple[str, str]:
    question = draw(st.sampled_from(FREE_TEXT + NUMERIC))
    if draw(st.booleans()):
        return question, draw(_UNUSUAL_BUT_VALID[question])
    valid = _valid(question)
    token = draw(st.sampled_from(TYPED + SYNTAX + BREAKS + INVISIBLE + NUMBERS))
    value = draw(
        st.one_of(
            st.just(token),
            st.just(valid + token),
            st.just(token + valid),
            st.builds(lambda at: valid[:at] + token + valid[at:], st.integers(0, len(valid))),
            st.builds(lambda n: valid[:1] * n, st.sampled_from([64, 201, 256, 1000, 10_000])),
            st.text(st.characters(codec="utf-8", exclude_characters="\0"), min_size=1, max_size=30),
        )
    )
    return question, value.replace("\0", "")


def _run(*argv: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, cwd=cwd, capture_output=True, text=True, errors="replace", check=False, stdin=subprocess.DEVNULL
    )


_YAML_12 = YAML(typ="safe", pure=True)


def _pairs(raw: Any, typed: Any) -> Iterator[tuple[str, Any]]:
    """(text as written, value as typed) of every key and scalar, walking a raw and a typed load together."""
    if isinstance(raw, dict) and isinstance(typed, dict):
        for (raw_key, raw_item), (typed_key, typed_item) in zip(raw.items(), typed.items(), strict=True):
            yield raw_key, typed_key
            yield from _pairs(raw_item, typed_item)
    elif isinstance(raw, list) and isinstance(typed, list):
        for raw_item, typed_item in zip(raw, typed, strict=True):
            yield from _pairs(raw_item, typed_item)
    else:
        yield raw, typed


def retyped_answers(repo: Path, answer: str, baseline: Path | None = None) -> list[str]:
    """Places in YAML files where text holding `answer` reads as something other than a string, under YAML 1.1
    (PyYAML, as Copier and promtool's tests read it) or 1.2 (ruamel, as Go's yaml.v3 and kustomize read it).
    Places that `baseline`, a render with other answers, has too are the template's own (`maxUnavailable: 0`)."""
    constants = set(retyped_answers(baseline, answer)) if baseline else set()
    found = []
    for path in sorted(repo.rglob("*")):
        if path.suffix not in (".yml", ".yaml") or ".git" in path.parts:
            continue
        text = path.read_text(encoding="utf-8")
        raw_docs = list(yaml.load_all(text, Loader=yaml.BaseLoader))
        for loader, typed_docs in (
            ("YAML 1.1", list(yaml.safe_load_all(text))),
            ("YAML 1.2", list(_YAML_12.load_all(io.StringIO(text)))),
        ):
            for raw, typed in zip(raw_docs, typed_docs, strict=True):
                for written, value in _pairs(raw, typed):
                    holds = written == answer or (len(answer) >= 3 and answer in str(written))
                    if holds and not isinstance(value, str):
                        found.append(f"{path.relative_to(repo)} ({loader}): {written!r} reads as {value!r}")
    return [place for place in found if place not in constants]


GO_CHECKS = ["gofmt", "go-vet", "go-build"]


def go_problems(repo: Path, cache: checks.ResultCache) -> list[str]:
    """What gofmt, go vet and go build find in `repo`: through the checks and the suite's result cache, so that the
    many answers that leave the Go code as another answer left it are not compiled again."""
    results = checks.run_checks(checks.CheckContext(repo, cache=cache), GO_CHECKS)
    return [f"{result.check}: {result.output}" for result in results if result.status != checks.PASS]


@pytest.fixture(scope="module")
def baseline(template_repo: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default render, committed: what `gosvc update --data` changes."""
    dest = tmp_path_factory.mktemp("baseline") / "orders-api"
    result = _run(str(BIN / "gosvc"), "new", str(dest), "--defaults", "--template", str(template_repo))
    assert result.returncode == 0, result.stderr
    return dest


@pytest.fixture
def scratch() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="gosvc-hostile-") as folder:
        yield Path(folder)


def _assert_refused(result: subprocess.CompletedProcess[str], question: str, where: str) -> None:
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, (where, result.returncode, result.stderr[-2000:])
    assert len(lines) == 1 and lines[0].startswith("gosvc: "), (where, lines[:5])
    assert len(lines[0]) <= 600, (where, len(lines[0]))
    named = {question} | DERIVED.get(question, set())
    assert any(name in lines[0] for name in named), (where, lines[0])


@settings(max_examples=budget(20), suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=hostile_answers())
@example(case=("organization", "1e5"))  # text YAML 1.2 reads as a number, which the answers file once wrote plain
def test_a_hostile_answer_is_refused_in_one_line_or_renders_clean_output(
    case: tuple[str, str], template_repo: Path, baseline: Path, scratch: Path, result_cache: checks.ResultCache
) -> None:
    question, value = case
    run_root = Path(tempfile.mkdtemp(dir=scratch))
    dest = run_root / "svc" / "orders-api"
    data = f"{question}={value}"

    made = _run(str(BIN / "gosvc"), "new", str(dest), "--defaults", "--template", str(template_repo), "--data", data)
    copied = _run(
        str(BIN / "copier"), "copy", "--trust", "--defaults", "--vcs-ref", "v1.0.0", "--data", data,
        str(template_repo), str(run_root / "copier" / "orders-api"),
    )  # fmt: skip
    updated_project = shutil.copytree(baseline, run_root / "update" / "orders-api", symlinks=True)
    before = fingerprint(updated_project)
    updated = _run(str(BIN / "gosvc"), "update", str(updated_project), "--data", data, "--json")

    assert "Traceback" not in made.stderr + updated.stderr
    accepted = made.returncode == 0
    event(f"{question}: {'accepted' if accepted else 'refused'}")
    assert (copied.returncode == 0) == accepted, ("plain copier disagrees", made.stderr, copied.stderr[-500:])
    if not accepted:
        _assert_refused(made, question, "gosvc new")
        assert not (run_root / "svc").exists() or not any((run_root / "svc").iterdir()), "nothing is written"
        _assert_refused(updated, question, "gosvc update --data")
        assert fingerprint(updated_project) == before
        return

    if question in FREE_TEXT:
        assert retyped_answers(dest, value, baseline) == []
    written = answer_changes.as_written(dest, git(dest, "rev-parse", "HEAD").strip())
    assert written is not None, "the digest the answers file records is that of its answers, as they read back"
    assert go_problems(dest, result_cache) == []
    if updated.returncode == 2 and "files you own still hold" in updated.stderr:
        assert fingerprint(updated_project) == before  # a name the team's own files use: refused, untouched
        return
    assert updated.returncode == 0, updated.stderr[-2000:]
    if question in FREE_TEXT:
        assert retyped_answers(updated_project, value, baseline) == []
    assert go_problems(updated_project, result_cache) == []


def test_retyped_answers_finds_an_answer_yaml_reads_as_another_type(tmp_path: Path) -> None:
    repo, baseline = tmp_path / "repo", tmp_path / "baseline"
    repo.mkdir()
    baseline.mkdir()
    (repo / "svc.yaml").write_text("name: yes\nlabels: {part-of: 0x1f}\nimage: 'yes:main'\nport: 8080\n")
    (baseline / "svc.yaml").write_text("name: orders\nlabels: {part-of: 0x1f}\n")

    assert [place.split(": ")[0] for place in retyped_answers(repo, "yes")] == ["svc.yaml (YAML 1.1)"]
    assert len(retyped_answers(repo, "0x1f")) == 2  # an int under YAML 1.1 and 1.2 alike
    assert retyped_answers(repo, "0x1f", baseline) == []  # the template's own text, not the answer
    assert len(retyped_answers(repo, "yes", baseline)) == 1


# The accepted hostile answers that stress the most files at once, through every check.
SAMPLE = {
    "yaml-keywords": {
        "service_name": "yes",
        "organization": "0x1f",
        "description": "# Orders *fast* <b>api</b> | ok",
        "deploy_format": "both",
        "monitoring": "both",
        "gitops": "argocd",
        "argocd_project": "null",
        "owner": "group:on/true",
        "system": "2001-12-14",
        "tracing": "otlp",
        "otlp_endpoint": "http://yes.null.svc:4318",
        "api": "both",
    },
    "longest": LONGEST,
    "numbers": {
        "http_port": "\u0668\u0660\u0668\u0661",
        "replicas": "1_0",
        "hpa_max_replicas": "+20",
        "hpa_cpu_utilization": " 50 ",
    },
}


@pytest.mark.parametrize("answers", SAMPLE.values(), ids=SAMPLE.keys())
def test_accepted_hostile_answers_pass_every_check(
    answers: dict[str, str],
    template_repo: Path,
    scratch: Path,
    control_planes: dict[str, Path],
    result_cache: checks.ResultCache,
) -> None:
    dest = scratch / str(answers.get("service_name", "orders-api"))
    argv = [str(BIN / "gosvc"), "new", str(dest), "--defaults", "--template", str(template_repo)]
    for key, value in answers.items():
        argv += ["--data", f"{key}={value}"]
    made = _run(*argv)
    assert made.returncode == 0, made.stderr

    results = checks.run_checks(checks.CheckContext.from_environment(dest, planes=control_planes, cache=result_cache))

    assert {r.check: r.output for r in results if r.status not in (checks.PASS, checks.NOT_APPLICABLE)} == {}
