"""The service the prometheus-e2e check runs: built from its main package, started with the repository's
settings, and sent a request on every route (and a call on every gRPC method) it serves, some of them traced."""

from __future__ import annotations

import json
import re
import secrets
import subprocess
from pathlib import Path

import yaml

from generator.checks.prometheus import queries
from generator.project import kube
from generator.runtime.processes import Server, http_get, start
from generator.servers.collector import wait_for_trace
from generator.tools import Toolbox

SETTINGS = kube.BASE / "config.env"
DRAIN_DELAY = "0s"
"""The service's SHUTDOWN_DRAIN_DELAY here: no load balancer to drain, and the metrics keep up == 1 until it ends."""
SPANS_TIMEOUT_SECONDS = 10.0
MIGRATE_TIMEOUT_SECONDS = 120
"""What the migrations of an example get: they take a second; a hung lock or server shows here."""
REQUESTS_PER_ROUTE = 20
# The metric names the alert rules and the README are written against.
REQUESTS = "http_requests_total"
DURATION = "http_request_duration_seconds"
CALLS = "grpc_server_handled_total"
CALL_DURATION = "grpc_server_handling_seconds"
PROTO = Path("proto")

_ROUTE_PATTERN = re.compile(r"\.Handle(?:Func)?\(\s*\"((?:GET |HEAD )?\s*/[^\"]*)\"")


def api_routes(repo: Path) -> dict[str, str]:
    """Route label -> a path to request, for every GET route registered with a literal pattern."""
    routes: dict[str, str] = {}
    for source in sorted(repo.rglob("*.go")):
        if source.name.endswith("_test.go") or {".git", "vendor"} & set(source.relative_to(repo).parts):
            continue
        for pattern in _ROUTE_PATTERN.findall(source.read_text(errors="replace")):
            path = pattern.split(" ", 1)[-1].strip()
            routes[route_label(path)] = path
    if not routes:
        raise queries.E2EFailure(
            'no GET route registered with a literal pattern (mux.Handle("GET /...")): nothing to request'
        )
    return routes


def route_label(path: str) -> str:
    """The route label the service gives a pattern's path: "/{$}" is "/"."""
    return path.removesuffix("{$}") or "/"


def send_requests(api: str, routes: dict[str, str], token: str) -> dict[str, int]:
    """Send each route REQUESTS_PER_ROUTE requests, wildcards filled with `token`; requests counted by label."""
    sent: dict[str, int] = {}
    for label, pattern in routes.items():
        path = _request_path(pattern, token)
        for _ in range(REQUESTS_PER_ROUTE):
            status, body = http_get(api + path)
            if status == 0:
                raise queries.E2EFailure(f"GET {path} got no answer: {body}")
        sent[label] = REQUESTS_PER_ROUTE
    for _ in range(REQUESTS_PER_ROUTE):  # a path no pattern matches: its label must not be the path either
        http_get(f"{api}/{token}/{token}")
    return sent


def _request_path(pattern: str, token: str) -> str:
    """A path the route `pattern` matches, its wildcards filled with `token`."""
    path = re.sub(r"\{[^}/]*\.\.\.\}", f"{token}/{token}", pattern.removesuffix("{$}"))
    return re.sub(r"\{[^}/$]*\}", token, path)


