"""`gosvc update --verify`: the checks an update's changes concern run on the merged repository, and a check the
update broke is reported with exit status 6, the repository left as updated.

What this proves that no cheaper test does: the verification itself, on a template release that breaks a check
(yamllint, on trailing spaces in catalog-info.yaml) and on one that breaks none, alone and across a fleet. The
template and its releases are this working tree with one line changed each: no other update test builds them.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from generator.update.fleet import fleet_exit_status, fleet_update
from generator.update.verify import EXIT_CHECKS_BROKEN
from tests.conftest import git, snapshot_template
from tests.template_versions import commit_all, generate, template_file

CATALOG = "catalog-info.yaml"


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """v1.0.0 as this working tree; v2.0.0 adds a comment line to the catalog entry; v3.0.0 adds trailing spaces
    to it, which yamllint refuses."""
    repo = snapshot_template(tmp_path_factory.mktemp("template") / "gosvc", "v1.0.0")
    catalog = template_file(repo, CATALOG)
    catalog.write_text(catalog.read_text().replace("kind: Component\n", "kind: Component\n# The service.\n", 1))
    _release(repo, "v2.0.0")
    catalog.write_text(catalog.read_text().replace("# The service.\n", "# The service.   \n", 1))
    _release(repo, "v3.0.0")
    return repo


def _release(repo: Path, tag: str) -> None:
    commit_all(repo, f"template release {tag}")
    git(repo, "tag", tag)
    git(repo, "fetch", "-q", "origin")  # the release is on the remote the generated repositories record


def update(project: Path, version: str) -> tuple[int, dict[str, object]]:
    ran = subprocess.run(
        [sys.executable, "-m", "generator", "update", str(project), "--vcs-ref", version, "--verify", "--json"],
        capture_output=True,
        text=True,
        check=False,
    )
    return ran.returncode, json.loads(ran.stdout) if ran.stdout.strip() else {"stderr": ran.stderr}


def test_a_verified_update_reports_the_check_it_broke_and_keeps_the_update(template: Path, tmp_path: Path) -> None:
    project = generate(template, tmp_path / "orders-api", "v1.0.0")

    status, report = update(project, "v2.0.0")

    assert status == 0, report
    verification = report["verification"]
    assert isinstance(verification, dict) and verification["broken"] == [], verification
    assert {"yamllint", "backstage"} <= set(verification["ran"]), "the checks that read the changed files ran"
    assert "go-build" not in verification["ran"], "and not those that read nothing the update changed"
    commit_all(project, "update to v2.0.0")

    status, report = update(project, "v3.0.0")

    assert (status, report["status"]) == (EXIT_CHECKS_BROKEN, "checks broken"), report
    verification = report["verification"]
    assert isinstance(verification, dict)
    assert [entry["check"] for entry in verification["broken"]] == ["yamllint"]
    assert "trailing spaces" in verification["broken"][0]["output"]
    assert "# The service.   \n" in (project / CATALOG).read_text(), "the update stays, for the team to fix"


def test_a_verified_fleet_update_names_the_check_each_repository_broke(template: Path, tmp_path: Path) -> None:
    fleet = tmp_path / "fleet"
    broken = generate(template, fleet / "broken" / "orders-api", "v2.0.0")
    fine = generate(template, fleet / "fine" / "orders-api", "v1.0.0")

    results = fleet_update(fleet, template=str(template), vcs_ref="v2.0.0", verify=True)
    assert [(result.path, result.outcome) for result in results] == [(broken, "up to date"), (fine, "updated")]
    commit_all(fine, "update to v2.0.0")
    results = fleet_update(fleet, template=str(template), vcs_ref="v3.0.0", verify=True)

    assert [(result.outcome, result.broken) for result in results] == [("checks broken", ("yamllint",))] * 2
    assert fleet_exit_status(results) == EXIT_CHECKS_BROKEN
