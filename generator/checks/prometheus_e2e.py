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
import re
import secrets
import tempfile
import time
import urllib.parse
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

import yaml

from generator import kube
from generator.checks.context import CheckContext
from generator.collector import is_ready, start_collector, wait_for_trace
from generator.images import grpc_health, grpc_port, service_ports
from generator.outcome import NOTE, Outcome
from generator.processes import Server, free_port, http_get, start
from generator.tools import TOOLS, Toolbox

CONFIG = Path("prometheus") / "prometheus.yml"
SETTINGS = kube.BASE / "config.env"
INTERVAL = "1s"
"""Every scrape and evaluation interval (and scrape timeout) Prometheus runs here, whatever the repository's."""
INTERVAL_SECONDS = 1.0
TIME_SCALE = 60
"""Each `for:` of the rules is divided by this, and kept at least one evaluation interval: 5m becomes 5s, five
evaluations, time enough to be seen pending."""
POLL_SECONDS = 0.1
"""How often a wait asks again: a tenth of an interval, so that no wait overshoots what it waits for by much."""
DRAIN_DELAY = "0s"
"""The service's SHUTDOWN_DRAIN_DELAY here: no load balancer to drain, and the metrics keep up == 1 until it ends."""
SPANS_TIMEOUT_SECONDS = 10.0
REQUESTS_PER_ROUTE = 20
PROMETHEUS_DEFAULT_PORT = "9090"
STARTUP_TIMEOUT_SECONDS = 60.0
SERVICE_TIMEOUT_SECONDS = 30.0

# The metric names the alert rules and the README are written against.
REQUESTS = "http_requests_total"
DURATION = "http_request_duration_seconds"
CALLS = "grpc_server_handled_total"
CALL_DURATION = "grpc_server_handling_seconds"
PROTO = Path("proto")

