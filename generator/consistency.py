"""The agreements no schema can see, checked on every kustomization as kustomize renders it and on every
values file of the Helm chart as `helm template` renders it.

Selectors match pod labels; probes reach routes the Go code serves, on its
ports; the Service exposes the API and never the metrics port, which only the
monitoring namespace may reach; the pod reads a ConfigMap that exists; the
grace period covers the drain delay and the shutdown timeout; the HPA owns the
scale it targets; the base agrees with the answers.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from generator.errors import one_line
from generator.kube import (
    BASE,
    CHART_DEFAULTS,
    Rendered,
    RenderError,
    base_source,
    chart_values,
    kustomizations,
    render,
    render_all,
    render_chart,
)
from generator.outcome import Outcome
from generator.tools import Toolbox

BUILD_FAILED = "does not build"
SHUTDOWN_MARGIN_SECONDS = 5
"""What the grace period must leave after the drain delay and shutdown timeout, for the process to exit."""
SERVICE_DEFAULTS = {"SHUTDOWN_DRAIN_DELAY": "0s", "SHUTDOWN_TIMEOUT": "20s"}
"""What the generated service uses when its ConfigMap leaves these unset."""

# One of each kind, so that none can go missing unnoticed; NetworkPolicies add up, so at least one. (Services
# are counted apart: a ServiceMonitor's metrics Service is not the API's.)
ONE_OF_EACH = ("Deployment", "ServiceAccount", "PodDisruptionBudget")
AT_LEAST_ONE = ("NetworkPolicy",)

# Route patterns as Go source writes them: "GET /healthz", or "GET "+healthzPath with a constant.
_RULE_JOB = re.compile(r'\bjob\s*=\s*"([^"]*)"')
_ROUTE_LITERAL = re.compile(r'"(?:GET|HEAD) (/[^"\s]*)"')
_ROUTE_CONSTANT = re.compile(r'"(?:GET|HEAD) "\s*\+\s*(\w+)')
_PATH_CONSTANT = re.compile(r'(\w+)\s*(?:string\s*)?=\s*"(/[^"\s]*)"')
# The gRPC health service of the Go code, and the service name it answers liveness under.
_HEALTH_SERVER = re.compile(r"\bhealth\.NewServer\(\)")
_LIVENESS_SERVICE = re.compile(r'\bLivenessService\s*(?:string\s*)?=\s*"([^"]*)"')
GRPC_HEALTH = "grpc health service "
"""Prefix of the probe targets a gRPC probe asks: the health service's answer about a service name."""
_GO_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def check_consistency(repo: Path, answers: Mapping[str, Any], toolbox: Toolbox) -> Outcome:
    """Every kustomization's agreements, and the base's with the `answers` of the repository."""
    served = probe_targets(repo)
    rendered, problems = render_all(repo, toolbox)
    for kustomization in rendered:
        problems += [f"{kustomization.name}: {p}" for p in _readable(_agreements(kustomization, served))]
    # What the answers set directly: the kustomize base, and the chart with its own values.yaml.
    defaults = {str(BASE), str(CHART_DEFAULTS)}
    bases = [r for r in rendered if r.name in defaults]
    # Without kustomizations, the chart's values.yaml is the base.
    expected = base_source(repo)
    if not any(r.name == str(expected) for r in bases):
        problems.append(f"{expected} is missing")
    for base in bases:
        problems += [f"{base.name}: {p}" for p in _readable(_matches_answers(base, answers))]
    return Outcome(not problems, "\n".join(problems) or f"{len(rendered)} kustomizations agree")


def kustomization_problems(project: Path, toolbox: Toolbox) -> dict[str, frozenset[str]]:
    """For each kustomization, or where there is none each values file of the chart: whether it builds, and
    what in it disagrees, rendered with the tools of `toolbox`. Updates compare this before and after."""
    sources = kustomizations(project) or chart_values(project)
    served = probe_targets(project)
    with ThreadPoolExecutor(max_workers=4) as pool:
        found = list(pool.map(lambda source: _problems_of(project, source, served, toolbox), sources))
    return {str(source): problems for source, problems in zip(sources, found, strict=True)}


