"""The service's Grafana dashboards: read into the Grafana Foundation SDK's typed model (the grafana-dashboard
tool, generator/resources/grafana_dashboard_main.go), the copies the manifests deploy equal to
monitoring/dashboards/, and every panel's queries run against the real Prometheus of the prometheus-e2e check
after real traffic, each returning data."""

from __future__ import annotations

import json
import math
import re
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from generator.checks.context import CheckContext
from generator.checks.prometheus import queries, scrape_config
from generator.runtime.outcome import Outcome
from generator.runtime.processes import http_get
from generator.tools import Toolbox

DASHBOARDS = Path("monitoring/dashboards")
COPIES = (Path("deploy/base/dashboard.json"), Path("deploy/chart/files/dashboard.json"))
"""What the kustomize base and the chart put in the ConfigMap the Grafana sidecar loads."""
RATE_INTERVAL = f"{4 * scrape_config.INTERVAL_SECONDS:g}s"
"""Grafana's $__rate_interval at the check's scrape interval: four scrapes (its smallest)."""
FILLED = {"$__rate_interval": RATE_INTERVAL, "$__interval": scrape_config.INTERVAL, "$namespace": ".*"}
"""What the check puts for the variables a panel's query may hold: every namespace, as the dashboard's "All"."""
PANELS_TIMEOUT_SECONDS = 4 * scrape_config.INTERVAL_SECONDS + 15
"""Four scrapes for a rate, with room for the rule evaluations after them."""
_VARIABLE = re.compile(r"\$\{?\w+\}?")


class DashboardError(Exception):
    """A dashboard the typed model refuses, or that the grafana-dashboard tool could not read."""


@dataclass(frozen=True)
class PanelQuery:
    """One query of one panel, as the typed model read it."""

    file: str
    panel: str
    ref: str
    expr: str

    def describe(self) -> str:
        return f"{self.file}: panel {self.panel!r}, query {self.ref}"


def dashboard_files(repo: Path) -> list[Path]:
    return sorted((repo / DASHBOARDS).glob("*.json"))


def panel_queries(repo: Path, files: list[Path], toolbox: Toolbox) -> list[PanelQuery]:
    """Every panel's query of `files`, read by the typed model; DashboardError when it refuses one."""
    result = toolbox.run("grafana-dashboard", *(str(path.relative_to(repo)) for path in files), cwd=repo)
    if result.returncode != 0:
        raise DashboardError((result.stderr or result.stdout).strip())
    return [PanelQuery(**item) for item in json.loads(result.stdout)]


def check_grafana_dashboard(context: CheckContext) -> Outcome:
    repo = context.repo
    dashboards = dashboard_files(repo)
    if not dashboards:
        return Outcome(False, f"no dashboard in {DASHBOARDS}/: the on-call engineer has nothing to look at")
    copies = [repo / copy for copy in COPIES if (repo / copy).is_file()]
    try:
        found = panel_queries(repo, dashboards + copies, context.tools)
    except DashboardError as error:
        return Outcome(False, f"the Grafana Foundation SDK's dashboard model refuses it: {error}")
    report = []
    for path in dashboards:
        name = str(path.relative_to(repo))
        own = [query for query in found if query.file == name]
        report.append(
            f"{name}: {len(own)} queries in {len({query.panel for query in own})} panels, read strictly by the "
            "Grafana Foundation SDK's dashboard model"
        )
    sources = {path: json.loads(path.read_text(encoding="utf-8")) for path in dashboards}
    for copy in copies:
        deployed = json.loads(copy.read_text(encoding="utf-8"))
        same = [path for path, board in sources.items() if deployed == board]
        if not same:
            return Outcome(
                False,
                f"{copy.relative_to(repo)}, which the manifests deploy, equals no dashboard of {DASHBOARDS}/: the "
                "dashboard Grafana shows is not the one proven",
            )
        report.append(f"{copy.relative_to(repo)} (deployed in a ConfigMap) equals {same[0].relative_to(repo)}")
    return Outcome(True, "\n".join(report))


def filled(expr: str) -> str:
    """`expr` with the dashboard's variables given the values of the check's run; DashboardError for another."""
    for name, value in FILLED.items():
        expr = expr.replace(name, value).replace("${" + name[1:] + "}", value)
    if unknown := _VARIABLE.search(expr):
        raise DashboardError(f"a query uses {unknown[0]}, a variable the check cannot fill: {expr}")
    return expr


def panels_without_data(base: str, found: list[PanelQuery], start: float, end: float) -> list[str]:
    """Each query of `found` that returns no series with a number from `start` to `end` (time.time()), described
    with what Prometheus answered."""
    empty = []
    for query in found:
        params = {"query": filled(query.expr), "start": f"{start:.3f}", "end": f"{end:.3f}"}
        params["step"] = scrape_config.INTERVAL
        url = f"{base}/api/v1/query_range?{urllib.parse.urlencode(params)}"
        status, body = http_get(url, timeout=10)
        if status != 200:
            empty.append(f"{query.describe()} is refused by Prometheus ({status}: {body[:200]}): {query.expr}")
            continue
        series = json.loads(body).get("data", {}).get("result") or []
        if not any(not math.isnan(float(value)) for item in series for _, value in item.get("values", [])):
            empty.append(f"{query.describe()} has no data: {query.expr}")
    return empty


def prove_panels(repo: Path, base: str, toolbox: Toolbox, start: float) -> str:
    """The line of the prometheus-e2e report: every panel's query returns data over the range from `start`
    (time.time(), before the traffic) within PANELS_TIMEOUT_SECONDS, as a dashboard opened then would show it;
    E2EFailure naming each that does not. (A series the traffic creates has one sample after the first scrape:
    rates and the ratios recorded from them need a second, and a rule evaluation after it.)"""
    files = dashboard_files(repo)
    if not files:
        return f"no dashboard in {DASHBOARDS}/: no panel to run (the grafana-dashboard check says so)"
    started = time.monotonic()
    try:
        found = panel_queries(repo, files, toolbox)
        while empty := panels_without_data(base, found, start, time.time()):
            if time.monotonic() - started > PANELS_TIMEOUT_SECONDS:
                raise queries.E2EFailure(
                    f"{PANELS_TIMEOUT_SECONDS:.0f}s after the traffic, a dashboard panel shows nothing: "
                    + "; ".join(empty)
                )
            time.sleep(scrape_config.INTERVAL_SECONDS / 2)
    except DashboardError as error:
        raise queries.E2EFailure(f"the dashboard: {error}") from error
    panels = len({(query.file, query.panel) for query in found})
    return (
        f"every query of the dashboard's {panels} panels returned data ({len(found)} queries, "
        f"{time.monotonic() - started:.1f}s after the traffic was counted; $__rate_interval {RATE_INTERVAL})"
    )