_DURATION_PART = re.compile(r"(\d+)(ms|s|m|h|d|w|y)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
_ROUTE_PATTERN = re.compile(r"\.Handle(?:Func)?\(\s*\"((?:GET |HEAD )?\s*/[^\"]*)\"")


Wait = tuple[str, Callable[[], bool], float]
"""What a wait is for (as the output says it), the condition that ends it, and its timeout in seconds."""


class E2EFailure(Exception):
    """A step of the check found something wrong; the message says what."""


@dataclass(frozen=True)
class ScrapePlan:
    """The repository's Prometheus config as run here: what changed in it, and the service's job."""

    config: dict[str, Any]
    job: str
    changed: list[str]
    """The target addresses changed."""
    faster: list[str]
    """The intervals changed to INTERVAL."""


def check_prometheus_e2e(context: CheckContext) -> Outcome:
    report: list[str] = []
    with tempfile.TemporaryDirectory(prefix="gosvc-prometheus-") as folder, contextlib.ExitStack() as servers:
        scratch = Path(folder)
        try:
            _run_scenario(context.repo.resolve(), context.answers, context.tools, scratch, servers, report)
        except E2EFailure as failure:
            return Outcome(False, "\n".join([str(failure), *report]))
    return Outcome(True, "\n".join(report))


def _run_scenario(
    repo: Path,
    answers: Mapping[str, Any],
    toolbox: Toolbox,
    scratch: Path,
    servers: contextlib.ExitStack,
    report: list[str],
) -> None:
    if not (repo / CONFIG).is_file():
        raise E2EFailure(f"no {CONFIG}: nothing tells Prometheus to scrape the service")
    http_port, service_metrics_port = service_ports(answers)
    serves_http = http_port is not None
    routes = _api_routes(repo) if serves_http else {}
    api_port, metrics_port = free_port() if serves_http else None, free_port()
    rpc_port = free_port() if grpc_port(answers) else None
    prometheus_port = free_port()
    plan = _adapt_config(repo, service_metrics_port, f"127.0.0.1:{metrics_port}", f"127.0.0.1:{prometheus_port}")
    scaled, critical_for = _write_rules(repo, scratch / "config", plan)
    (scratch / "config" / CONFIG.name).write_text(json.dumps(plan.config))
    settings = _settings(repo)

    # Prometheus and the collector start while the service builds: none of them needs another to start.
    launched = time.monotonic()
    prometheus = servers.enter_context(_serving(_start_prometheus(scratch, prometheus_port, toolbox)))
    running = [prometheus]
    collector, endpoint = None, None
    if "OTEL_EXPORTER_OTLP_ENDPOINT" in settings:
        collector, endpoint = start_collector(scratch, toolbox)
        running.append(servers.enter_context(_serving(collector)))
    binary, package = _build_service(repo, scratch, toolbox)
    built = time.monotonic()
    started = _start_service(binary, settings, scratch, api_port, metrics_port, rpc_port, endpoint, toolbox)
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
    report.append(f"{CONFIG} adapted in target addresses only: {'; '.join(plan.changed)}")
    report.append(f"{NOTE}Prometheus scrapes and evaluates every {INTERVAL}: {'; '.join(plan.faster)}")
    report.append(f"{NOTE}alert rules run with `for:` shortened {TIME_SCALE}x (at least one evaluation): {scaled}")
    drained = settings.get("SHUTDOWN_DRAIN_DELAY", "the service's default")
    report.append(f"{NOTE}SHUTDOWN_DRAIN_DELAY {drained} -> {DRAIN_DELAY}: no load balancer drains it here")

    job = plan.job
    window = 2 * INTERVAL_SECONDS + 10
    try:
        seconds = _wait_for(f"up{{job={json.dumps(job)}}} == 1", partial(_up, base, job), window, *running)
    except E2EFailure as failure:
        raise E2EFailure(f"{failure}; Prometheus says: {_scrape_errors(base, job)}") from failure
    report.append(f'up{{job="{job}"}} == 1 {seconds:.1f}s after all were ready (scrape interval {INTERVAL})')

    token = "gosvc-" + secrets.token_hex(4)
    sent = _send_requests(api, routes, token) if api_port else {}
    called = _send_calls(repo, address, toolbox) if rpc_port else {}
    trace_id = secrets.token_hex(16)
    traced = (
        _send_traced(repo, api if api_port else None, routes, rpc_port, trace_id, token, toolbox) if collector else []
    )
    # One scrape after the last request shows every count: wait for all of them at once.
    counts = [
        (f"{query} >= {count}", partial(_counted, base, query, count), window)
        for query, count in _counts(job, sent, called)
    ]
    _wait_for_all(counts, *running)
    if api_port:
        report.append(
            f"{REQUESTS} and the {DURATION} histogram moved by "
            + ", ".join(f"{count} for route {label!r}" for label, count in sent.items())
        )
        leaked = _query(base, f'count by (__name__, route) ({{job="{job}", route=~".*{token}.*"}})')
        if leaked:
            raise E2EFailure(f"a route label holds the path requested, not its pattern: {_series(leaked)}")
        report.append(f"no route label holds a requested path (requests to {token} paths)")
    if rpc_port:
        report.append(
            f"{CALLS} and the {CALL_DURATION} histogram moved by "
            + ", ".join(f"{count} for {method}" for method, count in called.items())
        )

    # Only an evaluation after the scrape that showed the traffic tells whether anything pages while it is up.
    counted = time.time()
    evaluated = _wait_for("a rule evaluation", partial(_evaluated_since, base, counted), window, *running)
    paging = [alert for alert in _alerts(base) if _pages(alert)]
    if paging:
        raise E2EFailure(f"while the service is up, {_describe(paging)}")
    report.append(
        f"no critical alert pending or firing while the service is up (rules evaluated {evaluated:.1f}s later)"
    )

    terminated = time.time()
    exit_status = service.stop()
    report.append(f"service stopped by SIGTERM: exit status {exit_status} after {time.time() - terminated:.1f}s")
    if collector:
        report.append(_spans_received(collector, trace_id, traced, str(answers.get("service_name", ""))))
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
            f"sum({REQUESTS}{{{route}}})",
            f"sum({DURATION}_count{{{route}}})",
            f'sum({DURATION}_bucket{{{route}, le="+Inf"}})',
        ):
            counts.append((query, count))
    for method, count in called.items():
        rpc_service, rpc_method = (json.dumps(part) for part in method.rsplit("/", 1))
        labels = f"job={json.dumps(job)}, grpc_service={rpc_service}, grpc_method={rpc_method}"
        counts += [(f"sum({CALLS}{{{labels}}})", count), (f"sum({CALL_DURATION}_count{{{labels}}})", count)]
    return counts