def _problems_of(project: Path, source: Path, served: set[str], toolbox: Toolbox) -> frozenset[str]:
    try:
        rendered = (render_chart if source.suffix == ".yaml" else render)(project, source, toolbox)
    except RenderError as error:
        return frozenset({f"{BUILD_FAILED}: {one_line(str(error), 300)}"})
    return frozenset(_readable(_agreements(rendered, served)))


def probe_targets(repo: Path) -> set[str]:
    """What the Go service answers probes on: the paths it routes GET requests to, read from its route patterns,
    and where it serves the gRPC health service, GRPC_HEALTH followed by each service name the health service
    answers about that a probe may ask (the server's "", and the liveness service)."""
    sources = sorted(repo.glob("internal/**/*.go")) + sorted(repo.glob("cmd/**/*.go"))
    text = "\n".join(
        s.read_text(encoding="utf-8", errors="replace") for s in sources if not s.name.endswith("_test.go")
    )
    constants = dict(_PATH_CONSTANT.findall(text))
    paths = set(_ROUTE_LITERAL.findall(text))
    paths.update(constants[name] for name in _ROUTE_CONSTANT.findall(text) if name in constants)
    targets = {path.replace("{$}", "") for path in paths}
    if _HEALTH_SERVER.search(text):
        targets.add(GRPC_HEALTH)
        targets.update(GRPC_HEALTH + service for service in _LIVENESS_SERVICE.findall(text))
    return targets


def _readable(found: Iterator[str]) -> list[str]:
    """The problems `found` yields; an object too malformed to check is one problem more, never a crash."""
    problems: list[str] = []
    try:
        problems.extend(found)
    except (KeyError, IndexError, TypeError, AttributeError, ValueError) as error:
        problems.append(f"an object lacks a field or has one of the wrong type ({type(error).__name__}: {error})")
    return problems


def _agreements(rendered: Rendered, served: set[str]) -> Iterator[str]:
    for kind in ONE_OF_EACH:
        if (count := len(rendered.of_kind(kind))) != 1:
            yield f"expected one {kind}, found {count}"
    for kind in AT_LEAST_ONE:
        if not rendered.of_kind(kind):
            yield f"expected a {kind}, found none"
    deployments = rendered.of_kind("Deployment")
    if len(deployments) != 1:
        return
    deployment = deployments[0]
    pod = deployment["spec"]["template"]
    pod_labels = pod.get("metadata", {}).get("labels", {})
    selector = deployment["spec"].get("selector", {}).get("matchLabels", {})
    if not selector or not _selects(selector, pod_labels):
        yield f"Deployment selector {selector} does not match its pod labels {pod_labels}"
    containers = pod["spec"].get("containers", [])
    ports = {(p.get("name"), p["containerPort"]) for c in containers for p in c.get("ports", [])}
    yield from _service_agreements(rendered, pod_labels, ports)
    yield from _monitor_agreements(rendered, _name(deployment))
    for obj in rendered.of_kind("PodDisruptionBudget"):
        if not _selects(obj["spec"].get("selector", {}).get("matchLabels", {}), pod_labels):
            yield f"PodDisruptionBudget {_name(obj)} selector does not match the pod labels"
    yield from _network_agreements(rendered, pod_labels, ports)
    for container in containers:
        yield from _probe_agreements(container, served, ports)
    yield from _config_agreements(rendered, pod)
    for hpa in rendered.of_kind("HorizontalPodAutoscaler"):
        target = hpa["spec"]["scaleTargetRef"]
        if target.get("kind") != "Deployment" or target.get("name") != _name(deployment):
            yield f"HorizontalPodAutoscaler targets {target}, not Deployment {_name(deployment)}"
        if "replicas" in deployment["spec"]:
            yield "Deployment sets replicas although a HorizontalPodAutoscaler owns its scale"
        if hpa["spec"].get("minReplicas", 1) > hpa["spec"]["maxReplicas"]:
            yield "HorizontalPodAutoscaler minReplicas is above maxReplicas"
    sa_name = pod["spec"].get("serviceAccountName")
    accounts = {_name(sa): sa for sa in rendered.of_kind("ServiceAccount")}
    if sa_name not in accounts:
        yield f"pod serviceAccountName {sa_name} is not one of the ServiceAccounts {sorted(accounts)}"
    if pod["spec"].get("automountServiceAccountToken") is not False:
        yield "pod automountServiceAccountToken is not false"


