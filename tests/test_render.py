"""What `gosvc new` renders, and that plain `copier copy` renders the same."""

from __future__ import annotations

import filecmp
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from generator.matrix.variants import Variant, each_value
from tests.conftest import Render

YAML_SUFFIXES = (".yml", ".yaml")


def _tree(root: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file() and ".git" not in path.parts
    }


def test_gosvc_new_and_plain_copier_copy_render_the_same_repository(template_repo: Path, tmp_path: Path) -> None:
    by_gosvc = tmp_path / "gosvc" / "orders-api"
    by_copier = tmp_path / "copier" / "orders-api"
    gosvc = Path(sys.executable).parent / "gosvc"
    subprocess.run(
        [str(gosvc), "new", str(by_gosvc), "--defaults", "--template", str(template_repo), "--vcs-ref", "v1.0.0"],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        ["copier", "copy", "--trust", "--defaults", "--vcs-ref", "v1.0.0", str(template_repo), str(by_copier)],
        check=True,
        capture_output=True,
    )

    assert _tree(by_gosvc) == _tree(by_copier)
    assert not filecmp.dircmp(by_gosvc, by_copier).diff_files


def test_answers_file_records_the_template_source_and_version(render: Render, template_repo: Path) -> None:
    project = render()

    answers = yaml.safe_load((project.dest / ".copier-answers.yml").read_text())
    assert answers["_src_path"] == str(template_repo)
    assert answers["_commit"] == "v1.0.0"
    assert answers["service_name"] == "orders-api"


@pytest.mark.parametrize("variant", each_value(), ids=lambda v: v.name)
def test_every_yaml_file_parses(variant: Variant, render: Render) -> None:
    project = render(variant.data)

    helm_templates = project.dest / "deploy" / "chart" / "templates"  # YAML once rendered: see test_helm
    yaml_files = [
        path
        for path in project.dest.rglob("*")
        if path.suffix in YAML_SUFFIXES and not path.is_relative_to(helm_templates)
    ]
    assert len(yaml_files) >= 10
    for path in yaml_files:
        documents = list(yaml.safe_load_all(path.read_text()))
        assert documents, f"{path} is empty"


def test_rendered_files_carry_no_template_leftovers(render: Render) -> None:
    project = render()
    answers = [key for key in yaml.safe_load((project.dest / ".copier-answers.yml").read_text()) if key[0] != "_"]

    for name, content in _tree(project.dest).items():
        text = content.decode()
        # {{ }} alone is also GitHub Actions' and Prometheus' syntax: look for the answers' names in it.
        leftover = re.search(rf"\{{\{{-?\s*({'|'.join(answers)})\b|\{{%|\{{#|\.jinja", text)
        assert leftover is None, f"template syntax {leftover.group(0)!r} left in {name}"


@pytest.mark.parametrize(
    ("ci_system", "present", "absent"),
    [
        ("github-actions", ".github/workflows/ci.yml", ["Jenkinsfile", ".gitlab-ci.yml"]),
        ("gitlab-ci", ".gitlab-ci.yml", ["Jenkinsfile", ".github"]),
        ("jenkins", "Jenkinsfile", [".gitlab-ci.yml", ".github"]),
    ],
)
def test_only_the_chosen_ci_pipeline_is_rendered(
    render: Render, ci_system: str, present: str, absent: list[str]
) -> None:
    project = render({"ci_system": ci_system})

    assert (project.dest / present).is_file()
    for name in absent:
        assert not (project.dest / name).exists()


def test_no_ci_pipeline_for_none(render: Render) -> None:
    project = render({"ci_system": "none"})

    for name in ("Jenkinsfile", ".gitlab-ci.yml", ".github"):
        assert not (project.dest / name).exists()


def test_autoscaling_off_renders_replicas_and_no_hpa(render: Render) -> None:
    project = render({"hpa_enabled": False, "replicas": 3})

    deployment = yaml.safe_load((project.dest / "deploy/base/deployment.yaml").read_text())
    assert deployment["spec"]["replicas"] == 3
    assert not (project.dest / "deploy/base/hpa.yaml").exists()