def _api_routes(repo: Path) -> dict[str, str]:
    """Route label -> a path to request, for every GET route registered with a literal pattern."""
    routes: dict[str, str] = {}
    for source in sorted(repo.rglob("*.go")):
        if source.name.endswith("_test.go") or {".git", "vendor"} & set(source.relative_to(repo).parts):
            continue
        for pattern in _ROUTE_PATTERN.findall(source.read_text(errors="replace")):
            path = pattern.split(" ", 1)[-1].strip()
            routes[route_label(path)] = path
    if not routes:
        raise E2EFailure('no GET route registered with a literal pattern (mux.Handle("GET /...")): nothing to request')
    return routes


def route_label(path: str) -> str:
    """The route label the service gives a pattern's path: "/{$}" is "/"."""
    return path.removesuffix("{$}") or "/"


def _send_requests(api: str, routes: dict[str, str], token: str) -> dict[str, int]:
    """Send each route REQUESTS_PER_ROUTE requests, wildcards filled with `token`; requests counted by label."""
    sent: dict[str, int] = {}
    for label, pattern in routes.items():
        path = _request_path(pattern, token)
        for _ in range(REQUESTS_PER_ROUTE):
            status, body = http_get(api + path)
            if status == 0:
                raise E2EFailure(f"GET {path} got no answer: {body}")
        sent[label] = REQUESTS_PER_ROUTE
    for _ in range(REQUESTS_PER_ROUTE):  # a path no pattern matches: its label must not be the path either
        http_get(f"{api}/{token}/{token}")
    return sent


def _request_path(pattern: str, token: str) -> str:
    """A path the route `pattern` matches, its wildcards filled with `token`."""
    path = re.sub(r"\{[^}/]*\.\.\.\}", f"{token}/{token}", pattern.removesuffix("{$}"))
    return re.sub(r"\{[^}/$]*\}", token, path)


def _send_traced(
    repo: Path,
    api: str | None,
    routes: dict[str, str],
    rpc_port: int | None,
    trace_id: str,
    token: str,
    toolbox: Toolbox,
) -> list[str]:
    """Send one request to the first route and one call of the first method of proto/, each in trace `trace_id`
    (a sampled traceparent, as a caller that keeps the trace sends it); the names their spans must have."""
    traceparent = f"00-{trace_id}-{secrets.token_hex(8)}-01"
    names = []
    if api and routes:
        label, pattern = next(iter(routes.items()))
        status, body = http_get(api + _request_path(pattern, token), headers={"traceparent": traceparent})
        if status == 0:
            raise E2EFailure(f"GET {pattern} with a traceparent got no answer: {body}")
        names.append(f"GET {label}")
    if rpc_port:
        sources = [f"-import-path={PROTO}", *(f"-proto={p.relative_to(repo / PROTO)}" for p in _protos(repo))]
        service = _grpcurl(repo, toolbox, *sources, "list").split()[0]
        method = _grpcurl(repo, toolbox, *sources, "list", service).split()[0]
        full = method.rsplit(".", 1)[0] + "/" + method.rsplit(".", 1)[1]
        address = f"127.0.0.1:{rpc_port}"
        result = toolbox.run("grpcurl", "-plaintext", *sources, "-H", f"traceparent: {traceparent}", "-d", "{}",
                             address, full, cwd=repo)  # fmt: skip
        if result.returncode != 0 and result.returncode < 64:  # 64 + a status code: the call was served
            raise E2EFailure(f"calling {full} with a traceparent failed: {(result.stdout + result.stderr).strip()}")
        names.append(full)
    return names


