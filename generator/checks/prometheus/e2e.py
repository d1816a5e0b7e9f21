"""The `prometheus-e2e` check: the service and a real Prometheus on loopback, with the repository's own scrape
config and alert rules.

The service is built from its main package and run with the settings of
deploy/base/config.env (without a kustomize base: the `config` values of
deploy/chart/values.yaml), on free ports. Prometheus runs prometheus/prometheus.yml
with only its target addresses and its intervals changed, and the rule files it
names with every `for:` shortened (the output says to what). The check proves what
a scrape and a page depend on: Prometheus scrapes the service (up == 1); real
requests move the request counter and the latency histogram under the route's
pattern, never the path requested; a service that serves gRPC has every method of
proto/ called (grpcurl) and counted per method; nothing pages while the service is
up; and once the service has stopped, an alert of severity critical goes pending,
then firing. A service that traces exports to a real OpenTelemetry Collector on
loopback instead of its endpoint, with its own sampler: a request (and a call) that
carries a sampled traceparent must reach the collector as a span of that trace,
named after its route (or method), by the time the service has stopped.

Prometheus scrapes and evaluates every second here (INTERVAL), the shortened
`for:` are a few seconds, and every wait polls ten times a second (POLL_SECONDS).
What the check waits for, and why:
- Prometheus and any Collector are started first and the service is built
  meanwhile, then one wait ends when all of them answer: none needs another to start.
- up == 1 is awaited within two scrape intervals and slack: one scrape of a
  service that answers shows it, and the scrapers learn of their targets every
  INTERVAL too (--scrape.discovery-reload-interval, 5s by default).
- The counts of every request and call are awaited together once all were sent:
  the first scrape after the last request shows all of them.
- One rule evaluation after the counts were seen is awaited before the alerts are
  read: only an evaluation that saw the service up and its traffic tells whether
  anything pages while the service is up.
- The service's exit is awaited after SIGTERM, its SHUTDOWN_DRAIN_DELAY set to 0s:
  no load balancer drains it here, and its metrics keep up == 1 until the drain
  ends (the drain is the image check's to time, kubernetes-consistency's to check).
- The trace's spans are awaited up to SPANS_TIMEOUT_SECONDS from the exit: the
  shutdown flushes them before the process ends, so they are normally there at once.
- A critical alert firing is awaited for a scrape, three evaluations, its shortened
  `for:` and slack, and that it went pending first is read from Prometheus' own
  ALERTS{alertstate="pending"} series since the SIGTERM, which no poll can miss.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any

from generator.checks.context import CheckContext
from generator.checks.database.server import has_database, postgres_server
from generator.checks.prometheus import dashboards, queries, scrape_config, traffic
from generator.images.build import grpc_health
from generator.project.ports import grpc_port, service_ports
from generator.runtime.outcome import NOTE, Outcome
from generator.runtime.processes import Server, free_port, http_get, start
from generator.servers.collector import is_ready, start_collector
from generator.servers.postgres import PostgresError
from generator.tools import TOOLS, Toolbox

STARTUP_TIMEOUT_SECONDS = 60.0
SERVICE_TIMEOUT_SECONDS = 30.0

Wait = tuple[str, Callable[[], bool], float]
"""What a wait is for (as the output says it), the condition that ends it, and its timeout in seconds."""


def check_prometheus_e2e(context: CheckContext) -> Outcome:
    report: list[str] = []
    with tempfile.TemporaryDirectory(prefix="gosvc-prometheus-") as folder, contextlib.ExitStack() as servers:
        scratch = Path(folder)
        try:
            database = None
            if has_database(context):  # the service serves on a database of its own, migrated once it is built
                postgres = servers.enter_context(postgres_server(context))
                database = servers.enter_context(postgres.database("prometheus-e2e"))
            _run_scenario(context.repo.resolve(), context.answers, context.tools, scratch, servers, report, database)
        except (queries.E2EFailure, PostgresError) as failure:
            return Outcome(False, "\n".join([str(failure), *report]))
    return Outcome(True, "\n".join(report))


def _run_scenario(
    repo: Path,
    answers: Mapping[str, Any],
    toolbox: Toolbox,
    scratch: Path,
    servers: contextlib.ExitStack,
    report: list[str],
    database: str | None,
) -> None:
    if not (repo / scrape_config.CONFIG).is_file():
        raise queries.E2EFailure(f"no {scrape_config.CONFIG}: nothing tells Prometheus to scrape the service")
    http_port, service_metrics_port = service_ports(answers)
    serves_http = http_port is not None
    routes = traffic.api_routes(repo) if serves_http else {}
    api_port, metrics_port = free_port() if serves_http else None, free_port()
    rpc_port = free_port() if grpc_port(answers) else None
    prometheus_port = free_port()
    plan = scrape_config.adapt_config(
        repo, service_metrics_port, f"127.0.0.1:{metrics_port}", f"127.0.0.1:{prometheus_port}"
    )
    scaled, critical_for = scrape_config.write_rules(repo, scratch / "config", plan)
    (scratch / "config" / scrape_config.CONFIG.name).write_text(json.dumps(plan.config))
    settings = traffic.service_settings(repo)

    # Prometheus and the collector start while the service builds: none of them needs another to start.
    launched = time.monotonic()
    prometheus = servers.enter_context(_serving(_start_prometheus(scratch, prometheus_port, toolbox)))
    running = [prometheus]
    collector, endpoint = None, None
    if "OTEL_EXPORTER_OTLP_ENDPOINT" in settings:
        collector, endpoint = start_collector(scratch, toolbox)
        running.append(servers.enter_context(_serving(collector)))
    binary, package = traffic.build_service(repo, scratch, toolbox)
    if database:
        settings["DATABASE_URL"] = database
        traffic.migrate(binary, settings, scratch)
        report.append("the service's database: a PostgreSQL database of its own on loopback, migrated up")
    built = time.monotonic()
    started = traffic.start_service(binary, settings, scratch, api_port, metrics_port, rpc_port, endpoint, toolbox)
    service = servers.enter_context(_serving(started))
    running.append(service)
    base = f"http://127.0.0.1:{prometheus_port}"
    api = f"http://127.0.0.1:{api_port}"
    address = f"127.0.0.1:{rpc_port}"
    readiness = _readiness(base, api if api_port else None, address, collector, toolbox)
    ready = max(_wait_for_all(readiness, *running))
    if collector:
        report.append(f"OpenTelemetry Collector {TOOLS['otelcol'].version} receiving OTLP/HTTP on {endpoint}")
    apis = ", ".join(f":{port} ({name})" for name, port in (("HTTP API", api_port), ("gRPC API", rpc_port)) if port)
    report.append(f"service built from {package}, serving 127.0.0.1{apis}, :{metrics_port} (metrics)")
    report.append(
        f"Prometheus {TOOLS['prometheus'].version} on 127.0.0.1:{prometheus_port}: it, the service (built in "
        f"{built - launched:.1f}s meanwhile) and any collector all ready {ready - launched:.1f}s after it started"
    )
    report.append(f"{scrape_config.CONFIG} adapted in target addresses only: {'; '.join(plan.changed)}")
    report.append(f"{NOTE}Prometheus scrapes and evaluates every {scrape_config.INTERVAL}: {'; '.join(plan.faster)}")
    report.append(
        f"{NOTE}alert rules run with `for:` shortened {scrape_config.TIME_SCALE}x (at least one evaluation): {scaled}"
    )
    drained = settings.get("SHUTDOWN_DRAIN_DELAY", "the service's default")
    report.append(f"{NOTE}SHUTDOWN_DRAIN_DELAY {drained} -> {traffic.DRAIN_DELAY}: no load balancer drains it here")

    job = plan.job
    window = 2 * scrape_config.INTERVAL_SECONDS + 10
    try:
        seconds = _wait_for(
            f"up{{job={json.dumps(job)}}} == 1", partial(queries.target_up, base, job), window, *running
        )
    except queries.E2EFailure as failure:
        raise queries.E2EFailure(f"{failure}; Prometheus says: {queries.scrape_errors(base, job)}") from failure
    report.append(
        f'up{{job="{job}"}} == 1 {seconds:.1f}s after all were ready (scrape interval {scrape_config.INTERVAL})'
    )

    token = "gosvc-" + secrets.token_hex(4)
    sending = time.time()
    sent = traffic.send_requests(api, routes, token) if api_port else {}
    called = traffic.send_calls(repo, address, toolbox) if rpc_port else {}
    trace_id = secrets.token_hex(16)
    traced = (
        traffic.send_traced(repo, api if api_port else None, routes, rpc_port, trace_id, token, toolbox)
        if collector
        else []
    )
    # One scrape after the last request shows every count: wait for all of them at once.
    counts = [
        (f"{query} >= {count}", partial(queries.has_counted, base, query, count), window)
        for query, count in _counts(job, sent, called)
    ]
    _wait_for_all(counts, *running)
    if api_port:
        report.append(
            f"{traffic.REQUESTS} and the {traffic.DURATION} histogram moved by "
            + ", ".join(f"{count} for route {label!r}" for label, count in sent.items())
        )
        leaked = queries.instant_query(base, f'count by (__name__, route) ({{job="{job}", route=~".*{token}.*"}})')
        if leaked:
            raise queries.E2EFailure(
                f"a route label holds the path requested, not its pattern: {queries.series_text(leaked)}"
            )
        report.append(f"no route label holds a requested path (requests to {token} paths)")
    if rpc_port:
        report.append(
            f"{traffic.CALLS} and the {traffic.CALL_DURATION} histogram moved by "
            + ", ".join(f"{count} for {method}" for method, count in called.items())
        )

    # Only an evaluation after the scrape that showed the traffic tells whether anything pages while it is up.
    counted = time.time()
    evaluated = _wait_for("a rule evaluation", partial(queries.evaluated_since, base, counted), window, *running)
    paging = [alert for alert in queries.active_alerts(base) if queries.pages_someone(alert)]
    if paging:
        raise queries.E2EFailure(f"while the service is up, {queries.describe_alerts(paging)}")
    report.append(
        f"no critical alert pending or firing while the service is up (rules evaluated {evaluated:.1f}s later)"
    )
    # The first requests created their series: only a second round is an increase a rate, and every ratio and
    # percentile of the dashboard, can see.
    if api_port:
        traffic.send_requests(api, routes, token)
    if rpc_port:
        traffic.send_calls(repo, address, toolbox)
    report.append(dashboards.prove_panels(repo, base, toolbox, sending - scrape_config.INTERVAL_SECONDS))

    terminated = time.time()
    exit_status = service.stop()
    report.append(f"service stopped by SIGTERM: exit status {exit_status} after {time.time() - terminated:.1f}s")
    if collector:
        report.append(traffic.spans_received(collector, trace_id, traced, str(answers.get("service_name", ""))))
    report.append(_page_after_stop(base, critical_for, terminated))


def _readiness(base: str, api: str | None, address: str, collector: Server | None, toolbox: Toolbox) -> list[Wait]:
    """What tells that Prometheus, the service (its HTTP API, else its gRPC health) and the collector are ready."""
    waits: list[Wait] = [
        ("Prometheus to be ready", lambda: http_get(f"{base}/-/ready")[0] == 200, STARTUP_TIMEOUT_SECONDS)
    ]
    if api:
        readyz = f"{api}/readyz"
        waits.append((f"the service to answer {readyz}", lambda: http_get(readyz)[0] == 200, SERVICE_TIMEOUT_SECONDS))
    else:
        serving = (f"{address} to answer SERVING", lambda: grpc_health(address, "", toolbox) == "SERVING")
        waits.append((*serving, SERVICE_TIMEOUT_SECONDS))
    if collector:
        waits.append(("the OpenTelemetry Collector to be ready", partial(is_ready, collector), STARTUP_TIMEOUT_SECONDS))
    return waits


def _counts(job: str, sent: dict[str, int], called: dict[str, int]) -> list[tuple[str, int]]:
    """The queries that count the requests `sent` by route label and the calls `called` by method, and at least
    what each must say."""
    counts = []
    for label, count in sent.items():
        route = f"job={json.dumps(job)}, route={json.dumps(label)}"
        for query in (
            f"sum({traffic.REQUESTS}{{{route}}})",
            f"sum({traffic.DURATION}_count{{{route}}})",
            f'sum({traffic.DURATION}_bucket{{{route}, le="+Inf"}})',
        ):
            counts.append((query, count))
    for method, count in called.items():
        rpc_service, rpc_method = (json.dumps(part) for part in method.rsplit("/", 1))
        labels = f"job={json.dumps(job)}, grpc_service={rpc_service}, grpc_method={rpc_method}"
        counts += [
            (f"sum({traffic.CALLS}{{{labels}}})", count),
            (f"sum({traffic.CALL_DURATION}_count{{{labels}}})", count),
        ]
    return counts


def _start_prometheus(scratch: Path, port: int, toolbox: Toolbox) -> Server:
    argv = [
        str(toolbox.find("prometheus")),
        f"--config.file={scratch / 'config' / scrape_config.CONFIG.name}",
        f"--storage.tsdb.path={scratch / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        # How often new targets reach the scrapers (a hidden flag, 5s by default): the first scrape waits for it.
        f"--scrape.discovery-reload-interval={scrape_config.INTERVAL}",
    ]
    return start("prometheus", argv, scratch / "prometheus.log")


@contextlib.contextmanager
def _serving(server: Server) -> Iterator[Server]:
    try:
        yield server
    finally:
        server.stop(timeout=45)


def _page_after_stop(base: str, scaled_for: float, terminated: float) -> str:
    """Wait for a critical alert to fire after the SIGTERM at `terminated` (time.time()); that it went pending
    first, Prometheus' own ALERTS series says (a poll might miss a short pending state, the series cannot)."""
    started = time.monotonic()
    deadline = started + scrape_config.INTERVAL_SECONDS + 3 * scrape_config.INTERVAL_SECONDS + scaled_for + 15
    while time.monotonic() < deadline:
        firing = [
            alert
            for alert in queries.active_alerts(base)
            if queries.pages_someone(alert) and alert["state"] == "firing"
        ]
        if firing:
            fired, labels = time.time() - terminated, firing[0]["labels"]
            name = labels["alertname"]
            since = f"[{max(1, round((time.time() - terminated) * 1000))}ms]"
            matchers = ", ".join(f"{key}={json.dumps(value)}" for key, value in sorted(labels.items()))
            pending = queries.scalar_value(base, f'count_over_time(ALERTS{{{matchers}, alertstate="pending"}}{since})')
            if pending < 1:
                raise queries.E2EFailure(f"{name} fired after the service stopped without going pending first")
            went_pending = queries.parse_timestamp(str(firing[0].get("activeAt", ""))) - terminated
            return (
                f"after SIGTERM: {name} pending at {went_pending:.1f}s ({pending:g} evaluations), "
                f"firing at {fired:.1f}s"
            )
        time.sleep(queries.POLL_SECONDS)
    pending_now = [alert for alert in queries.active_alerts(base) if queries.pages_someone(alert)]
    seen = f"{queries.describe_alerts(pending_now)} but " if pending_now else ""
    raise queries.E2EFailure(
        f"the service stopped and {seen}no critical alert fired within {deadline - started:.0f}s: nothing pages"
    )


