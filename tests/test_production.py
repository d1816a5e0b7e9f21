"""What an SRE reading a generated repository checks, beyond lint: accepted scanner findings have reasons,
config changes roll out, the CI pipelines check what the repository claims with the pinned tools, and
everything they run and build on is pinned.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from generator import tools
from generator.project import kube
from tests.conftest import Render
from tests.rules import render_macro

KUSTOMIZATIONS = ("deploy/base", "deploy/overlays/dev", "deploy/overlays/prod")


def _suppressions(repo: Path) -> set[tuple[str, str, str, str]]:
    """(file, tool, finding, reason) of every suppression in the repository's files."""
    found = set()
    for path in sorted(repo.rglob("*")):
        if not path.is_file() or ".git" in path.parts:
            continue
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
        relative = str(path.relative_to(repo))
        for number, line in enumerate(lines):
            if match := re.search(r"checkov\.io/skip\d*: \"?(CKV\w+)=([^\"]*)\"?$", line):
                found.add((relative, "checkov", match[1], match[2]))
            if match := re.search(r"checkov:skip=(CKV\w+):?(.*)$", line):
                found.add((relative, "checkov", match[1], match[2].strip()))
            if relative == ".checkov.yaml" and (match := re.fullmatch(r"\s+- (CKV\w+)", line)):
                comments = " ".join(c.strip().lstrip("#") for c in lines[max(0, number - 4) : number] if "#" in c)
                reason = re.search(re.escape(match[1]) + r" \([^)]*\): (.+)", comments)
                found.add((relative, "checkov", match[1], reason[1] if reason else ""))
            ignore = re.search(r"kube-score/ignore: (\S+)$", line)
            if "kube-score~1ignore" in line and number + 1 < len(lines):  # set by a JSON patch
                ignore = re.search(r"value: (\S+)$", lines[number + 1])
            if match := ignore:
                # The reasons are in the comments above: "# CHECK: reason."
                comments = " ".join(c.strip().lstrip("#") for c in lines[max(0, number - 12) : number] if "#" in c)
                for check in match[1].split(","):
                    reason = re.search(re.escape(check) + r": ([^.]+)", comments)
                    found.add((relative, "kube-score", check, reason[1].strip() if reason else ""))
    return found


BASE = "deploy/base/deployment.yaml"
DEV = "deploy/overlays/dev/kustomization.yaml"
PROD = "deploy/overlays/prod/kustomization.yaml"
EXPECTED_SUPPRESSIONS = {
    (".checkov.yaml", "checkov", "CKV_K8S_21"),
    (BASE, "checkov", "CKV_K8S_43"),
    (BASE, "kube-score", "deployment-has-host-podantiaffinity"),
}
WITHOUT_CPU_LIMIT = {(BASE, "checkov", "CKV_K8S_11"), (BASE, "kube-score", "container-resources")}


@pytest.mark.parametrize(
    ("answers", "extra"),
    [
        ({}, WITHOUT_CPU_LIMIT | {(DEV, "kube-score", "horizontalpodautoscaler-replicas")}),
        ({"cpu_limit": "1"}, {(DEV, "kube-score", "horizontalpodautoscaler-replicas")}),
        ({"hpa_enabled": False}, WITHOUT_CPU_LIMIT | {(DEV, "kube-score", "deployment-replicas")}),
        (
            {"hpa_enabled": False, "replicas": 1},
            WITHOUT_CPU_LIMIT
            | {(DEV, "kube-score", "deployment-replicas"), (PROD, "kube-score", "deployment-replicas")},
        ),
        (
            {"hpa_min_replicas": 1},
            WITHOUT_CPU_LIMIT
            | {
                (DEV, "kube-score", "horizontalpodautoscaler-replicas"),
                (PROD, "kube-score", "horizontalpodautoscaler-replicas"),
            },
        ),
    ],
    ids=["default", "cpu-limit", "no-autoscaling", "one-replica", "autoscaled-from-one"],
)
def test_every_accepted_scanner_finding_is_listed_with_its_reason(
    render: Render, answers: dict[str, Any], extra: set[tuple[str, str, str]]
) -> None:
    project = render(answers)

    found = _suppressions(project.dest)
    # An overlay that sets kube-score's annotation repeats the base's ignores; those are not its own.
    base_ignores = {finding for file, tool, finding, _ in found if (file, tool) == (BASE, "kube-score")}
    found = {entry for entry in found if entry[0] == BASE or entry[2] not in base_ignores}

    assert {(file, tool, finding) for file, tool, finding, _ in found} == EXPECTED_SUPPRESSIONS | extra
    for file, tool, finding, reason in found:
        assert len(reason.split()) >= 4, f"{tool} {finding} in {file} has no reason a reviewer would accept"
    readme = (project.dest / "README.md").read_text()
    for _, tool, finding, _ in found:
        assert finding in readme, f"the README's table of accepted findings lacks {tool} {finding}"


def _pod_templates(project: Path) -> dict[str, Any]:
    toolbox = tools.Toolbox.default()
    rendered = {str(folder): kube.render(project, folder, toolbox) for folder in kube.kustomizations(project)}
    return {folder: item.of_kind("Deployment")[0]["spec"]["template"] for folder, item in rendered.items()}