def _spans_received(collector: Server, trace_id: str, names: list[str], service_name: str) -> str:
    """What the collector received of trace `trace_id`: a span named after each of `names`, from the service."""
    spans = wait_for_trace(collector, trace_id, SPANS_TIMEOUT_SECONDS)
    received = sorted({span.name for span in spans})
    if missing := sorted(set(names) - set(received)):
        raise E2EFailure(
            f"the OpenTelemetry Collector received no span {', '.join(missing)} of trace {trace_id} within "
            f"{SPANS_TIMEOUT_SECONDS:g}s of the service stopping (it received {received or 'none of that trace'}): "
            f"the sampler, the exporter or the shutdown's flush dropped it; the collector says:\n{collector.output()}"
        )
    if strangers := sorted({span.service for span in spans} - {service_name}):
        raise E2EFailure(f"spans of trace {trace_id} came with service.name {strangers}, not {service_name!r}")
    described = ", ".join(sorted(f"{span.name!r} from service.name {span.service!r}" for span in spans))
    return f"the OpenTelemetry Collector received trace {trace_id}: {described}"


def _protos(repo: Path) -> list[Path]:
    return sorted((repo / PROTO).rglob("*.proto"))


def _send_calls(repo: Path, address: str, toolbox: Toolbox) -> dict[str, int]:
    """Call every method of every service of proto/ REQUESTS_PER_ROUTE times with an empty message (grpcurl,
    with the .proto files: reflection is off); calls counted by "service/method". Any status will do: the
    metrics count them all."""
    protos = [str(path.relative_to(repo / PROTO)) for path in _protos(repo)]
    if not protos:
        raise E2EFailure(f"the service serves gRPC but {PROTO}/ holds no .proto file: nothing to call")
    sources = [f"-import-path={PROTO}", *(f"-proto={proto}" for proto in protos)]
    called: dict[str, int] = {}
    for service in _grpcurl(repo, toolbox, *sources, "list").split():
        for method in _grpcurl(repo, toolbox, *sources, "list", service).split():
            full = method.rsplit(".", 1)[0] + "/" + method.rsplit(".", 1)[1]
            for _ in range(REQUESTS_PER_ROUTE):
                result = toolbox.run("grpcurl", "-plaintext", *sources, "-d", "{}", address, full, cwd=repo)
                # grpcurl exits 64 + the status code for a call that failed with a status: the call was served.
                if result.returncode != 0 and result.returncode < 64:
                    raise E2EFailure(f"calling {full} failed: {(result.stdout + result.stderr).strip()}")
            called[full] = REQUESTS_PER_ROUTE
    return called


def _grpcurl(repo: Path, toolbox: Toolbox, *arguments: str) -> str:
    result = toolbox.run("grpcurl", *arguments, cwd=repo)
    if result.returncode != 0:
        raise E2EFailure(f"grpcurl {' '.join(arguments)}: {(result.stdout + result.stderr).strip()}")
    return result.stdout


def _build_service(repo: Path, scratch: Path, toolbox: Toolbox) -> tuple[Path, str]:
    listed = toolbox.run("go", "list", "-f", '{{if eq .Name "main"}}{{.ImportPath}}{{end}}', "./...", cwd=repo)
    mains = listed.stdout.split()
    if listed.returncode != 0 or len(mains) != 1:
        found = ", ".join(mains) or (listed.stderr.strip() or "none")
        raise E2EFailure(f"cannot tell which command is the service: main packages {found}")
    binary = scratch / "service"
    built = toolbox.run("go", "build", "-o", str(binary), mains[0], cwd=repo)
    if built.returncode != 0:
        raise E2EFailure(f"go build {mains[0]} failed:\n{built.stderr.strip()}")
    return binary, mains[0]