def send_traced(
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
            raise queries.E2EFailure(f"GET {pattern} with a traceparent got no answer: {body}")
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
            raise queries.E2EFailure(
                f"calling {full} with a traceparent failed: {(result.stdout + result.stderr).strip()}"
            )
        names.append(full)
    return names


def spans_received(collector: Server, trace_id: str, names: list[str], service_name: str) -> str:
    """What the collector received of trace `trace_id`: a span named after each of `names`, from the service."""
    spans = wait_for_trace(collector, trace_id, SPANS_TIMEOUT_SECONDS)
    received = sorted({span.name for span in spans})
    if missing := sorted(set(names) - set(received)):
        raise queries.E2EFailure(
            f"the OpenTelemetry Collector received no span {', '.join(missing)} of trace {trace_id} within "
            f"{SPANS_TIMEOUT_SECONDS:g}s of the service stopping (it received {received or 'none of that trace'}): "
            f"the sampler, the exporter or the shutdown's flush dropped it; the collector says:\n{collector.output()}"
        )
    if strangers := sorted({span.service for span in spans} - {service_name}):
        raise queries.E2EFailure(f"spans of trace {trace_id} came with service.name {strangers}, not {service_name!r}")
    described = ", ".join(sorted(f"{span.name!r} from service.name {span.service!r}" for span in spans))
    return f"the OpenTelemetry Collector received trace {trace_id}: {described}"


def _protos(repo: Path) -> list[Path]:
    return sorted((repo / PROTO).rglob("*.proto"))


def send_calls(repo: Path, address: str, toolbox: Toolbox) -> dict[str, int]:
    """Call every method of every service of proto/ REQUESTS_PER_ROUTE times with an empty message (grpcurl,
    with the .proto files: reflection is off); calls counted by "service/method". Any status will do: the
    metrics count them all."""
    protos = [str(path.relative_to(repo / PROTO)) for path in _protos(repo)]
    if not protos:
        raise queries.E2EFailure(f"the service serves gRPC but {PROTO}/ holds no .proto file: nothing to call")
    sources = [f"-import-path={PROTO}", *(f"-proto={proto}" for proto in protos)]
    called: dict[str, int] = {}
    for service in _grpcurl(repo, toolbox, *sources, "list").split():
        for method in _grpcurl(repo, toolbox, *sources, "list", service).split():
            full = method.rsplit(".", 1)[0] + "/" + method.rsplit(".", 1)[1]
            for _ in range(REQUESTS_PER_ROUTE):
                result = toolbox.run("grpcurl", "-plaintext", *sources, "-d", "{}", address, full, cwd=repo)
                # grpcurl exits 64 + the status code for a call that failed with a status: the call was served.
                if result.returncode != 0 and result.returncode < 64:
                    raise queries.E2EFailure(f"calling {full} failed: {(result.stdout + result.stderr).strip()}")
            called[full] = REQUESTS_PER_ROUTE
    return called


def _grpcurl(repo: Path, toolbox: Toolbox, *arguments: str) -> str:
    result = toolbox.run("grpcurl", *arguments, cwd=repo)
    if result.returncode != 0:
        raise queries.E2EFailure(f"grpcurl {' '.join(arguments)}: {(result.stdout + result.stderr).strip()}")
    return result.stdout


def build_service(repo: Path, scratch: Path, toolbox: Toolbox) -> tuple[Path, str]:
    listed = toolbox.run("go", "list", "-f", '{{if eq .Name "main"}}{{.ImportPath}}{{end}}', "./...", cwd=repo)
    mains = listed.stdout.split()
    if listed.returncode != 0 or len(mains) != 1:
        found = ", ".join(mains) or (listed.stderr.strip() or "none")
        raise queries.E2EFailure(f"cannot tell which command is the service: main packages {found}")
    binary = scratch / "service"
    built = toolbox.run("go", "build", "-o", str(binary), mains[0], cwd=repo)
    if built.returncode != 0:
        raise queries.E2EFailure(f"go build {mains[0]} failed:\n{built.stderr.strip()}")
    return binary, mains[0]


def migrate(binary: Path, settings: dict[str, str], scratch: Path) -> None:
    """Run the service's `migrate up` on the database its settings name, as its pods' init container does."""
    env = {**settings, "SECRETS_DIR": str(scratch / "secrets")}
    try:
        done = subprocess.run(
            [str(binary), "migrate", "up"], env=env, capture_output=True, text=True, timeout=MIGRATE_TIMEOUT_SECONDS
        )
    except subprocess.TimeoutExpired as error:
        raise queries.E2EFailure(f"migrate up took over {MIGRATE_TIMEOUT_SECONDS}s") from error
    if done.returncode != 0:
        raise queries.E2EFailure(f"migrate up exited with {done.returncode}:\n{(done.stdout + done.stderr).strip()}")


def start_service(
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


def service_settings(repo: Path) -> dict[str, str]:
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
        raise queries.E2EFailure(f"{kube.CHART_DEFAULTS} is not YAML: {error}") from error
    config = (values.get("config") if isinstance(values, dict) else None) or {}
    if not isinstance(config, dict):
        raise queries.E2EFailure(f"{kube.CHART_DEFAULTS}: config is not a mapping of settings: {config!r}")
    # Helm's `quote` writes booleans as YAML does, not as Python's str() would.
    return {str(key): json.dumps(value) if isinstance(value, bool) else str(value) for key, value in config.items()}