def _wait_for(what: str, condition: Callable[[], bool], timeout: float, *servers: Server) -> float:
    """Poll `condition` until it holds; seconds it took. A server that exits, or the timeout, fails the check."""
    started = time.monotonic()
    [held] = _wait_for_all([(what, condition, timeout)], *servers)
    return held - started


def _wait_for_all(waits: Sequence[Wait], *servers: Server) -> list[float]:
    """Poll every (what, condition, timeout) of `waits` at once until each condition has held; the
    time.monotonic() each was first seen holding. A server that exits, or a timeout, fails the check."""
    started = time.monotonic()
    held: dict[int, float] = {}
    while len(held) < len(waits):
        awaited = [index for index in range(len(waits)) if index not in held]
        for server in servers:
            if (status := server.exited()) is not None:
                what = " and ".join(waits[index][0] for index in awaited)
                raise queries.E2EFailure(f"{server.name} exited with {status} waiting for {what}:\n{server.output()}")
        for index in awaited:
            what, condition, timeout = waits[index]
            if condition():
                held[index] = time.monotonic()
            elif time.monotonic() - started >= timeout:
                raise queries.E2EFailure(f"timed out after {timeout:.0f}s waiting for {what}")
        if len(held) < len(waits):
            time.sleep(queries.POLL_SECONDS)
    return [held[index] for index in range(len(waits))]