def _start_service(
    binary: Path,
    settings: dict[str, str],
    scratch: Path,
    api_port: int | None,
    metrics_port: int,
    rpc_port: int | None,
    collector_endpoint: str | None,
    toolbox: Toolbox,
) -> Server:
    env = {
        **toolbox.environment(),
        **settings,
        "METRICS_PORT": str(metrics_port),
        "SECRETS_DIR": str(scratch / "secrets"),
        "SHUTDOWN_DRAIN_DELAY": DRAIN_DELAY,
    }
    if api_port:
        env["HTTP_PORT"] = str(api_port)
    if rpc_port:
        env["GRPC_PORT"] = str(rpc_port)
    if collector_endpoint:
        # The spans go to the collector on loopback; the sampler and the rest are the repository's.
        env["OTEL_EXPORTER_OTLP_ENDPOINT"] = collector_endpoint
    return start("service", [str(binary)], scratch / "service.log", env)


def _settings(repo: Path) -> dict[str, str]:
    """What the pods start with: the KEY=VALUE lines of the kustomize env file, or where there is none, the
    chart's `config` values, as its ConfigMap quotes them."""
    path = repo / SETTINGS
    if path.is_file():
        lines = (line.strip() for line in path.read_text(errors="replace").splitlines())
        pairs = (line.split("=", 1) for line in lines if line and not line.startswith("#") and "=" in line)
        return {key.strip(): value for key, value in pairs}
    if not (repo / kube.CHART_DEFAULTS).is_file():
        return {}
    try:
        values = yaml.safe_load((repo / kube.CHART_DEFAULTS).read_text(errors="replace"))
    except yaml.YAMLError as error:
        raise E2EFailure(f"{kube.CHART_DEFAULTS} is not YAML: {error}") from error
    config = (values.get("config") if isinstance(values, dict) else None) or {}
    if not isinstance(config, dict):
        raise E2EFailure(f"{kube.CHART_DEFAULTS}: config is not a mapping of settings: {config!r}")
    # Helm's `quote` writes booleans as YAML does, not as Python's str() would.
    return {str(key): json.dumps(value) if isinstance(value, bool) else str(value) for key, value in config.items()}


def _start_prometheus(scratch: Path, port: int, toolbox: Toolbox) -> Server:
    argv = [
        str(toolbox.find("prometheus")),
        f"--config.file={scratch / 'config' / CONFIG.name}",
        f"--storage.tsdb.path={scratch / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        # How often new targets reach the scrapers (a hidden flag, 5s by default): the first scrape waits for it.
        f"--scrape.discovery-reload-interval={INTERVAL}",
    ]
    return start("prometheus", argv, scratch / "prometheus.log")


@contextlib.contextmanager
def _serving(server: Server) -> Iterator[Server]:
    try:
        yield server
    finally:
        server.stop(timeout=45)


def _adapt_config(repo: Path, metrics_port: int, service: str, prometheus: str) -> ScrapePlan:
    """The config with the service's targets pointed at `service`, Prometheus' own at `prometheus`, and every
    scrape and evaluation interval, and every scrape timeout it sets, INTERVAL."""
    try:
        config = yaml.safe_load((repo / CONFIG).read_text())
    except yaml.YAMLError as error:
        raise E2EFailure(f"{CONFIG} is not YAML: {error}") from error
    if not isinstance(config, dict):
        raise E2EFailure(f"{CONFIG} is not a mapping")
    changed: list[str] = []
    jobs: list[str] = []
    config["global"] = global_config = config.get("global") or {}
    faster = _speed_up(global_config, "global", ("scrape_interval", "evaluation_interval"), ("scrape_timeout",))
    for scrape in config.get("scrape_configs") or []:
        job = str(scrape.get("job_name"))
        faster += _speed_up(scrape, f"job {job}", (), ("scrape_interval", "scrape_timeout"))
        for static in scrape.get("static_configs") or []:
            targets = []
            for target in static.get("targets") or []:
                host, _, port = str(target).rpartition(":")
                if port == str(metrics_port):
                    targets.append(service)
                    if job not in jobs:
                        jobs.append(job)
                elif port == PROMETHEUS_DEFAULT_PORT and host in ("localhost", "127.0.0.1"):
                    targets.append(prometheus)
                else:
                    targets.append(target)
                if targets[-1] != target:
                    changed.append(f"{target} -> {targets[-1]}")
            static["targets"] = targets
    if len(jobs) != 1:
        raise E2EFailure(
            f"{CONFIG} scrapes the metrics port {metrics_port} in {len(jobs)} jobs, not one: "
            + (", ".join(jobs) or "Prometheus would not scrape the service")
        )
    return ScrapePlan(config, jobs[0], changed, faster)


