"""The runner's contract, on checks made for the test (no tool, no render): five statuses, results kept only when
they are passes, a cache that never answers wrongly, and a bug of gosvc's that is one row and a log, not a lost
table. What the real checks do is test_checks' and test_check_inputs' business."""

from __future__ import annotations

import concurrent.futures
import contextlib
import json
import re
import threading
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

from generator import checks
from generator.checks import runner
from generator.checks.cache import ResultCache, answers_read, inputs_digest, remembered, result_key
from generator.checks.prometheus import rules as rules_check
from generator.checks.steps import has
from generator.cli.main import main
from generator.runtime.errors import ToolMissingError
from generator.runtime.outcome import Outcome
from generator.tools import Toolbox
from tests.conftest import HANG_GUARD_SECONDS

RUNS: list[str] = []


def _counting(name: str, outcome: Outcome) -> checks.Check:
    def run(_: checks.CheckContext) -> Outcome:
        RUNS.append(name)
        return outcome

    return checks.Check(name, has("input.txt"), run, name, ("input.txt",), ())


def _raising(name: str, error: Exception) -> checks.Check:
    def run(_: checks.CheckContext) -> Outcome:
        raise error

    return checks.Check(name, has("input.txt"), run, name, ("input.txt",), ())


@pytest.fixture
def table(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A repository of one file, and a table of checks made for the test."""
    RUNS.clear()
    monkeypatch.setattr(
        runner,
        "CHECKS",
        (
            _counting("passes", Outcome(True, "fine")),
            _counting("fails", Outcome(False, "broken")),
            _counting("crashes", Outcome(False, "killed", cacheable=False)),
            _raising("missing-tool", ToolMissingError("frobnicate 1.0 is not installed: run `gosvc tools install`")),
            _raising("missing-package", ModuleNotFoundError("No module named 'frob'", name="frob")),
            _raising("bug", TypeError("'NoneType' object is not subscriptable")),
        ),
    )
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "user-cache"))
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / ".copier-answers.yml").write_text("service_name: repo\n")  # gosvc check runs on a generated repository
    (repo / "input.txt").write_text("one\n")
    return repo


def test_each_outcome_has_its_status_and_only_passes_are_kept(table: Path, tmp_path: Path) -> None:
    cache = ResultCache(tmp_path / "results")
    context = checks.CheckContext(table, cache=cache)

    first = {result.check: result for result in checks.run_checks(context)}
    second = {result.check: result for result in checks.run_checks(context)}

    assert {name: result.status for name, result in first.items()} == {
        "passes": checks.PASS,
        "fails": checks.FAIL,
        "crashes": checks.FAIL,
        "missing-tool": checks.MISSING,
        "missing-package": checks.MISSING,
        "bug": checks.ERROR,
    }
    assert "pip install 'gosvc[tools]'" in first["missing-package"].output
    assert [name for name, result in second.items() if result.cached] == ["passes"]
    assert second["passes"].output == "fine"
    assert sorted(RUNS) == ["crashes", "crashes", "fails", "fails", "passes"]
    assert checks.exit_status(list(first.values())) == 70


def test_a_bug_is_one_row_that_names_its_log_and_the_others_still_run(table: Path) -> None:
    bug = checks.run_checks(table, ["bug", "passes"])

    assert [(result.check, result.status) for result in bug] == [("bug", checks.ERROR), ("passes", checks.PASS)]
    pointer = re.search(r"traceback in (\S+)\)", bug[0].output)
    assert pointer, bug[0].output
    log = Path(pointer.group(1))
    assert "TypeError: 'NoneType' object is not subscriptable" in log.read_text()
    assert "\n" not in bug[0].output


def test_the_command_prints_the_table_and_exits_70_on_a_bug(
    table: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GOSVC_CACHE_DIR", str(tmp_path / "results"))

    status = main(["check", str(table), "--only", "passes,bug"])

    out = capsys.readouterr().out
    assert status == 70
    assert re.search(r"^passes\s+PASS", out, re.M) and re.search(r"^bug\s+ERROR", out, re.M)
    assert "a bug to report" in out


def test_an_unchanged_input_is_answered_from_the_cache_and_a_changed_one_is_not(
    table: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GOSVC_CACHE_DIR", str(tmp_path / "results"))

    def rows(*extra: str) -> dict[str, bool]:
        assert main(["check", str(table), "--only", "passes", "--json", *extra]) == 0
        return {row["check"]: row["cached"] for row in json.loads(capsys.readouterr().out)}

    assert rows() == {"passes": False}
    assert rows() == {"passes": True}
    assert rows("--no-cache") == {"passes": False}
    (table / "unread.txt").write_text("a file no check declares\n")
    assert rows() == {"passes": True}
    (table / "input.txt").write_text("two\n")
    assert rows() == {"passes": False}
    assert RUNS == ["passes", "passes", "passes"]


def test_a_torn_or_foreign_entry_is_a_miss(tmp_path: Path) -> None:
    cache = ResultCache(tmp_path / "results")
    key = result_key("passes", tmp_path, (), Toolbox(tmp_path / "tools"), (), ())
    cache.put(key, "fine")
    entry = next((tmp_path / "results").glob("*/*.json"))

    assert cache.get(key) == "fine"
    entry.write_text(entry.read_text()[:10])
    assert cache.get(key) is None
    entry.write_text(json.dumps({"key": "another", "output": "wrong"}))
    assert cache.get(key) is None


def test_the_cache_keeps_to_its_bound_dropping_the_least_recently_used(tmp_path: Path) -> None:
    cache = ResultCache(tmp_path / "results", limit=4000)
    keys = [result_key(f"check-{index}", tmp_path, (), Toolbox(tmp_path / "tools"), (), ()) for index in range(40)]

    for key in keys:
        cache.put(key, "x" * 200)

    assert cache.stats().size <= 4000
    assert cache.get(keys[-1]) is not None and cache.get(keys[0]) is None


def test_the_inputs_digest_is_of_contents_and_names_not_times(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("same")
    before = inputs_digest(tmp_path, ("*.txt",))
    (tmp_path / "a.txt").touch()
    assert inputs_digest(tmp_path, ("*.txt",)) == before
    (tmp_path / "a.txt").rename(tmp_path / "b.txt")
    assert inputs_digest(tmp_path, ("*.txt",)) != before


def test_a_file_read_for_some_answers_is_keyed_by_those_answers_alone(tmp_path: Path) -> None:
    answers = tmp_path / ".copier-answers.yml"
    answers.write_text("_commit: v1\napi: http\nci_system: jenkins\n")
    read_api = (answers_read(".copier-answers.yml", "api"),)
    before = inputs_digest(tmp_path, read_api)

    answers.write_text("_commit: v2\napi: http\nci_system: gitlab-ci\n")
    assert inputs_digest(tmp_path, read_api) == before
    assert inputs_digest(tmp_path, (*read_api, ".copier-answers.yml")) != before, "a whole read keeps it whole"
    answers.write_text("_commit: v2\napi: grpc\nci_system: gitlab-ci\n")
    assert inputs_digest(tmp_path, read_api) != before


def test_the_list_is_the_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--list", "--json"]) == 0

    rows = json.loads(capsys.readouterr().out)
    assert [row["check"] for row in rows] == [check.name for check in checks.CHECKS]
    assert all(row["reads"] and row["cost"] in {"server", "build", "lint"} for row in rows)


def test_the_cache_command_shows_and_clears(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GOSVC_CACHE_DIR", str(tmp_path / "results"))
    ResultCache().put(result_key("passes", tmp_path, (), Toolbox(tmp_path / "tools"), (), ()), "fine")

    assert main(["cache", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["entries"] == 1
    assert main(["cache", "clear"]) == 0
    assert "removed 1 results" in capsys.readouterr().out
    assert ResultCache().stats().entries == 0


def test_a_tool_that_went_missing_changes_the_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A check whose tool is gone runs, and says so, instead of answering from a result kept when it was there."""
    (tmp_path / "input.txt").write_text("one\n")
    check = checks.Check("make-something", has("input.txt"), lambda _: Outcome(True), "", ("input.txt",), ("make",))
    context = checks.CheckContext(tmp_path)
    there = checks.key_of(check, context)

    monkeypatch.setenv("PATH", str(tmp_path / "no-tools"))

    assert checks.key_of(check, context) != there


def test_promtools_verdict_is_keyed_by_the_files_promtool_reads(tmp_path: Path) -> None:
    """Variants whose scrape configs differ share the verdict on their rules; a rule file a test names, even one
    other than alerts.yml, is part of it; a test whose rule files cannot be read keys on its whole folder."""
    folder = tmp_path / "prometheus"
    folder.mkdir()
    for name in ("alerts.yml", "prometheus.yml", "extra_rules.yml"):
        (folder / name).write_text("groups: []\n")
    test = folder / "alerts_test.yml"
    rules, tests = Path("prometheus/alerts.yml"), [Path("prometheus/alerts_test.yml")]
    read = partial(rules_check._read_by_promtool, tmp_path, rules, tests)

    test.write_text("rule_files: [alerts.yml]\ntests: []\n")
    assert read() == [rules, *tests]
    test.write_text("rule_files: [alerts.yml, extra_*.yml]\ntests: []\n")
    assert Path("prometheus/extra_rules.yml") in read()
    test.write_text("rule_files: [alerts.yml\n")
    assert Path("prometheus/prometheus.yml") in read()


def test_a_remembered_step_is_done_once_per_content_and_only_kept_when_it_passes(tmp_path: Path) -> None:
    cache = ResultCache(tmp_path / "results")
    done: list[str] = []

    def step(verdict: bool) -> Outcome:
        done.append("ran")
        return Outcome(verdict, "said")

    tools = Toolbox(tmp_path / "tools")
    assert remembered(cache, "step", b"same", tools, (), lambda: step(True)) == Outcome(True, "said")
    assert remembered(cache, "step", b"same", tools, (), lambda: step(True)).passed
    assert remembered(cache, "step", b"other", tools, (), lambda: step(False)) == Outcome(False, "said")
    assert remembered(cache, "step", b"other", tools, (), lambda: step(True)).passed, "a failure was not kept"
    assert remembered(None, "step", b"same", tools, (), lambda: step(True)).passed
    assert done == ["ran", "ran", "ran", "ran"]


class _ArrivalsCache(ResultCache):
    """A result cache that says when an asker reaches the lock of a key."""

    def __init__(self, folder: Path) -> None:
        super().__init__(folder)
        self.arrivals = threading.Semaphore(0)

    @contextlib.contextmanager
    def computing(self, key: str) -> Iterator[None]:
        self.arrivals.release()
        with super().computing(key):
            yield


@pytest.mark.parametrize("verdict", [True, False], ids=["a pass", "a failure"])
def test_identical_work_asked_for_at_once_is_done_once_when_it_passes(tmp_path: Path, verdict: bool) -> None:
    """Two lanes (threads here, processes in CI) that reach the same inputs together: the second waits for the
    first and takes its pass; a failure is not kept, so the second does the work itself."""
    cache = _ArrivalsCache(tmp_path / "results")
    release = threading.Event()
    done: list[str] = []

    def slow_step() -> Outcome:
        done.append("ran")
        release.wait(timeout=HANG_GUARD_SECONDS)
        return Outcome(verdict, "said")

    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        first = pool.submit(remembered, cache, "step", b"same", Toolbox(tmp_path / "tools"), (), slow_step)
        assert cache.arrivals.acquire(timeout=HANG_GUARD_SECONDS)
        second = pool.submit(remembered, cache, "step", b"same", Toolbox(tmp_path / "tools"), (), slow_step)
        assert cache.arrivals.acquire(timeout=HANG_GUARD_SECONDS), "the second asker reached the lock"
        release.set()

        assert first.result(timeout=HANG_GUARD_SECONDS) == Outcome(verdict, "said")
        assert second.result(timeout=HANG_GUARD_SECONDS) == Outcome(verdict, "said")
    assert done == (["ran"] if verdict else ["ran", "ran"])