def test_a_config_change_rolls_every_overlay_out(render: Render) -> None:
    project = render().dest
    before = _pod_templates(project)
    assert set(before) == set(KUSTOMIZATIONS)

    config = project / "deploy/base/config.env"
    config.write_text(config.read_text().replace("ACCESS_LOG=errors", "ACCESS_LOG=all"))
    after_base_change = _pod_templates(project)
    dev = project / "deploy/overlays/dev/kustomization.yaml"
    dev.write_text(dev.read_text().replace("LOG_LEVEL=debug", "LOG_LEVEL=warn"))
    after_dev_change = _pod_templates(project)

    for name in KUSTOMIZATIONS:
        assert after_base_change[name] != before[name], f"{name} does not roll out on a change to config.env"
    assert after_dev_change["deploy/overlays/dev"] != after_base_change["deploy/overlays/dev"]
    assert after_dev_change["deploy/overlays/prod"] == after_base_change["deploy/overlays/prod"]


def test_the_pipelines_pin_the_tools_gosvc_check_pins() -> None:
    pinned = yaml.safe_load(
        render_macro("{% from 'includes/ci.jinja' import tools %}", "{{ tools | tojson }}", go_version="1.26")
    )

    for name, version in pinned.items():
        if name in tools.TOOLS:
            assert version == tools.TOOLS[name].version, name
    assert {"golangci-lint", "promtool", "hadolint", "kubernetes-validate", "kubectl"} <= set(pinned)
    promtool_tags = render_macro("{% from 'includes/ci.jinja' import promtool_tags %}", "{{ promtool_tags }}")
    assert promtool_tags == ",".join(tools.TOOLS["promtool"].tags)


def test_the_makefile_validates_against_the_kubernetes_versions_gosvc_check_does(render: Render) -> None:
    makefile = (render().dest / "Makefile").read_text()
    [listed] = re.findall(r"^KUBERNETES_VERSIONS := (.*)$", makefile, flags=re.M)

    assert tuple(listed.split()) == kube.KUBERNETES_VERSIONS, "template/Makefile.jinja and generator/project/kube.py"


@pytest.mark.parametrize("ci_system", ["github-actions", "gitlab-ci", "jenkins"])
def test_every_pipeline_checks_what_the_repository_claims(render: Render, ci_system: str) -> None:
    project = render({"ci_system": ci_system}).dest
    pipeline = {
        "github-actions": ".github/workflows/ci.yml",
        "gitlab-ci": ".gitlab-ci.yml",
        "jenkins": "Jenkinsfile",
    }[ci_system]

    text = (project / pipeline).read_text()

    for target in ("make tools", "check-alerts", "check-manifests", "check-dockerfile", "check-merge"):
        assert target in text, f"{pipeline} does not run {target}"
    assert "sbom" in text.lower() and "provenance" in text, "the image carries an SBOM and provenance"
    assert "cosign sign" in text, "the image is signed"
    assert "make pin-release" in text, "releases are proposed for production by digest"


def _make(project: Path, *targets: str) -> subprocess.CompletedProcess[str]:
    """`make TARGETS` in `project`, with the tools gosvc installed in place of `make tools`."""
    toolbox = tools.Toolbox.default()
    overrides = [
        f"PROMTOOL={toolbox.find('promtool')}",
        f"KUBECTL={toolbox.find('kubectl')}",
        f"KUBERNETES_VALIDATE={shutil.which('kubernetes-validate') or toolbox.find('kubernetes-validate')}",
        f"HADOLINT={toolbox.find('hadolint')}",
    ]
    return subprocess.run(
        ["make", "--no-print-directory", *targets, *overrides],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PATH": toolbox.environment()["PATH"]},
    )


def test_the_make_targets_ci_runs_pass_and_fail_as_they_should(render: Render) -> None:
    project = render().dest
    passed = _make(project, "check-alerts", "check-manifests", "check-dockerfile", "check-merge")
    assert passed.returncode == 0, passed.stdout + passed.stderr

    runbooks = project / "docs/runbooks.md"
    runbooks.write_text(runbooks.read_text() + "<<<<<<< before updating\nold\n=======\nnew\n>>>>>>> after updating\n")
    assert _make(project, "check-merge").returncode != 0, "a conflict left inline fails check-merge"
    runbooks.write_text(runbooks.read_text().split("<<<<<<<")[0])
    (project / "go.mod.rej").write_text("@@ -1 +1 @@\n-go 1.25\n+go 1.26\n")
    assert _make(project, "check-merge").returncode != 0, "a .rej file fails check-merge"
    (project / "go.mod.rej").unlink()
    assert _make(project, "check-merge").returncode == 0

    deployment = project / "deploy/base/deployment.yaml"
    deployment.write_text(deployment.read_text().replace("imagePullPolicy: Always", "imagePullPolcy: Always"))
    assert _make(project, "check-manifests").returncode != 0, "an unknown field fails check-manifests"

    alerts = project / "prometheus/alerts.yml"
    alerts.write_text(alerts.read_text().replace("for: 2m", "for: 30m"))
    assert _make(project, "check-alerts").returncode != 0, "a page too slow for its scenario fails check-alerts"

    dockerfile = project / "Dockerfile"
    dockerfile.write_text(re.sub(r"(?m)^FROM (\S+)$", "FROM alpine:latest", dockerfile.read_text()))
    assert _make(project, "check-dockerfile").returncode != 0, "a latest tag fails check-dockerfile"