def _speed_up(section: dict[str, Any], where: str, always: tuple[str, ...], if_set: tuple[str, ...]) -> list[str]:
    """Set the intervals `always` and those of `if_set` that `section` sets to INTERVAL; say what they were."""
    said = []
    for key in always + tuple(key for key in if_set if section.get(key) is not None):
        before = section.get(key)
        _seconds(before, 0)  # a malformed duration fails here, as Prometheus would refuse it
        said.append(f"{where} {key} {before if before is not None else '(default)'} -> {INTERVAL}")
        section[key] = INTERVAL
    return said


def _write_rules(repo: Path, folder: Path, plan: ScrapePlan) -> tuple[str, float]:
    """Write the rule files the config names, `for:` shortened and group intervals INTERVAL, beside the config;
    say what changed, and return the longest shortened `for:` of a critical alert."""
    changes: dict[str, str] = {}
    intervals: list[str] = []
    critical_for = 0.0
    for entry in plan.config.get("rule_files") or []:
        for source in sorted((repo / CONFIG.parent).glob(str(entry))):
            rules = yaml.safe_load(source.read_text()) or {}
            for group in rules.get("groups") or []:
                intervals += _speed_up(group, f"group {group.get('name')}", (), ("interval",))
                for rule in group.get("rules") or []:
                    if "for" in rule:
                        shortened = max(INTERVAL_SECONDS, _seconds(rule["for"], 0) / TIME_SCALE)
                        changes[str(rule["for"])] = _duration(shortened)
                        rule["for"] = _duration(shortened)
                        if (rule.get("labels") or {}).get("severity") == "critical":
                            critical_for = max(critical_for, shortened)
            target = folder / source.relative_to(repo / CONFIG.parent)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(json.dumps(rules))
    ordered = sorted(changes.items(), key=lambda change: _seconds(change[0], 0))
    said = [f"{before} -> {after}" for before, after in ordered] + intervals
    return ", ".join(said) or "no rule has a `for:`", critical_for


def _page_after_stop(base: str, scaled_for: float, terminated: float) -> str:
    """Wait for a critical alert to fire after the SIGTERM at `terminated` (time.time()); that it went pending
    first, Prometheus' own ALERTS series says (a poll might miss a short pending state, the series cannot)."""
    started = time.monotonic()
    deadline = started + INTERVAL_SECONDS + 3 * INTERVAL_SECONDS + scaled_for + 15
    while time.monotonic() < deadline:
        firing = [alert for alert in _alerts(base) if _pages(alert) and alert["state"] == "firing"]
        if firing:
            fired, labels = time.time() - terminated, firing[0]["labels"]
            name = labels["alertname"]
            since = f"[{max(1, round((time.time() - terminated) * 1000))}ms]"
            matchers = ", ".join(f"{key}={json.dumps(value)}" for key, value in sorted(labels.items()))
            pending = _value(base, f'count_over_time(ALERTS{{{matchers}, alertstate="pending"}}{since})')
            if pending < 1:
                raise E2EFailure(f"{name} fired after the service stopped without going pending first")
            went_pending = _timestamp(str(firing[0].get("activeAt", ""))) - terminated
            return (
                f"after SIGTERM: {name} pending at {went_pending:.1f}s ({pending:g} evaluations), "
                f"firing at {fired:.1f}s"
            )
        time.sleep(POLL_SECONDS)
    pending_now = [alert for alert in _alerts(base) if _pages(alert)]
    seen = f"{_describe(pending_now)} but " if pending_now else ""
    raise E2EFailure(
        f"the service stopped and {seen}no critical alert fired within {deadline - started:.0f}s: nothing pages"
    )


