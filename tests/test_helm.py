"""The Helm chart renders what the kustomize overlays render for the same answers, and refuses bad values."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from generator.checks.kubernetes import helm
from generator.project import kube
from generator.project.kube import Rendered
from generator.tools import Toolbox
from tests.conftest import Render

pytestmark = [pytest.mark.slow, pytest.mark.slow_tools]

ANSWERS = [
    {},
    {"hpa_enabled": False},
    {"hpa_enabled": False, "replicas": 1, "cpu_limit": "2", "cpu_request": "0.5"},
    {"hpa_min_replicas": 1, "hpa_max_replicas": 3, "http_port": 8000, "metrics_port": 9000},
    {"service_name": "a", "organization": "platform-team", "memory_request": "1Gi", "memory_limit": "2Gi"},
]


@pytest.mark.parametrize("answers", ANSWERS, ids=lambda answers: ",".join(f"{k}={v}" for k, v in answers.items()))
def test_each_values_file_renders_the_objects_of_its_overlay(render: Render, answers: dict[str, Any]) -> None:
    project = render({**answers, "deploy_format": "both"}, name=answers.get("service_name", "orders-api")).dest

    for environment in ("dev", "prod"):
        chart = kube.render_chart(project, kube.CHART / f"values-{environment}.yaml", Toolbox.default())
        kustomized = kube.render(project, Path(kube.DEPLOY) / "overlays" / environment, Toolbox.default())

        assert helm.compare(kustomized, chart) == []
        kinds = {obj["kind"] for obj in chart.objects}
        assert {"Deployment", "Service", "ServiceAccount", "PodDisruptionBudget", "NetworkPolicy", "ConfigMap"} <= kinds
        assert ("HorizontalPodAutoscaler" in kinds) == answers.get("hpa_enabled", True)


def test_the_comparison_sees_a_probe_a_label_and_an_object_that_differ() -> None:
    deployment = {
        "kind": "Deployment",
        "metadata": {"name": "svc", "labels": {"app.kubernetes.io/managed-by": "kustomize", "team": "a"}},
        "spec": {"template": {"metadata": {}, "spec": {"containers": [{"readinessProbe": {"path": "/readyz"}}]}}},
    }
    config = {"kind": "ConfigMap", "metadata": {"name": "svc-config-5m8hc7t2dk"}, "data": {"A": "1"}}
    changed = copy.deepcopy(deployment)
    changed["metadata"]["labels"] = {"app.kubernetes.io/managed-by": "Helm", "team": "b"}
    changed["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["path"] = "/healthz"
    chart_config = {"kind": "ConfigMap", "metadata": {"name": "svc-config"}, "data": {"A": "1"}}

    same = helm.compare(Rendered("k", [deployment, config]), Rendered("h", [deployment, chart_config]))
    differences = helm.compare(Rendered("k", [deployment, config]), Rendered("h", [changed]))

    assert same == []
    assert differences == [
        "only kustomize renders ConfigMap/svc-config",
        "Deployment/svc .metadata.labels.team: kustomize 'a', chart 'b'",
        "Deployment/svc .spec.template.spec.containers[0].readinessProbe.path: kustomize '/readyz', chart '/healthz'",
    ]


@pytest.mark.parametrize(
    ("value", "refused_for"),
    [
        ("replicas=0", "replicas"),
        ("image.digest=sha256:abc", "digest"),
        ("resources.limits.cpu=0.5", "cpu"),
        ("resources.requests.memory=lots", "memory"),
        ("networkPolicy.ingressNamespace=Ingress_NS", "ingressNamespace"),
        ("autoscaling.enabled=yes", "enabled"),
        ("config.log_level=debug", "log_level"),
        ("replica=3", "replica"),
        ("autoscaling.maxReplicas=1", "below autoscaling.minReplicas"),
        ("ports.metrics=8080", "must differ"),
    ],
)
def test_bad_values_fail_to_render(render: Render, value: str, refused_for: str) -> None:
    project = render({"deploy_format": "both"}).dest

    flags = kube.helm_flags(["--set", value])
    result = Toolbox.default().run("helm", "template", "orders-api", str(kube.CHART), *flags, cwd=project)

    assert result.returncode != 0, result.stdout[:500]
    assert refused_for in result.stderr
