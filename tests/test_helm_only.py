"""`deploy_format: helm`: a repository whose only manifests are the Helm chart is complete on its own.

Nothing of kustomize is rendered; everything that reads the deployment (the
checks, the Go test of the grace period, `make pin-release`, `gosvc update`)
reads the chart instead.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from generator import checks
from generator.project import agreements, kube
from generator.tools import Toolbox
from tests.conftest import Render
from tests.template_versions import SERVICE, commit_all, fingerprint, generate
from tests.test_update_safety import gosvc

pytestmark = pytest.mark.slow

HELM = {"deploy_format": "helm"}
DIGEST = "sha256:" + "ab" * 32


def test_a_helm_only_repository_holds_nothing_of_kustomize(render: Render) -> None:
    project = render(HELM).dest

    files = [path for path in project.rglob("*") if path.is_file() and ".git" not in path.parts]
    names = {path.relative_to(project).as_posix() for path in files}

    assert not (project / kube.BASE).exists() and not (project / kube.DEPLOY / "overlays").exists()
    assert {"kustomization.yaml", "config.env", ".checkov.yaml"}.isdisjoint(path.name for path in files)
    assert {"deploy/chart/values.yaml", "deploy/chart/values-dev.yaml", "deploy/chart/values-prod.yaml"} <= names
    mentions = [path for path in files if "kustomiz" in path.read_text(errors="replace").lower()]
    assert mentions == [], "a file still tells of kustomize"
    assert kube.base_source(project) == kube.CHART_DEFAULTS


@pytest.mark.slow_tools
def test_a_helm_only_repository_passes_every_check(render: Render, control_planes: dict[str, Path]) -> None:
    project = render(HELM).dest

    results = checks.run_checks(checks.CheckContext.from_environment(project, planes=control_planes))

    failing = {r.check: r.output for r in results if r.status not in (checks.PASS, checks.NOT_APPLICABLE)}
    assert failing == {}
    applied = {r.check for r in results if r.status == checks.PASS}
    assert {"helm", "kubernetes-consistency", "kubernetes-server", "image", "prometheus-e2e"} <= applied
    image = next(r.output for r in results if r.check == "image")
    assert "grace period 35s, from the Deployment in deploy/chart/values.yaml" in image


@pytest.mark.slow_tools
def test_pin_release_writes_the_release_into_the_production_values(render: Render) -> None:
    project = render(HELM).dest

    subprocess.run(["make", "pin-release", "TAG=v1.2.3", f"DIGEST={DIGEST}"], cwd=project, check=True, text=True)

    prod = kube.render_chart(project, kube.CHART / "values-prod.yaml", Toolbox.default()).of_kind("Deployment")[0]
    dev = kube.render_chart(project, kube.CHART / "values-dev.yaml", Toolbox.default()).of_kind("Deployment")[0]
    image = f"ghcr.io/example/{SERVICE}:v1.2.3@{DIGEST}"
    assert prod["spec"]["template"]["spec"]["containers"][0]["image"] == image
    assert dev["spec"]["template"]["spec"]["containers"][0]["image"] == f"ghcr.io/example/{SERVICE}:main"


@pytest.mark.slow_tools
def test_updates_of_a_helm_only_repository_check_each_values_file(template_repo: Path, tmp_path: Path) -> None:
    project = generate(template_repo, tmp_path / SERVICE, "v1.0.0", data=HELM)

    assert set(agreements.kustomization_problems(project, Toolbox.default())) == {
        "deploy/chart/values.yaml",
        "deploy/chart/values-dev.yaml",
        "deploy/chart/values-prod.yaml",
    }
    result = gosvc("update", str(project), "--data", "hpa_enabled=false", "--json")

    assert result.returncode == 0, result.stderr
    base = kube.render_base(project, Toolbox.default())
    assert "HorizontalPodAutoscaler" not in {obj["kind"] for obj in base.objects}
    assert not (project / kube.BASE).exists()


@pytest.mark.slow_tools
def test_an_answer_change_the_production_values_cannot_follow_is_refused(template_repo: Path, tmp_path: Path) -> None:
    project = generate(template_repo, tmp_path / SERVICE, "v1.0.0", data=HELM)
    prod = project / kube.CHART / "values-prod.yaml"
    prod.write_text(prod.read_text() + "autoscaling:\n  maxReplicas: 4\n")
    commit_all(project, "production scales to 4 pods at most")
    before = fingerprint(project)

    result = gosvc("update", str(project), "--data", "hpa_min_replicas=5", "--data", "replicas=5")

    assert result.returncode == 2
    assert "deploy/chart/values-prod.yaml does not build" in result.stderr
    assert fingerprint(project) == before