def _service_agreements(
    rendered: Rendered, pod_labels: dict[str, str], ports: set[tuple[str | None, int]]
) -> Iterator[str]:
    """One API Service, which never exposes the metrics port; a Service a ServiceMonitor scrapes exposes it only."""
    metrics_ports = {port for port in ports if port[0] == "metrics"}
    scraped = {_name(service) for service in _monitored_services(rendered)}
    api = [service for service in rendered.of_kind("Service") if _name(service) not in scraped]
    if len(api) != 1:
        yield f"expected one Service of the API, found {len(api)}"
    for service in rendered.of_kind("Service"):
        if not _selects(service["spec"].get("selector", {}), pod_labels):
            yield f"Service {_name(service)} selector does not match the pod labels"
        for port in service["spec"].get("ports", []):
            target = port.get("targetPort", port.get("port"))
            if not _port_matches(target, ports):
                yield f"Service {_name(service)} targetPort {target} is not a container port {ports}"
            elif _name(service) in scraped and not _port_matches(target, metrics_ports):
                yield f"Service {_name(service)}, which a ServiceMonitor scrapes, exposes {target}: only metrics"
            elif _name(service) not in scraped and _port_matches(target, metrics_ports):
                yield f"Service {_name(service)} exposes the metrics port {target}: metrics must stay private"


def _monitored_services(rendered: Rendered) -> list[dict[str, Any]]:
    selectors = [
        monitor["spec"].get("selector", {}).get("matchLabels", {}) for monitor in rendered.of_kind("ServiceMonitor")
    ]
    return [
        service
        for service in rendered.of_kind("Service")
        if any(_selects(selector, service["metadata"].get("labels", {})) for selector in selectors)
    ]


def _monitor_agreements(rendered: Rendered, service_name: str) -> Iterator[str]:
    """Each ServiceMonitor scrapes a metrics Service by a port it has, at the path the service serves, under
    the job name its rules select (else every alert reads nothing, and the down alert fires)."""
    jobs = {
        job
        for rule in rendered.of_kind("PrometheusRule")
        for group in (rule.get("spec") or {}).get("groups") or []
        for entry in group.get("rules") or []
        for job in _RULE_JOB.findall(str(entry.get("expr", "")))
    } or {service_name}
    services = _monitored_services(rendered)
    for monitor in rendered.of_kind("ServiceMonitor"):
        spec = monitor["spec"]
        selector = spec.get("selector", {}).get("matchLabels", {})
        chosen = [s for s in services if _selects(selector, s["metadata"].get("labels", {}))]
        if not chosen:
            yield f"ServiceMonitor {_name(monitor)} selects no Service ({selector})"
        for service in chosen:
            names = {port.get("name") for port in service["spec"].get("ports", [])}
            for endpoint in spec.get("endpoints", []):
                if endpoint.get("port") not in names:
                    yield f"ServiceMonitor {_name(monitor)} scrapes port {endpoint.get('port')}, not in {sorted(names)}"
                if endpoint.get("path", "/metrics") != "/metrics":
                    yield f"ServiceMonitor {_name(monitor)} scrapes {endpoint.get('path')}, not /metrics"
            labels = service["metadata"].get("labels", {})
            job = labels.get(spec["jobLabel"]) if spec.get("jobLabel") else _name(service)
            if job not in jobs:
                yield (
                    f"ServiceMonitor {_name(monitor)} gives its targets job {job!r}, but the rules select "
                    f"{', '.join(sorted(map(repr, jobs)))}"
                )


