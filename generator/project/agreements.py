"""The agreements no schema can see between a repository's manifests and its Go code, read from every
kustomization as kustomize renders it and every values file of the Helm chart as `helm template` renders it.

Selectors match pod labels; probes reach routes the Go code serves, on its
ports; the Service exposes the API and never the metrics port, which only the
monitoring namespace may reach; the pod reads a ConfigMap that exists; the
grace period covers the drain delay and the shutdown timeout; the HPA owns the
scale it targets. The kubernetes-consistency check reports them, and an update
compares them before and after (kustomization_problems).
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from generator.project.database_url import database_url_problems
from generator.project.kube import Rendered, RenderError, chart_values, kustomizations, render, render_chart
from generator.runtime.errors import one_line
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
    return frozenset(readable(agreements(rendered, served)))


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


def readable(found: Iterator[str]) -> list[str]:
    """The problems `found` yields; an object too malformed to check is one problem more, never a crash."""
    problems: list[str] = []
    try:
        problems.extend(found)
    except (KeyError, IndexError, TypeError, AttributeError, ValueError) as error:
        problems.append(f"an object lacks a field or has one of the wrong type ({type(error).__name__}: {error})")
    return problems


def agreements(rendered: Rendered, served: set[str]) -> Iterator[str]:
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
    yield from _monitor_agreements(rendered, object_name(deployment))
    for obj in rendered.of_kind("PodDisruptionBudget"):
        if not _selects(obj["spec"].get("selector", {}).get("matchLabels", {}), pod_labels):
            yield f"PodDisruptionBudget {object_name(obj)} selector does not match the pod labels"
    yield from _network_agreements(rendered, pod_labels, ports)
    for container in containers:
        yield from _probe_agreements(container, served, ports)
    yield from _config_agreements(rendered, pod)
    for hpa in rendered.of_kind("HorizontalPodAutoscaler"):
        target = hpa["spec"]["scaleTargetRef"]
        if target.get("kind") != "Deployment" or target.get("name") != object_name(deployment):
            yield f"HorizontalPodAutoscaler targets {target}, not Deployment {object_name(deployment)}"
        if "replicas" in deployment["spec"]:
            yield "Deployment sets replicas although a HorizontalPodAutoscaler owns its scale"
        if hpa["spec"].get("minReplicas", 1) > hpa["spec"]["maxReplicas"]:
            yield "HorizontalPodAutoscaler minReplicas is above maxReplicas"
    sa_name = pod["spec"].get("serviceAccountName")
    accounts = {object_name(sa): sa for sa in rendered.of_kind("ServiceAccount")}
    if sa_name not in accounts:
        yield f"pod serviceAccountName {sa_name} is not one of the ServiceAccounts {sorted(accounts)}"
    if pod["spec"].get("automountServiceAccountToken") is not False:
        yield "pod automountServiceAccountToken is not false"


def _service_agreements(
    rendered: Rendered, pod_labels: dict[str, str], ports: set[tuple[str | None, int]]
) -> Iterator[str]:
    """One API Service, which never exposes the metrics port; a Service a ServiceMonitor scrapes exposes it only."""
    metrics_ports = {port for port in ports if port[0] == "metrics"}
    scraped = {object_name(service) for service in monitored_services(rendered)}
    api = [service for service in rendered.of_kind("Service") if object_name(service) not in scraped]
    if len(api) != 1:
        yield f"expected one Service of the API, found {len(api)}"
    for service in rendered.of_kind("Service"):
        if not _selects(service["spec"].get("selector", {}), pod_labels):
            yield f"Service {object_name(service)} selector does not match the pod labels"
        for port in service["spec"].get("ports", []):
            target = port.get("targetPort", port.get("port"))
            if not _port_matches(target, ports):
                yield f"Service {object_name(service)} targetPort {target} is not a container port {ports}"
            elif object_name(service) in scraped and not _port_matches(target, metrics_ports):
                yield f"Service {object_name(service)}, which a ServiceMonitor scrapes, exposes {target}: only metrics"
            elif object_name(service) not in scraped and _port_matches(target, metrics_ports):
                yield f"Service {object_name(service)} exposes the metrics port {target}: metrics must stay private"


def monitored_services(rendered: Rendered) -> list[dict[str, Any]]:
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
    services = monitored_services(rendered)
    for monitor in rendered.of_kind("ServiceMonitor"):
        spec = monitor["spec"]
        selector = spec.get("selector", {}).get("matchLabels", {})
        chosen = [s for s in services if _selects(selector, s["metadata"].get("labels", {}))]
        if not chosen:
            yield f"ServiceMonitor {object_name(monitor)} selects no Service ({selector})"
        for service in chosen:
            names = {port.get("name") for port in service["spec"].get("ports", [])}
            for endpoint in spec.get("endpoints", []):
                if endpoint.get("port") not in names:
                    port = endpoint.get("port")
                    yield f"ServiceMonitor {object_name(monitor)} scrapes port {port}, not in {sorted(names)}"
                if endpoint.get("path", "/metrics") != "/metrics":
                    yield f"ServiceMonitor {object_name(monitor)} scrapes {endpoint.get('path')}, not /metrics"
            labels = service["metadata"].get("labels", {})
            job = labels.get(spec["jobLabel"]) if spec.get("jobLabel") else object_name(service)
            if job not in jobs:
                yield (
                    f"ServiceMonitor {object_name(monitor)} gives its targets job {job!r}, but the rules select "
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
            yield f"NetworkPolicy {object_name(policy)} podSelector does not match the pod labels"
        egress_restricted = egress_restricted or "Egress" in spec.get("policyTypes", [])
        for rule in spec.get("ingress", []):
            rule_ports = [entry.get("port") for entry in rule.get("ports", [])]
            opens_metrics = not rule_ports or any(_port_matches(port, metrics_ports) for port in rule_ports)
            sources = rule.get("from", [])
            only_namespaces = sources and all(set(peer) == {"namespaceSelector"} for peer in sources)
            if metrics_ports and opens_metrics and not only_namespaces:
                yield (
                    f"NetworkPolicy {object_name(policy)} admits the metrics port from more than a monitoring "
                    f"namespace: {sources or 'everyone'}"
                )
    if not egress_restricted:
        yield "no NetworkPolicy restricts egress"
    yield from _admitted_service_ports(rendered, ports)


def _admitted_service_ports(rendered: Rendered, ports: set[tuple[str | None, int]]) -> Iterator[str]:
    """Every port the API's Service exposes is one some NetworkPolicy admits: else its clients time out."""
    scraped = {object_name(service) for service in monitored_services(rendered)}
    rules = [rule for policy in rendered.of_kind("NetworkPolicy") for rule in policy["spec"].get("ingress", [])]
    restricted = any("Ingress" in p["spec"].get("policyTypes", []) for p in rendered.of_kind("NetworkPolicy"))
    for service in rendered.of_kind("Service"):
        if object_name(service) in scraped or not restricted:
            continue
        for port in service["spec"].get("ports", []):
            target = _container_port(port.get("targetPort", port.get("port")), ports)
            admitted = any(
                not rule.get("ports") or any(_container_port(e.get("port"), ports) == target for e in rule["ports"])
                for rule in rules
            )
            if target is not None and not admitted:
                yield (
                    f"Service {object_name(service)} exposes port {port.get('name', target)}, which no NetworkPolicy "
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
    config_maps = {object_name(obj): obj.get("data", {}) for obj in rendered.of_kind("ConfigMap")}
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
    yield from database_url_problems(pod, settings)


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


def _selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return bool(selector) and all(labels.get(key) == value for key, value in selector.items())


def _port_matches(port: Any, ports: set[tuple[str | None, int]]) -> bool:
    return any(port in (name, number) for name, number in ports)


def object_name(obj: dict[str, Any]) -> str:
    return str(obj.get("metadata", {}).get("name"))