def _pages(alert: dict[str, Any]) -> bool:
    return bool(alert.get("labels", {}).get("severity") == "critical" and alert.get("state") in ("pending", "firing"))


def _describe(alerts: list[dict[str, Any]]) -> str:
    return "; ".join(f"{alert['labels'].get('alertname')} is {alert['state']}" for alert in alerts)


def _evaluated_since(base: str, moment: float) -> bool:
    """Whether every rule group has been evaluated since `moment` (time.time())."""
    groups = _api(base, "rules").get("groups") or []
    return bool(groups) and all(_timestamp(group.get("lastEvaluation", "")) > moment for group in groups)


def _timestamp(rfc3339: str) -> float:
    """Seconds since the epoch of Prometheus' RFC 3339 time stamps (nanoseconds cut to microseconds)."""
    match = re.fullmatch(r"(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)", rfc3339)
    if match is None:
        return 0.0
    fraction = (match[2] or "0")[:6].ljust(6, "0")
    zone = "+00:00" if match[3] == "Z" else match[3]
    return datetime.fromisoformat(f"{match[1]}.{fraction}{zone}").timestamp()


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
                raise E2EFailure(f"{server.name} exited with {status} waiting for {what}:\n{server.output()}")
        for index in awaited:
            what, condition, timeout = waits[index]
            if condition():
                held[index] = time.monotonic()
            elif time.monotonic() - started >= timeout:
                raise E2EFailure(f"timed out after {timeout:.0f}s waiting for {what}")
        if len(held) < len(waits):
            time.sleep(POLL_SECONDS)
    return [held[index] for index in range(len(waits))]


def _api(base: str, path: str, **params: str) -> dict[str, Any]:
    url = f"{base}/api/v1/{path}" + (f"?{urllib.parse.urlencode(params)}" if params else "")
    status, body = http_get(url, timeout=10)
    if status != 200:
        raise E2EFailure(f"Prometheus answered {status} to {url}: {body[:300]}")
    data = json.loads(body).get("data")
    return data if isinstance(data, dict) else {}


def _query(base: str, promql: str) -> list[dict[str, Any]]:
    result = _api(base, "query", query=promql).get("result")
    return result if isinstance(result, list) else []


def _value(base: str, promql: str) -> float:
    """The value of a query with one result; -1 while it has none."""
    result = _query(base, promql)
    return float(result[0]["value"][1]) if len(result) == 1 else -1.0


def _up(base: str, job: str) -> bool:
    return _value(base, f"up{{job={json.dumps(job)}}}") == 1


def _scrape_errors(base: str, job: str) -> str:
    targets = _api(base, "targets", state="active").get("activeTargets") or []
    said = [
        f"{target.get('scrapeUrl')} {target.get('health')}: {target.get('lastError') or 'no error'}"
        for target in targets
        if target.get("labels", {}).get("job") == job
    ]
    return "; ".join(said) or f"no target of job {job}"


def _counted(base: str, promql: str, count: int) -> bool:
    return _value(base, promql) >= count


def _alerts(base: str) -> list[dict[str, Any]]:
    alerts = _api(base, "alerts").get("alerts")
    return alerts if isinstance(alerts, list) else []


def _series(result: list[dict[str, Any]]) -> str:
    return ", ".join(
        "{" + ", ".join(f'{key}="{value}"' for key, value in sorted(item["metric"].items())) + "}" for item in result
    )


def _seconds(duration: object, default: float) -> float:
    """A Prometheus duration ("1m30s") in seconds; `default` when it is absent."""
    if duration is None:
        return default
    text = str(duration)
    parts = _DURATION_PART.findall(text)
    if not parts or "".join(number + unit for number, unit in parts) != text:
        raise E2EFailure(f"{text!r} is not a Prometheus duration")
    return sum(int(number) * _UNIT_SECONDS[unit] for number, unit in parts)


def _duration(seconds: float) -> str:
    whole = max(1, round(seconds))
    minutes, rest = divmod(whole, 60)
    return (f"{minutes}m" if minutes else "") + (f"{rest}s" if rest or not minutes else "")
