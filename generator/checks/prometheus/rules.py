"""The `prometheus-rules` check: prometheus/alerts.yml and every PrometheusRule the deploy folder renders, through
promtool's rule check and the repository's rule unit tests.

A PrometheusRule carries the rules of prometheus/alerts.yml (the template
renders both from one source). Each rendering of it (every overlay, every
values file of the chart) must hold the same groups; a spec that is anything
but exactly those groups is also checked and tested by promtool as a rule file
of its own, so that the unit tests prove what prometheus-operator would load (a
spec of exactly those groups is the rule file promtool has just tested).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from functools import partial
from pathlib import Path
from typing import Any

import yaml

from generator.checks.cache import ResultCache, remembered
from generator.checks.context import CheckContext
from generator.checks.steps import command
from generator.project import kube
from generator.runtime.outcome import Outcome
from generator.tools import Toolbox

ALERTS = Path("prometheus") / "alerts.yml"


def check_prometheus_config(context: CheckContext) -> Outcome:
    """promtool's syntax check of the scrape configs: prometheus/kubernetes.yml is there unless prometheus-operator
    alone finds the service."""
    names = ("prometheus/prometheus.yml", "prometheus/kubernetes.yml")
    configs = [name for name in names if (context.repo / name).is_file()]
    return command("promtool", "check", "config", "--syntax-only", *configs)(context)


def check_prometheus_rules(repo: Path, toolbox: Toolbox, cache: ResultCache | None = None) -> Outcome:
    """With a `cache`, promtool's verdict on the same rules and tests (byte for byte) is reached once."""
    tests = sorted(path.relative_to(repo) for path in (repo / "prometheus").glob("*_test.yml"))
    if not tests:
        return Outcome(False, "prometheus/ holds no *_test.yml: the alert rules are untested")
    outcome = _promtool(repo, ALERTS, tests, toolbox, cache)
    if not outcome.passed:
        return outcome
    said = [outcome.output]
    problems: list[str] = []
    groups = yaml.safe_load((repo / ALERTS).read_text()).get("groups")
    tested = {"groups": groups}
    checked = {json.dumps(tested, sort_keys=True)}
    for rendered, rule in _prometheus_rules(repo, toolbox, problems):
        where = f"{rendered}: PrometheusRule/{rule.get('metadata', {}).get('name')}"
        spec = rule.get("spec") or {}
        if spec.get("groups") != groups:
            problems.append(f"{where}: its rules differ from {ALERTS}: {_first_difference(groups, spec.get('groups'))}")
        key = json.dumps(spec, sort_keys=True)
        if key in checked:
            if spec == tested:
                said.append(f"{where}: its spec is the groups of {ALERTS}, which promtool tested")
            continue
        checked.add(key)
        with tempfile.TemporaryDirectory(prefix="gosvc-rules-") as scratch:
            copy = Path(scratch)
            (copy / "prometheus").mkdir()
            (copy / ALERTS).write_text(yaml.safe_dump(spec, sort_keys=False))
            for test in tests:
                shutil.copy(repo / test, copy / test)
            found = _promtool(copy, ALERTS, tests, toolbox, cache)
        if not found.passed:
            problems.append(f"{where}: {found.output}")
        else:
            said.append(f"{where}: promtool check rules and test rules ({len(tests)} files) pass on its spec")
    return Outcome(not problems, "\n".join([*problems, *said]))


def _promtool(repo: Path, rules: Path, tests: list[Path], toolbox: Toolbox, cache: ResultCache | None) -> Outcome:
    read = _read_by_promtool(repo, rules, tests)
    content = b"".join(str(path).encode() + b"\0" + (repo / path).read_bytes() + b"\0" for path in read)
    content += json.dumps([str(rules), *map(str, tests)]).encode()
    run = partial(_run_promtool, repo, rules, tests, toolbox)
    return remembered(cache, "promtool rules", content, toolbox, ("promtool",), run)


def _read_by_promtool(repo: Path, rules: Path, tests: list[Path]) -> list[Path]:
    """What promtool reads: the rule file, the tests, and the rule files each test names (globs, relative to the
    test file). Variants whose scrape configs differ share one verdict on the same rules and tests. A test whose
    rule files cannot be read from it counts every file of its folder."""
    read = {rules, *tests}
    for test in tests:
        folder = (repo / test).parent
        try:
            named = yaml.safe_load((repo / test).read_bytes())["rule_files"]
            found = [path for pattern in named for path in folder.glob(pattern)]
        except (yaml.YAMLError, OSError, TypeError, KeyError, ValueError, NotImplementedError):
            found = list(folder.iterdir())
        read.update(path.relative_to(repo) for path in found if path.is_file() and path.is_relative_to(repo))
    return sorted(read)


def _run_promtool(repo: Path, rules: Path, tests: list[Path], toolbox: Toolbox) -> Outcome:
    checked = toolbox.run("promtool", "check", "rules", str(rules), cwd=repo)
    if checked.returncode != 0:
        return Outcome(False, (checked.stdout + checked.stderr).strip())
    tested = toolbox.run("promtool", "test", "rules", *map(str, tests), cwd=repo)
    return Outcome(tested.returncode == 0, (checked.stdout + tested.stdout + tested.stderr).strip())


def _prometheus_rules(repo: Path, toolbox: Toolbox, problems: list[str]) -> list[tuple[str, dict[str, Any]]]:
    if not (repo / kube.DEPLOY).is_dir():
        return []
    rendered, not_rendered = kube.render_all(repo, toolbox)
    problems += not_rendered
    return [(item.name, rule) for item in rendered for rule in item.of_kind("PrometheusRule")]


def _first_difference(expected: Any, found: Any, path: str = "groups") -> str:
    """Where `found` first departs from `expected`, as a path and both values (shortened)."""
    if isinstance(expected, dict) and isinstance(found, dict):
        for key in [*expected, *(key for key in found if key not in expected)]:
            if expected.get(key) != found.get(key):
                return _first_difference(expected.get(key), found.get(key), f"{path}.{key}")
    if isinstance(expected, list) and isinstance(found, list):
        for index, (want, got) in enumerate(zip(expected, found, strict=False)):
            if want != got:
                return _first_difference(want, got, f"{path}.{index}")
        if len(expected) != len(found):
            return f"{path} has {len(found)} items, not {len(expected)}"
    return f"{path} is {_short(found)}, not {_short(expected)}"


def _short(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 80 else text[:77] + "..."