def _network_agreements(
    rendered: Rendered, pod_labels: dict[str, str], ports: set[tuple[str | None, int]]
) -> Iterator[str]:
    """Policies select the pods; the metrics port admits the monitoring namespace only; egress is restricted."""
    metrics_ports = {port for port in ports if port[0] == "metrics"}
    egress_restricted = False
    for policy in rendered.of_kind("NetworkPolicy"):
        spec = policy["spec"]
        if not _selects(spec.get("podSelector", {}).get("matchLabels", {}), pod_labels):
            yield f"NetworkPolicy {_name(policy)} podSelector does not match the pod labels"
        egress_restricted = egress_restricted or "Egress" in spec.get("policyTypes", [])
        for rule in spec.get("ingress", []):
            rule_ports = [entry.get("port") for entry in rule.get("ports", [])]
            opens_metrics = not rule_ports or any(_port_matches(port, metrics_ports) for port in rule_ports)
            sources = rule.get("from", [])
            only_namespaces = sources and all(set(peer) == {"namespaceSelector"} for peer in sources)
            if metrics_ports and opens_metrics and not only_namespaces:
                yield (
                    f"NetworkPolicy {_name(policy)} admits the metrics port from more than a monitoring namespace: "
                    f"{sources or 'everyone'}"
                )
    if not egress_restricted:
        yield "no NetworkPolicy restricts egress"
    yield from _admitted_service_ports(rendered, ports)


def _admitted_service_ports(rendered: Rendered, ports: set[tuple[str | None, int]]) -> Iterator[str]:
    """Every port the API's Service exposes is one some NetworkPolicy admits: else its clients time out."""
    scraped = {_name(service) for service in _monitored_services(rendered)}
    rules = [rule for policy in rendered.of_kind("NetworkPolicy") for rule in policy["spec"].get("ingress", [])]
    restricted = any("Ingress" in p["spec"].get("policyTypes", []) for p in rendered.of_kind("NetworkPolicy"))
    for service in rendered.of_kind("Service"):
        if _name(service) in scraped or not restricted:
            continue
        for port in service["spec"].get("ports", []):
            target = _container_port(port.get("targetPort", port.get("port")), ports)
            admitted = any(
                not rule.get("ports") or any(_container_port(e.get("port"), ports) == target for e in rule["ports"])
                for rule in rules
            )
            if target is not None and not admitted:
                yield (
                    f"Service {_name(service)} exposes port {port.get('name', target)}, which no NetworkPolicy "
                    "admits: its clients would time out"
                )


def _container_port(port: Any, ports: set[tuple[str | None, int]]) -> int | None:
    """The container port number a port name or number stands for, or None."""
    return next((number for name, number in ports if port in (name, number)), None)


def _probe_agreements(container: dict[str, Any], served: set[str], ports: set[tuple[str | None, int]]) -> Iterator[str]:
    for probe_name in ("livenessProbe", "readinessProbe", "startupProbe"):
        probe = container.get(probe_name)
        if probe is None:
            if probe_name != "startupProbe":
                yield f"container {container['name']} has no {probe_name}"
            continue
        if "grpc" in probe:
            yield from _grpc_probe_agreements(probe_name, probe["grpc"], served, ports)
            continue
        http = probe.get("httpGet", {})
        if http.get("path") not in served:
            yield f"{probe_name} path {http.get('path')} is not served (served: {sorted(served)})"
        if not _port_matches(http.get("port"), ports):
            yield f"{probe_name} port {http.get('port')} is not a container port {ports}"
        if _port_matches(http.get("port"), {port for port in ports if port[0] == "metrics"}):
            yield f"{probe_name} probes the metrics port, which serves /metrics only"
    liveness, readiness = container.get("livenessProbe", {}), container.get("readinessProbe", {})
    if liveness and _probe_target(liveness) == _probe_target(readiness):
        yield "readiness and liveness probe the same target; readiness must fail during shutdown"