def test_autoscaling_on_leaves_replicas_to_the_hpa(render: Render) -> None:
    project = render({"hpa_min_replicas": 3, "hpa_max_replicas": 7, "replicas": 3, "hpa_cpu_utilization": 60})

    deployment = yaml.safe_load((project.dest / "deploy/base/deployment.yaml").read_text())
    hpa = yaml.safe_load((project.dest / "deploy/base/hpa.yaml").read_text())
    assert "replicas" not in deployment["spec"]
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (3, 7)
    assert hpa["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"] == 60


def test_base_images_are_pinned_by_digest_with_their_tag(render: Render) -> None:
    for base_image in ("distroless", "alpine", "scratch", "chainguard"):
        project = render({"base_image": base_image}, name=f"svc-{base_image}")
        froms = [
            line.split()[1]
            for line in (project.dest / "Dockerfile").read_text().splitlines()
            if line.startswith("FROM ")
        ]
        assert len(froms) == 2
        for image in froms:
            assert image == "scratch" or re.fullmatch(r"[\w./-]+:[\w.-]+@sha256:[0-9a-f]{64}", image), image


@pytest.mark.parametrize(("api", "protocols"), [("http", "HTTP"), ("grpc", "gRPC"), ("both", "HTTP and gRPC")])
def test_a_repository_says_what_it_serves(api: str, protocols: str, render: Render) -> None:
    """The README, the catalog entry, the image's label and the command's doc comment name what the service
    serves: a gRPC-only repository once called itself a Go HTTP service in all four."""
    project = render({"api": api})
    said = {
        "README.md": (project.dest / "README.md").read_text(),
        "catalog-info.yaml": (project.dest / "catalog-info.yaml").read_text(),
        "Dockerfile": (project.dest / "Dockerfile").read_text(),
        "main.go": (project.dest / "cmd" / "orders-api" / "main.go").read_text(),
    }

    for name, text in said.items():
        assert f" {protocols} service" in text, name
        if api != "both":
            assert "HTTP and gRPC service" not in text, name
        if api == "grpc":
            assert "HTTP service" not in text, name


def test_every_alert_links_to_its_runbook_and_reads_as_a_person_writes(render: Render) -> None:
    """Each alert's runbook_url is its section of docs/runbooks.md (where the repository is browsable), or of the
    runbook_url answered; numbers read as a person writes them. Alerts once linked runbooks.example.com whatever
    the answers, and read "1 times too fast" and "gone in 2.08333 days"."""
    project = render({"api": "both"})
    wiki = render({"runbook_url": "https://wiki.example.com/runbooks/orders"}, name="orders")
    runbooks = (project.dest / "docs" / "runbooks.md").read_text()
    anchors = {heading[3:].strip().lower() for heading in runbooks.splitlines() if heading.startswith("## ")}

    for repo, base in (
        (project.dest, "https://github.com/example/orders-api/blob/HEAD/docs/runbooks.md"),
        (wiki.dest, "https://wiki.example.com/runbooks/orders"),
    ):
        rules = [
            rule
            for group in yaml.safe_load((repo / "prometheus" / "alerts.yml").read_text())["groups"]
            for rule in group["rules"]
            if "alert" in rule
        ]
        assert {rule["alert"].removeprefix("OrdersApi").removeprefix("Orders") for rule in rules} == {
            "Down",
            "NoTraffic",
            "ErrorBudgetBurn",
            "LatencyBudgetBurn",
        }
        for rule in rules:
            url, _, anchor = rule["annotations"]["runbook_url"].partition("#")
            assert url == base and anchor == rule["alert"].lower(), rule["annotations"]["runbook_url"]
            if repo == project.dest:
                assert anchor in anchors, f"no section of docs/runbooks.md for {rule['alert']}"
            text = rule["annotations"]["summary"] + " " + rule["annotations"]["description"]
            assert not re.search(r"\b1 times\b|\d\.\d{3,}", text), text
