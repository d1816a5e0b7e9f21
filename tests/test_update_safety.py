"""Updates never lose a team's work, and new repositories always come from a version an update can find.

Scenarios: a template that deletes a file the team edited (a modify/delete
conflict, the file kept); a team-owned file the team deleted (stays deleted) or
the template stops rendering (stays); two updates at once (the second refused);
answers changed with `update --data` (overlays keep building, or the change is
refused with the reason); template sources that are dirty or not git; another
service's answers file used as a data file.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from generator.runtime.git import git_dir
from generator.update import journal, staged
from tests.conftest import HANG_GUARD_SECONDS, git, snapshot_template
from tests.template_versions import (
    REMOVED_BY_TEMPLATE,
    SERVICE,
    build_template_versions,
    commit_all,
    copy_project,
    fingerprint,
    generate,
    make_team_project,
)

GOSVC = str(Path(sys.executable).parent / "gosvc")
TEAM_TEST = "internal/api/hello_test.go"  # team-owned: created once


def gosvc(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([GOSVC, *args], cwd=cwd, capture_output=True, text=True, check=False)


def report(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert "Traceback" not in result.stderr, result.stderr
    return json.loads(result.stdout) if result.stdout.strip() else {}


def kustomize(project: Path, folder: str) -> list[dict[str, Any]]:
    rendered = subprocess.run(
        ["kubectl", "kustomize", folder], cwd=project, capture_output=True, text=True, check=True
    ).stdout
    return [doc for doc in yaml.safe_load_all(rendered) if doc]


@pytest.fixture(scope="module")
def versions(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_template_versions(tmp_path_factory.mktemp("template") / "gosvc")


@pytest.fixture(scope="module")
def team_project(versions: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_team_project(versions, tmp_path_factory.mktemp("team") / SERVICE)


@pytest.fixture
def project(team_project: Path, tmp_path: Path) -> Path:
    return copy_project(team_project, tmp_path / SERVICE)


def test_a_file_the_template_deletes_and_the_team_edited_is_kept_as_a_modify_delete_conflict(project: Path) -> None:
    edited = project / REMOVED_BY_TEMPLATE
    edited.write_text(edited.read_text() + "  # the team's own rule\n  key-duplicates: enable\n")
    commit_all(project, "team rule")

    result = gosvc("update", str(project), "--vcs-ref", "v2.0.0", "--json")

    assert result.returncode == 3, result.stderr
    conflicts = report(result)["conflicts"]
    assert {"path": REMOVED_BY_TEMPLATE, "rej": None, "deleted_by_template": True} in conflicts
    assert "key-duplicates: enable" in edited.read_text(), "the team's edit is kept"
    assert f"UD {REMOVED_BY_TEMPLATE}" in git(project, "status", "--porcelain"), "git shows it deleted by them"
    human = gosvc("update", str(copy_project(project, project.parent / "again")), "--vcs-ref", "v2.0.0")
    assert "Traceback" not in human.stderr


def test_human_output_names_the_modify_delete_conflict(project: Path) -> None:
    edited = project / REMOVED_BY_TEMPLATE
    edited.write_text(edited.read_text() + "# kept by the team\n")
    commit_all(project, "team note")

    result = gosvc("update", str(project), "--vcs-ref", "v2.0.0")

    assert result.returncode == 3
    assert f"  {REMOVED_BY_TEMPLATE}  (deleted by the template, kept with your edits)" in result.stdout


def test_a_team_owned_file_the_team_deleted_stays_deleted(project: Path) -> None:
    (project / TEAM_TEST).unlink()
    commit_all(project, "we test elsewhere")

    result = gosvc("update", str(project), "--vcs-ref", "v2.0.0", "--json")

    assert result.returncode == 0, result.stderr
    assert not (project / TEAM_TEST).exists()
    assert TEAM_TEST not in report(result)["changed"]


@pytest.fixture(scope="module")
def dropping_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """v1.0.0 is this template; v2.0.0 no longer renders the team-owned hello_test.go nor the Makefile."""
    repo = snapshot_template(tmp_path_factory.mktemp("dropping") / "gosvc", "v1.0.0")
    # The template file of hello_test.go carries the condition under which it is rendered in its name.
    (team_test,) = (repo / "template" / "internal" / "api").glob("*hello_test.go*.jinja")
    git(repo, "rm", "-q", str(team_test.relative_to(repo)), "template/Makefile.jinja")
    git(repo, "commit", "-q", "-m", "drop two files")
    git(repo, "tag", "v2.0.0")
    return repo


def test_a_team_owned_file_the_template_stops_rendering_is_kept(dropping_template: Path, tmp_path: Path) -> None:
    project = generate(dropping_template, tmp_path / SERVICE, "v1.0.0")
    before = (project / TEAM_TEST).read_bytes()

    result = gosvc("update", str(project), "--vcs-ref", "v2.0.0", "--json")

    assert result.returncode == 0, result.stderr
    assert (project / TEAM_TEST).read_bytes() == before, "created once, the team's, never deleted"
    assert not (project / "Makefile").exists(), "an unedited template-owned file the template dropped goes"


@pytest.fixture(scope="module")
def slow_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """v2.0.0 carries a migration that takes five seconds: long enough to try a second update meanwhile."""
    repo = snapshot_template(tmp_path_factory.mktemp("slow") / "gosvc", "v1.0.0")
    config = yaml.safe_load((repo / "copier.yml").read_text())
    config["_migrations"] = [{"version": "v2.0.0", "command": ["sleep", "5"]}]
    (repo / "copier.yml").write_text(yaml.safe_dump(config, sort_keys=False, width=1000))
    commit_all(repo, "a slow migration")
    git(repo, "tag", "v2.0.0")
    return repo


def test_a_second_update_while_one_runs_is_refused(slow_template: Path, tmp_path: Path) -> None:
    project = generate(slow_template, tmp_path / SERVICE, "v1.0.0")
    first = subprocess.Popen(
        [GOSVC, "update", str(project), "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + HANG_GUARD_SECONDS
    while not (git_dir(project) / staged.SCRATCH_FOLDER).exists():  # the update is in its slow migration
        assert first.poll() is None and time.monotonic() < deadline, "the first update never started"
        time.sleep(0.05)

    second = gosvc("update", str(project), "--json")

    assert second.returncode == 2
    assert f"another gosvc update of {project} is running (pid {first.pid})" in second.stderr
    out, err = first.communicate(timeout=HANG_GUARD_SECONDS)
    assert first.returncode == 0, err
    assert json.loads(out)["to"] == "v2.0.0"
    assert not journal.is_locked(project) and journal.read(project) is None, "the lock is free, the journal gone"


@pytest.fixture
def fresh(template_repo: Path, tmp_path: Path) -> Path:
    return generate(template_repo, tmp_path / SERVICE, "v1.0.0")


def test_turning_autoscaling_off_keeps_every_overlay_building(fresh: Path) -> None:
    result = gosvc("update", str(fresh), "--data", "hpa_enabled=false", "--json")

    assert result.returncode == 0, result.stderr
    for overlay in ("deploy/overlays/dev", "deploy/overlays/prod"):
        kinds = {obj["kind"]: obj for obj in kustomize(fresh, overlay)}
        assert "HorizontalPodAutoscaler" not in kinds
        assert kinds["Deployment"]["spec"]["replicas"] == 2


def test_turning_autoscaling_on_over_an_overlay_replica_count_is_refused_with_the_reason(
    template_repo: Path, tmp_path: Path
) -> None:
    project = generate(template_repo, tmp_path / SERVICE, "v1.0.0", data={"hpa_enabled": False})
    before = fingerprint(project)

    result = gosvc("update", str(project), "--data", "hpa_enabled=true")

    assert result.returncode == 2
    assert "Deployment sets replicas although a HorizontalPodAutoscaler owns its scale" in result.stderr
    assert "overlays are yours" in result.stderr
    assert fingerprint(project) == before


def test_an_overlay_that_stops_building_refuses_the_answer_change(fresh: Path) -> None:
    # An overlay as older templates wrote it: a partial HorizontalPodAutoscaler patched in by name.
    overlay = fresh / "deploy/overlays/prod"
    (overlay / "replicas.yaml").write_text(
        f"apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata:\n  name: {SERVICE}\n"
        "spec:\n  minReplicas: 3\n"
    )
    kustomization = overlay / "kustomization.yaml"
    kustomization.write_text(kustomization.read_text().replace("patches:\n", "patches:\n  - path: replicas.yaml\n"))
    commit_all(fresh, "overlay from an older template")
    before = fingerprint(fresh)

    result = gosvc("update", str(fresh), "--data", "hpa_enabled=false")

    assert result.returncode == 2
    assert "deploy/overlays/prod does not build" in result.stderr
    assert fingerprint(fresh) == before


def test_renaming_the_service_is_refused_while_files_the_team_owns_use_the_name(fresh: Path) -> None:
    before = fingerprint(fresh)

    result = gosvc("update", str(fresh), "--data", "service_name=billing-api")

    assert result.returncode == 2
    assert "files you own still hold 'orders-api'" in result.stderr
    assert "deploy/overlays/dev/kustomization.yaml" in result.stderr
    assert fingerprint(fresh) == before


def test_a_changed_answer_nothing_of_the_team_uses_is_rendered(fresh: Path) -> None:
    result = gosvc("update", str(fresh), "--data", "organization=acme", "--json")

    assert result.returncode == 0, result.stderr
    assert "app.kubernetes.io/part-of: acme" in (fresh / "deploy/base/deployment.yaml").read_text()


def test_a_template_folder_that_is_not_git_is_refused(template_repo: Path, tmp_path: Path) -> None:
    loose = shutil.copytree(template_repo, tmp_path / "loose", ignore=shutil.ignore_patterns(".git"))

    result = gosvc("new", str(tmp_path / "svc"), "--defaults", "--template", str(loose))

    assert result.returncode == 2
    assert "is not a git repository" in result.stderr and "git init" in result.stderr
    assert not (tmp_path / "svc").exists()


@pytest.fixture
def dirty_template(template_repo: Path, tmp_path: Path) -> Path:
    clone = tmp_path / "gosvc"
    subprocess.run(["git", "clone", "-q", str(template_repo), str(clone)], check=True)
    readme = clone / "template" / "README.md.jinja"
    readme.write_text(readme.read_text() + "\nUNCOMMITTED LINE\n")
    return clone


def test_a_dirty_template_renders_its_newest_version_without_the_changes(dirty_template: Path, tmp_path: Path) -> None:
    result = gosvc("new", str(tmp_path / "svc"), "--defaults", "--template", str(dirty_template), "--json")

    assert result.returncode == 0, result.stderr
    assert report(result)["commit"] == "v1.0.0"
    assert "UNCOMMITTED" not in (tmp_path / "svc" / "README.md").read_text()


@pytest.mark.parametrize("tagged", [True, False], ids=["vcs-ref-HEAD", "no-version-tag"])
def test_a_dirty_template_is_refused_where_its_changes_would_be_rendered(
    dirty_template: Path, tmp_path: Path, tagged: bool
) -> None:
    extra = ["--vcs-ref", "HEAD"] if tagged else []
    if not tagged:
        git(dirty_template, "tag", "-d", "v1.0.0")

    result = gosvc("new", str(tmp_path / "svc"), "--defaults", "--template", str(dirty_template), *extra)

    assert result.returncode == 2
    assert "uncommitted changes (template/README.md.jinja)" in result.stderr
    assert "--vcs-ref" in result.stderr
    assert not (tmp_path / "svc").exists()


def test_another_services_answers_file_gives_no_identity(fresh: Path, template_repo: Path, tmp_path: Path) -> None:
    answers = fresh / ".copier-answers.yml"
    dest = tmp_path / "billing-api"

    result = gosvc("new", str(dest), "--defaults", "--template", str(template_repo), "--data-file", str(answers))

    assert result.returncode == 0, result.stderr
    assert "not taking service_name and module_path" in result.stderr
    made = yaml.safe_load((dest / ".copier-answers.yml").read_text())
    assert (made["service_name"], made["module_path"]) == ("billing-api", "github.com/example/billing-api")

    again = tmp_path / "again"
    result = gosvc(
        "new", str(again), "--defaults", "--template", str(template_repo),
        "--data-file", str(answers), "--identity-from-data-file",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert yaml.safe_load((again / ".copier-answers.yml").read_text())["service_name"] == SERVICE