def _grpc_probe_agreements(
    probe_name: str, grpc: dict[str, Any], served: set[str], ports: set[tuple[str | None, int]]
) -> Iterator[str]:
    """A gRPC probe asks the gRPC port (a number: the probe takes no port name) about a service name the health
    service answers."""
    service = grpc.get("service", "")
    if GRPC_HEALTH + service not in served:
        answered = sorted(target.removeprefix(GRPC_HEALTH) for target in served if target.startswith(GRPC_HEALTH))
        yield (
            f"{probe_name} asks the gRPC health service about {service!r}, which it does not answer about"
            f" (it answers about: {answered or 'nothing: the service serves no gRPC health service'})"
        )
    if grpc.get("port") not in {number for name, number in ports if name == "grpc"}:
        yield f"{probe_name} asks port {grpc.get('port')}, which is not the container port grpc {ports}"


def _probe_target(probe: dict[str, Any]) -> str | None:
    """What a probe asks: an HTTP path, or the gRPC health service about a service name."""
    if "grpc" in probe:
        return GRPC_HEALTH + str(probe["grpc"].get("service", ""))
    path = probe.get("httpGet", {}).get("path")
    return None if path is None else str(path)


def _config_agreements(rendered: Rendered, pod: dict[str, Any]) -> Iterator[str]:
    """The ConfigMaps the pod reads exist, and its grace period covers the shutdown they configure."""
    config_maps = {_name(obj): obj.get("data", {}) for obj in rendered.of_kind("ConfigMap")}
    settings: dict[str, str] = {}
    for container in pod["spec"].get("containers", []):
        for source in container.get("envFrom", []):
            name = source.get("configMapRef", {}).get("name")
            if name is None:
                continue
            if name not in config_maps:
                yield f"container {container['name']} reads ConfigMap {name}, which is not rendered"
            else:
                settings.update(config_maps[name])
    drain = _seconds(settings.get("SHUTDOWN_DRAIN_DELAY", SERVICE_DEFAULTS["SHUTDOWN_DRAIN_DELAY"]))
    timeout = _seconds(settings.get("SHUTDOWN_TIMEOUT", SERVICE_DEFAULTS["SHUTDOWN_TIMEOUT"]))
    grace = pod["spec"].get("terminationGracePeriodSeconds", 30)
    if drain is None or timeout is None:
        yield "SHUTDOWN_DRAIN_DELAY or SHUTDOWN_TIMEOUT is not a Go duration such as 10s"
    elif grace < drain + timeout + SHUTDOWN_MARGIN_SECONDS:
        yield (
            f"terminationGracePeriodSeconds {grace} does not cover SHUTDOWN_DRAIN_DELAY ({drain:g}s) + "
            f"SHUTDOWN_TIMEOUT ({timeout:g}s) + {SHUTDOWN_MARGIN_SECONDS}s: Kubernetes would kill the process "
            "before in-flight requests finish"
        )
    yield from _collector_agreements(rendered, settings)


def _collector_agreements(rendered: Rendered, settings: dict[str, str]) -> Iterator[str]:
    """The pods may reach the collector OTEL_EXPORTER_OTLP_ENDPOINT names, when they export spans: else the spans
    are dropped at the NetworkPolicy and nothing says so but the exporter's log."""
    endpoint = settings.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    exporting = settings.get("OTEL_TRACES_EXPORTER", "otlp") != "none" and settings.get(
        "OTEL_SDK_DISABLED", ""
    ).lower() not in ("true", "1")
    if not endpoint or not exporting:
        return
    target = collector_target(endpoint)
    if target is None:
        yield f"OTEL_EXPORTER_OTLP_ENDPOINT {endpoint!r} is not an http:// or https:// URL with a host"
        return
    namespace, port = target
    policies = [p for p in rendered.of_kind("NetworkPolicy") if "Egress" in p["spec"].get("policyTypes", [])]
    if not any(_allows_egress(rule, namespace, port) for p in policies for rule in p["spec"].get("egress", [])):
        where = f"namespace {namespace}" if namespace else "outside the cluster"
        yield f"no NetworkPolicy lets the pods reach the OTEL_EXPORTER_OTLP_ENDPOINT collector ({where}, port {port})"


