"""The kubernetes-consistency check: every kustomization's and every values file's agreements (see
project.agreements), and the base's with the answers of the repository.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from generator.project.agreements import agreements, monitored_services, object_name, probe_targets, readable
from generator.project.kube import BASE, CHART_DEFAULTS, Rendered, base_source, render_all
from generator.runtime.outcome import Outcome
from generator.tools import Toolbox


def check_consistency(repo: Path, answers: Mapping[str, Any], toolbox: Toolbox) -> Outcome:
    """Every kustomization's agreements, and the base's with the `answers` of the repository."""
    served = probe_targets(repo)
    rendered, problems = render_all(repo, toolbox)
    for kustomization in rendered:
        problems += [f"{kustomization.name}: {p}" for p in readable(agreements(kustomization, served))]
    # What the answers set directly: the kustomize base, and the chart with its own values.yaml.
    defaults = {str(BASE), str(CHART_DEFAULTS)}
    bases = [r for r in rendered if r.name in defaults]
    # Without kustomizations, the chart's values.yaml is the base.
    expected = base_source(repo)
    if not any(r.name == str(expected) for r in bases):
        problems.append(f"{expected} is missing")
    for base in bases:
        problems += [f"{base.name}: {p}" for p in readable(_matches_answers(base, answers))]
    return Outcome(not problems, "\n".join(problems) or f"{len(rendered)} kustomizations agree")


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
    scraped = {object_name(service) for service in monitored_services(base)}
    exposed = [
        port
        for service in base.of_kind("Service")
        if object_name(service) not in scraped
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