def test_pin_release_writes_the_digest_production_deploys(render: Render) -> None:
    project = render().dest
    digest = "sha256:" + "ab" * 32

    result = subprocess.run(
        ["make", "pin-release", "TAG=v1.2.3", f"DIGEST={digest}"], cwd=project, capture_output=True, text=True
    )

    assert result.returncode == 0, result.stderr
    [image] = {
        c["image"]
        for obj in kube.render(project, Path("deploy/overlays/prod"), tools.Toolbox.default()).objects
        if obj["kind"] == "Deployment"
        for c in obj["spec"]["template"]["spec"]["containers"]
    }
    assert image.endswith(f":v1.2.3@{digest}")


def test_github_actions_are_pinned_by_commit_with_least_privilege(render: Render) -> None:
    workflow_text = (render().dest / ".github/workflows/ci.yml").read_text()
    workflow = yaml.safe_load(workflow_text)

    uses = re.findall(r"uses: (\S+)(.*)$", workflow_text, flags=re.M)
    assert uses
    for action, comment in uses:
        assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", action), action
        assert re.fullmatch(r" # v\d+\.\d+\.\d+", comment), f"{action} lacks its version as a comment"
    assert workflow["permissions"] == {}
    writes = {
        name: sorted(scope for scope, level in job["permissions"].items() if level == "write")
        for name, job in workflow["jobs"].items()
    }
    assert writes == {
        "lint": [],
        "test": [],
        "manifests": [],
        "image": ["id-token", "packages"],
        "pin-release": ["contents", "pull-requests"],
    }
    assert "${{" not in str(workflow["concurrency"]["cancel-in-progress"]), "checkov would not scan the workflow"


def test_the_dockerfile_caches_modules_in_a_layer_and_checks_health(render: Render) -> None:
    dockerfile = (render().dest / "Dockerfile").read_text()

    download = dockerfile.index("RUN go mod download")
    assert dockerfile.index("COPY go.mod go.sum ./") < download < dockerfile.index("COPY . .")
    assert "--mount=type=cache,target=/go/pkg/mod" not in dockerfile, "the modules must stay in the layer"
    assert re.search(r'^HEALTHCHECK .*\n\s+CMD \["/usr/local/bin/orders-api", "healthcheck"\]$', dockerfile, re.M)
    for label in ("title", "description", "version", "revision", "source"):
        assert f"org.opencontainers.image.{label}=" in dockerfile


@pytest.mark.parametrize(("registry", "static"), [("registry.gitlab.com/acme", False), ("ghcr.io/acme", True)])
def test_gitlab_uses_the_job_token_for_its_own_registry(render: Render, registry: str, static: bool) -> None:
    pipeline = (render({"ci_system": "gitlab-ci", "image_registry": registry}).dest / ".gitlab-ci.yml").read_text()

    assert ("$CI_REGISTRY_PASSWORD" in pipeline) is not static
    assert ("$REGISTRY_PASSWORD" in pipeline) is static
    assert "SIGSTORE_ID_TOKEN" in pipeline


def test_jenkins_keeps_registry_credentials_off_the_agent(render: Render) -> None:
    pipeline = (render({"ci_system": "jenkins"}).dest / "Jenkinsfile").read_text()

    assert "withCredentials([usernamePassword(" in pipeline
    assert 'DOCKER_CONFIG = "${WORKSPACE}/.docker-${BUILD_TAG}"' in pipeline
    post = pipeline[pipeline.index("post {") :]
    assert "docker logout" in post and 'rm -rf "$DOCKER_CONFIG"' in post


def test_renovate_pins_digests_and_tidies_go_modules(render: Render) -> None:
    config = yaml.safe_load((render().dest / "renovate.json").read_text())

    assert {"docker:pinDigests", "helpers:pinGitHubActionDigestsToSemver"} <= set(config["extends"])
    assert config["postUpdateOptions"] == ["gomodTidy"]


def test_the_readme_explains_each_alert_and_the_objectives_answered(render: Render) -> None:
    project = render({"slo_availability": 99.5, "slo_latency_ms": 250}).dest
    readme = (project / "README.md").read_text()
    section = readme[readme.index("## Service level objectives") :].split("\n## ", 1)[0]
    alerts = re.findall(r"^\s+- alert: (\w+)$", (project / "prometheus" / "alerts.yml").read_text(), flags=re.M)

    assert alerts, "the alert rules name no alert"
    for alert in set(alerts):
        assert alert in section.replace("`", ""), f"the README's SLO section does not explain {alert}"
    assert "99.5" in section and "250" in section, "the objectives answered are not in the README"
    assert "page" in section and "ticket" in section