def collector_target(endpoint: str) -> tuple[str | None, int] | None:
    """The namespace (None outside the cluster) and port of an OTLP endpoint; None when it is no http(s) URL.

    A host `name.namespace.svc` or `name.namespace.svc.cluster.local` is a Service of the cluster, as in
    includes/tracing.jinja."""
    try:
        url = urllib.parse.urlsplit(endpoint)
        port = url.port or {"http": 80, "https": 443}.get(url.scheme)
    except ValueError:
        return None
    if not url.hostname or port is None:
        return None
    labels = url.hostname.lower().split(".")
    in_cluster = (len(labels) == 3 and labels[2] == "svc") or (
        len(labels) == 5 and labels[2:] == ["svc", "cluster", "local"]
    )
    return (labels[1] if in_cluster else None), port


def _allows_egress(rule: dict[str, Any], namespace: str | None, port: int) -> bool:
    """Whether an egress rule admits TCP to `port` in `namespace` (None: any address outside the cluster)."""
    ports = rule.get("ports", [])
    if ports and not any(entry.get("port") == port and entry.get("protocol", "TCP") == "TCP" for entry in ports):
        return False
    peers = rule.get("to", [])
    if not peers:
        return True
    if namespace is None:
        return any("ipBlock" in peer for peer in peers)
    return any(
        set(peer) == {"namespaceSelector"}
        and _selects(peer["namespaceSelector"].get("matchLabels", {}), {"kubernetes.io/metadata.name": namespace})
        for peer in peers
    )


def _seconds(duration: str) -> float | None:
    """A Go duration ("1m30s", "500ms") in seconds, or None when it is not one."""
    text = str(duration).strip()
    if text == "0":
        return 0.0
    parts = _GO_DURATION.findall(text)
    if not parts or "".join(number + unit for number, unit in parts) != text:
        return None
    return sum(float(number) * _DURATION_UNITS[unit] for number, unit in parts)


def _matches_answers(base: Rendered, answers: Mapping[str, Any]) -> Iterator[str]:
    deployment = base.of_kind("Deployment")[0] if base.of_kind("Deployment") else None
    if deployment is None:
        return
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    resources = container.get("resources", {})
    cpu_limit = answers.get("cpu_limit")
    expected = {
        ("requests", "cpu"): answers.get("cpu_request"),
        ("limits", "cpu"): None if cpu_limit == "none" else cpu_limit,
        ("requests", "memory"): answers.get("memory_request"),
        ("limits", "memory"): answers.get("memory_limit"),
    }
    for (section, resource), wanted in expected.items():
        got = resources.get(section, {}).get(resource)
        if str(got) != str(wanted):
            yield f"{section}.{resource} is {got}, the answer is {wanted}"
    for section in ("requests", "limits"):
        if "ephemeral-storage" not in resources.get(section, {}):
            yield f"{section}.ephemeral-storage is not set: logs and /tmp could fill the node's disk"
    ports = {p.get("name"): p["containerPort"] for p in container.get("ports", [])}
    api = answers.get("api", "http")
    serves_grpc = api != "http"
    expected_ports = [
        *([("http", "http_port")] * (api != "grpc")),
        ("metrics", "metrics_port"),
        *([("grpc", "grpc_port")] * serves_grpc),
    ]
    if api == "grpc" and "http" in ports:
        yield f"api is grpc, yet the container has an http port ({ports['http']})"
    for name, answer in expected_ports:
        if answers.get(answer) is not None and ports.get(name) != answers.get(answer):
            yield f"container port {name} is {ports.get(name)}, the answer {answer} is {answers.get(answer)}"
    if serves_grpc:
        yield from _grpc_service_matches(base)
    yield from _monitoring_matches(base, deployment, answers)
    yield from _tracing_matches(base, answers)
    hpas = base.of_kind("HorizontalPodAutoscaler")
    if answers.get("hpa_enabled"):
        if len(hpas) != 1:
            yield f"hpa_enabled is true but {len(hpas)} HorizontalPodAutoscalers are rendered"
            return
        spec = hpas[0]["spec"]
        bounds = (spec.get("minReplicas"), spec.get("maxReplicas"))
        wanted_bounds = (answers.get("hpa_min_replicas"), answers.get("hpa_max_replicas"))
        if bounds != wanted_bounds:
            yield f"HorizontalPodAutoscaler bounds {bounds} differ from the answers {wanted_bounds}"
        targets = [m["resource"]["target"].get("averageUtilization") for m in spec.get("metrics", [])]
        if targets != [answers.get("hpa_cpu_utilization")]:
            yield f"HorizontalPodAutoscaler CPU targets {targets}, the answer is {answers.get('hpa_cpu_utilization')}"
    else:
        if hpas:
            yield "hpa_enabled is false but a HorizontalPodAutoscaler is rendered"
        if deployment["spec"].get("replicas") != answers.get("replicas"):
            yield f"Deployment replicas {deployment['spec'].get('replicas')}, the answer is {answers.get('replicas')}"


