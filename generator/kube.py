"""Kubernetes checks: every overlay rendered with kustomize, validated strictly,
and checked for the agreements no schema can see."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from generator.errors import ToolMissingError, one_line
from generator.outcome import Outcome
from generator.render import read_answers
from generator.tools import TOOLS, find, tool_environment

# Oldest minor still in providers' standard support, oldest upstream-supported, newest.
KUBERNETES_VERSIONS = ("1.33.0", "1.35.0", "1.37.0")

BUILD_FAILED = "does not build"
DEPLOY = "deploy"
"""The folder holding the kustomizations, relative to the repository."""

# Route patterns as Go source writes them: "GET /healthz", or "GET "+healthzPath with a constant.
_ROUTE_LITERAL = re.compile(r'"(?:GET|HEAD) (/[^"\s]*)"')
_ROUTE_CONSTANT = re.compile(r'"(?:GET|HEAD) "\s*\+\s*(\w+)')
_PATH_CONSTANT = re.compile(r'(\w+)\s*(?:string\s*)?=\s*"(/[^"\s]*)"')


@dataclass(frozen=True)
class Rendered:
    """One kustomization rendered: its folder and its objects."""

    name: str
    objects: list[dict[str, Any]]

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [obj for obj in self.objects if obj.get("kind") == kind]


class RenderError(Exception):
    """kustomize could not build a kustomization."""


def kustomizations(repo: Path) -> list[Path]:
    """The base and every overlay, relative to the repository."""
    deploy = repo / DEPLOY
    found = [path.parent for path in sorted(deploy.rglob("kustomization.yaml"))]
    return [path.relative_to(repo) for path in found]


def render(repo: Path, kustomization: Path) -> Rendered:
    result = subprocess.run(
        [str(find("kubectl")), "kustomize", str(kustomization)],
        cwd=repo,
        capture_output=True,
        text=True,
        check=False,
        env=tool_environment(),
    )
    if result.returncode != 0:
        raise RenderError(f"{kustomization}: kustomize failed: {result.stderr.strip()}")
    objects = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
    return Rendered(str(kustomization), objects)


def _render_all(repo: Path) -> tuple[list[Rendered], list[str]]:
    rendered, problems = [], []
    folders = kustomizations(repo)
    if not folders:
        problems.append("no kustomization.yaml under deploy/")
    for folder in folders:
        try:
            rendered.append(render(repo, folder))
        except RenderError as error:
            problems.append(str(error))
    return rendered, problems


def kustomization_problems(project: Path) -> dict[str, frozenset[str]]:
    """For each kustomization: whether kustomize builds it, and what in it disagrees (as the consistency check
    reports it). Updates compare this before and after."""
    folders = kustomizations(project)
    served = served_paths(project)
    with ThreadPoolExecutor(max_workers=4) as pool:
        found = list(pool.map(lambda folder: _problems_of(project, folder, served), folders))
    return {str(folder): problems for folder, problems in zip(folders, found, strict=True)}


def _problems_of(project: Path, folder: Path, served: set[str]) -> frozenset[str]:
    try:
        rendered = render(project, folder)
    except RenderError as error:
        return frozenset({f"{BUILD_FAILED}: {one_line(str(error), 300)}"})
    return frozenset(_readable(_agreements(rendered, served)))


def validate_schemas(repo: Path) -> Outcome:
    """Every object of every kustomization, strictly, against each supported Kubernetes version."""
    try:
        import kubernetes_validate
        from kubernetes_validate.utils import ValidationError
    except ImportError as error:
        raise ToolMissingError(
            f"kubernetes-validate {TOOLS['kubernetes-validate'].version} is not installed: run `gosvc tools install`"
        ) from error
    rendered, problems = _render_all(repo)
    count = 0
    for kustomization in rendered:
        for obj in kustomization.objects:
            for version in KUBERNETES_VERSIONS:
                count += 1
                try:
                    kubernetes_validate.validate(obj, version, strict=True)
                except ValidationError as error:
                    path = ".".join(str(part) for part in error.path) or "(root)"
                    problems.append(
                        f"{kustomization.name}: {_ref(obj)} (Kubernetes {version}): {path}: {error.message}"
                    )
                except kubernetes_validate.SchemaNotFoundError as error:
                    problems.append(f"{kustomization.name}: {_ref(obj)} (Kubernetes {version}): no schema: {error}")
    summary = (
        f"{count} validations of {sum(len(r.objects) for r in rendered)} objects in {len(rendered)} kustomizations"
    )
    return Outcome(not problems, "\n".join([*problems, summary]) if problems else summary)


def check_consistency(repo: Path) -> Outcome:
    """Selectors match pod labels, probes and ports match what the service serves, HPA matches the answers."""
    answers = read_answers(repo)
    served = served_paths(repo)
    rendered, problems = _render_all(repo)
    for kustomization in rendered:
        problems += [f"{kustomization.name}: {p}" for p in _readable(_agreements(kustomization, served))]
    base = next((r for r in rendered if r.name == str(Path("deploy") / "base")), None)
    if base is None:
        problems.append("deploy/base is missing")
    else:
        problems += [f"deploy/base: {p}" for p in _readable(_matches_answers(base, answers))]
    return Outcome(not problems, "\n".join(problems) or f"{len(rendered)} kustomizations agree")


def served_paths(repo: Path) -> set[str]:
    """Paths the Go service routes GET requests to, read from its route patterns."""
    sources = sorted(repo.glob("internal/**/*.go")) + sorted(repo.glob("cmd/**/*.go"))
    text = "\n".join(
        s.read_text(encoding="utf-8", errors="replace") for s in sources if not s.name.endswith("_test.go")
    )
    constants = dict(_PATH_CONSTANT.findall(text))
    paths = set(_ROUTE_LITERAL.findall(text))
    paths.update(constants[name] for name in _ROUTE_CONSTANT.findall(text) if name in constants)
    return {path.replace("{$}", "") for path in paths}


def _readable(found: Iterator[str]) -> list[str]:
    """The problems `found` yields; an object too malformed to check is one problem more, never a crash."""
    problems: list[str] = []
    try:
        problems.extend(found)
    except (KeyError, IndexError, TypeError, AttributeError) as error:
        problems.append(f"an object lacks a field or has one of the wrong type ({type(error).__name__}: {error})")
    return problems


# What every kustomization renders: one of each, so that none can go missing unnoticed.
REQUIRED_KINDS = ("Deployment", "Service", "ServiceAccount", "PodDisruptionBudget", "NetworkPolicy")


def _agreements(rendered: Rendered, served: set[str]) -> Iterator[str]:
    for kind in REQUIRED_KINDS:
        count = len(rendered.of_kind(kind))
        if count != 1:
            yield f"expected one {kind}, found {count}"
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
    for service in rendered.of_kind("Service"):
        if not _selects(service["spec"].get("selector", {}), pod_labels):
            yield f"Service {_name(service)} selector does not match the pod labels"
        for port in service["spec"].get("ports", []):
            if not _port_matches(port.get("targetPort", port.get("port")), ports):
                yield f"Service {_name(service)} targetPort {port.get('targetPort')} is not a container port {ports}"
    for kind in ("PodDisruptionBudget",):
        for obj in rendered.of_kind(kind):
            if not _selects(obj["spec"].get("selector", {}).get("matchLabels", {}), pod_labels):
                yield f"{kind} {_name(obj)} selector does not match the pod labels"
    for policy in rendered.of_kind("NetworkPolicy"):
        if not _selects(policy["spec"].get("podSelector", {}).get("matchLabels", {}), pod_labels):
            yield f"NetworkPolicy {_name(policy)} podSelector does not match the pod labels"
    for container in containers:
        for probe_name in ("livenessProbe", "readinessProbe", "startupProbe"):
            probe = container.get(probe_name)
            if probe is None:
                if probe_name != "startupProbe":
                    yield f"container {container['name']} has no {probe_name}"
                continue
            http = probe.get("httpGet", {})
            if http.get("path") not in served:
                yield f"{probe_name} path {http.get('path')} is not served (served: {sorted(served)})"
            if not _port_matches(http.get("port"), ports):
                yield f"{probe_name} port {http.get('port')} is not a container port {ports}"
        liveness, readiness = container.get("livenessProbe", {}), container.get("readinessProbe", {})
        if liveness and liveness.get("httpGet", {}).get("path") == readiness.get("httpGet", {}).get("path"):
            yield "readiness and liveness probe the same path; readiness must fail during shutdown"
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


def _matches_answers(base: Rendered, answers: dict[str, Any]) -> Iterator[str]:
    deployment = base.of_kind("Deployment")[0] if base.of_kind("Deployment") else None
    if deployment is None:
        return
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    resources = container.get("resources", {})
    expected = {
        ("requests", "cpu"): answers.get("cpu_request"),
        ("limits", "cpu"): answers.get("cpu_limit"),
        ("requests", "memory"): answers.get("memory_request"),
        ("limits", "memory"): answers.get("memory_limit"),
    }
    for (section, resource), wanted in expected.items():
        got = resources.get(section, {}).get(resource)
        if str(got) != str(wanted):
            yield f"{section}.{resource} is {got}, the answer is {wanted}"
    ports = [p["containerPort"] for p in container.get("ports", [])]
    if answers.get("http_port") not in ports:
        yield f"container ports {ports} do not include http_port {answers.get('http_port')}"
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


def _selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return bool(selector) and all(labels.get(key) == value for key, value in selector.items())


def _port_matches(port: Any, ports: set[tuple[str | None, int]]) -> bool:
    return any(port in (name, number) for name, number in ports)


def _name(obj: dict[str, Any]) -> str:
    return str(obj.get("metadata", {}).get("name"))


def _ref(obj: dict[str, Any]) -> str:
    return f"{obj.get('kind')}/{_name(obj)}"
