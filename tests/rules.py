"""The template's answer rules and text macros, evaluated as Copier evaluates them, without rendering a repository.

Copier renders each question's `validator` in a sandboxed Jinja environment
with the Ansible filters; so does this module, with the same copier.yml and
includes, so that a rule can be tried on thousands of values in seconds.
"""

from __future__ import annotations

import functools
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import jinja2
import yaml
from jinja2.sandbox import SandboxedEnvironment

from tests.conftest import PROJECT_ROOT

DEFAULTS: dict[str, Any] = {
    "service_name": "orders-api",
    "organization": "example",
    "module_path": "github.com/example/orders-api",
    "description": "orders-api is a Go HTTP service",
    "go_version": "1.26",
    "api": "http",
    "http_port": 8080,
    "grpc_port": 50051,
    "metrics_port": 9102,
    "base_image": "distroless",
    "image_registry": "ghcr.io/example",
    "replicas": 2,
    "cpu_request": "100m",
    "cpu_limit": "none",
    "memory_request": "64Mi",
    "memory_limit": "128Mi",
    "hpa_enabled": True,
    "hpa_min_replicas": 2,
    "hpa_max_replicas": 10,
    "hpa_cpu_utilization": 75,
    "ingress_namespace": "ingress-nginx",
    "monitoring_namespace": "monitoring",
    "slo_availability": 99.9,
    "slo_latency_ms": 500,
    "runbook_url": "https://github.com/example/orders-api/blob/HEAD/docs/runbooks.md",
    "tracing": "off",
    "otlp_endpoint": "http://otel-collector.monitoring.svc:4318",
    "database": "none",
    "deploy_format": "kustomize",
    "monitoring": "annotations",
    "gitops": "none",
    "repository_url": "https://github.com/example/orders-api.git",
    "argocd_project": "default",
    "argocd_automated": True,
    "argocd_self_heal": True,
    "argocd_prune": False,
    "owner": "example",
    "system": "example",
    "lifecycle": "experimental",
    "ci_system": "github-actions",
}

LONGEST: dict[str, str] = {
    "service_name": "s" + "-a1" * 16 + "z",
    "organization": "o" * 63,
    "module_path": "example.com/" + "/".join(["m" * 20] * 8) + "/m" * 10,
    "image_registry": "registry.example.com:5000/" + "/".join(["r" * 40] * 4),
    "description": "D" * 200,
    "deploy_format": "both",
    "monitoring": "prometheus-operator",
    "gitops": "argocd",
    "repository_url": "ssh://git@" + "g" * 60 + ".example.com:2222/" + "/".join(["p" * 40] * 5) + ".git",
    "tracing": "otlp",
    "otlp_endpoint": "http://" + "c" * 60 + "." + "n" * 63 + ".svc.cluster.local:65535/" + "/".join(["p" * 40] * 3),
}
"""Answers at the longest each rule accepts, with the integrations that print them in the most files."""
"""A valid answer to every question: the context a rule is tried in."""


@functools.cache
def _environment() -> SandboxedEnvironment:
    return SandboxedEnvironment(
        loader=jinja2.FileSystemLoader(str(PROJECT_ROOT)),
        extensions=["jinja2_ansible_filters.AnsibleCoreFiltersExtension"],
    )


@functools.cache
def questions() -> dict[str, dict[str, Any]]:
    """The questions of copier.yml (settings aside)."""
    config = yaml.safe_load((PROJECT_ROOT / "copier.yml").read_text(encoding="utf-8"))
    return {name: spec for name, spec in config.items() if not name.startswith("_")}


def validated_questions() -> list[str]:
    return [name for name, spec in questions().items() if spec.get("validator")]


def violation(question: str, value: Any, **others: Any) -> str:
    """What the question's rule says of `value` in a context of valid answers: "" when it accepts it."""
    context = {**DEFAULTS, **others, question: value}
    template = _environment().from_string(questions()[question]["validator"])
    return template.render(context).strip()


def render_macro(source: str, call: str, **context: Any) -> str:
    """The output of `call` after `{% from 'includes/...' import ... %}` in `source`."""
    return _environment().from_string(source + call).render(context)


class GoCheck:
    """Go's own verdicts on module paths and image references, from tests/gocheck built once."""

    def __init__(self, binary: Path) -> None:
        self._binary = binary

    @classmethod
    def build(cls, folder: Path) -> GoCheck:
        binary = folder / "gocheck"
        subprocess.run(
            ["go", "build", "-o", str(binary), "."],
            cwd=PROJECT_ROOT / "tests" / "gocheck",
            check=True,
            capture_output=True,
        )
        return cls(binary)

    def verdicts(self, kind: str, values: Iterable[str]) -> list[str]:
        """One line per value: "ok DETAIL" or "bad REASON"."""
        lines = [f"{kind} {value}" for value in values]
        result = subprocess.run(
            [str(self._binary)], input="\n".join(lines) + "\n", capture_output=True, text=True, check=True
        )
        return result.stdout.splitlines()