def _grpc_service_matches(base: Rendered) -> Iterator[str]:
    """The API's Service exposes the gRPC port as gRPC: meshes and load balancers balance its calls, not its
    connections, only when the port says so."""
    scraped = {_name(service) for service in _monitored_services(base)}
    exposed = [
        port
        for service in base.of_kind("Service")
        if _name(service) not in scraped
        for port in service["spec"].get("ports", [])
        if port.get("targetPort") == "grpc"
    ]
    if not exposed:
        yield "api serves gRPC but the Service exposes no port with targetPort grpc"
    for port in exposed:
        if port.get("appProtocol") != "grpc":
            yield f"Service port {port.get('name')} of gRPC has appProtocol {port.get('appProtocol')}, not grpc"


def _tracing_matches(base: Rendered, answers: Mapping[str, Any]) -> Iterator[str]:
    settings = base.settings()
    endpoint = settings.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    if answers.get("tracing", "off") == "otlp":
        if endpoint != answers.get("otlp_endpoint"):
            yield f"OTEL_EXPORTER_OTLP_ENDPOINT is {endpoint}, the answer otlp_endpoint {answers.get('otlp_endpoint')}"
    elif otel := sorted(key for key in settings if key.startswith("OTEL_")):
        yield f"tracing is off but the ConfigMap sets {', '.join(otel)}"


def _monitoring_matches(base: Rendered, deployment: dict[str, Any], answers: Mapping[str, Any]) -> Iterator[str]:
    monitoring = answers.get("monitoring", "annotations")
    annotations = deployment["spec"]["template"].get("metadata", {}).get("annotations") or {}
    if monitoring != "prometheus-operator" and answers.get("metrics_port") is not None:
        if annotations.get("prometheus.io/port") != str(answers["metrics_port"]):
            yield f"pod annotation prometheus.io/port is {annotations.get('prometheus.io/port')}, not the metrics port"
    elif monitoring == "prometheus-operator" and any(key.startswith("prometheus.io/") for key in annotations):
        yield "pod has prometheus.io annotations, but monitoring is prometheus-operator only"
    for kind in ("ServiceMonitor", "PrometheusRule"):
        count = len(base.of_kind(kind))
        if monitoring != "annotations" and count != 1:
            yield f"monitoring is {monitoring}: expected one {kind}, found {count}"
        elif monitoring == "annotations" and count:
            yield f"monitoring is annotations, but {count} {kind} objects are rendered"


def _selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return bool(selector) and all(labels.get(key) == value for key, value in selector.items())


def _port_matches(port: Any, ports: set[tuple[str | None, int]]) -> bool:
    return any(port in (name, number) for name, number in ports)


def _name(obj: dict[str, Any]) -> str:
    return str(obj.get("metadata", {}).get("name"))
