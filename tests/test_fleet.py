"""`gosvc fleet`: twenty-five repositories in mixed states, each with the right outcome, two at a time.

Five of them are hostile: an answers file that is not UTF-8, one built to
explode, a repository an update was killed in, one an update is running in,
and one outside git. Each gets its own row; none stops the others.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from generator.cli.main import main
from generator.tools import Toolbox
from generator.update import journal, staged
from generator.update.fleet import find_repos, same_template
from tests.conftest import git
from tests.template_versions import (
    CONFIGMAP,
    HANDLER,
    SERVICE,
    build_template_versions,
    commit_all,
    copy_project,
    fingerprint,
    generate,
    make_team_project,
)

# Repository name prefix -> how many, and the line `gosvc fleet update` must end with for each.
FLEET = {
    "outdated": (5, "updated"),
    "current": (6, "up to date"),
    "dirty": (3, "refused (dirty)"),
    "conflicting": (3, "conflicts"),
    "foreign": (2, "skipped"),
    "broken": (1, "failed"),
    "unreadable": (1, "skipped"),
    "exploding": (1, "skipped"),
    "interrupted": (1, "updated"),
    "locked": (1, "skipped"),
    "nogit": (1, "skipped"),
}
NEEDS_ATTENTION = ("unreadable", "exploding", "interrupted", "locked", "nogit")


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_template_versions(tmp_path_factory.mktemp("template") / "gosvc")


@pytest.fixture(scope="module")
def fleet(template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Twenty-five repositories under one root, some in nested folders, in the states FLEET names."""
    seeds = tmp_path_factory.mktemp("seeds")
    outdated = generate(template, seeds / "outdated", "v1.0.0")
    current = generate(template, seeds / "current", "v3.0.0")
    edited = make_team_project(template, seeds / "edited")  # its LOG_LEVEL edit collides with v3
    root = tmp_path_factory.mktemp("fleet")
    for prefix, (count, _) in FLEET.items():
        for number in range(1, count + 1):
            dest = root / ("team-a" if number % 2 else "team-b") / f"{prefix}-{number}"
            if prefix == "foreign":
                _foreign_repo(dest)
                continue
            copy_project({"current": current, "conflicting": edited}.get(prefix, outdated), dest)
            if prefix == "dirty":
                (dest / HANDLER).write_text((dest / HANDLER).read_text() + "\n// work in progress\n")
            if prefix == "broken":  # made from a version the template no longer has
                answers = dest / ".copier-answers.yml"
                answers.write_text(answers.read_text().replace("_commit: v1.0.0", "_commit: v0.9.0"))
                commit_all(dest, "answers from an unpublished version")
            _make_hostile(prefix, dest)
    return root


def _make_hostile(prefix: str, dest: Path) -> None:
    answers = dest / ".copier-answers.yml"
    if prefix == "unreadable":
        answers.write_bytes(answers.read_bytes().replace(b"orders-api", b"orders-\xe9pi"))
        commit_all(dest, "answers saved in Latin-1")
    elif prefix == "exploding":
        answers.write_text("a: &a [x, x, x]\nb: &b [*a, *a, *a]\nc: [*b, *b, *b]\n" + answers.read_text())
        commit_all(dest, "answers with aliases")
    elif prefix == "interrupted":  # killed half-way: a journal, a changed file, a new one
        before = git(dest, "rev-parse", f"HEAD:{CONFIGMAP}").strip()
        (dest / CONFIGMAP).write_text((dest / CONFIGMAP).read_text() + "  HALF: written\n")
        (dest / "compose.yaml").write_text("services: {}\n")
        writes = [
            staged.Write(path, before, git(dest, "hash-object", "-w", path).strip(), "100644", ())
            for path, before in ((CONFIGMAP, before), ("compose.yaml", None))
        ]
        journal.write(dest, journal.Journal.begin(git(dest, "rev-parse", "HEAD").strip(), "v3.0.0", writes))
    elif prefix == "nogit":
        shutil.rmtree(dest / ".git")


@pytest.fixture
def running_update(fleet: Path) -> Iterator[Path]:
    """The lock of the repository named locked-1, held as a running update holds it."""
    locked = next(fleet.glob("*/locked-1"))
    with journal.locked(locked):
        yield locked


def _foreign_repo(dest: Path) -> None:
    dest.mkdir(parents=True)
    answers = {"_commit": "v1.0.0", "_src_path": "gh:acme/python-template", "project_name": dest.name}
    (dest / ".copier-answers.yml").write_text(yaml.safe_dump(answers))
    git(dest, "init", "-q", "-b", "main")
    commit_all(dest, "generated from another template")


def run_fleet(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, Any, str]:
    status = main(["fleet", *args, "--json"])
    captured = capsys.readouterr()
    return status, json.loads(captured.out), captured.err


def expected_outcome(path: str) -> str:
    return FLEET[Path(path).name.rsplit("-", 1)[0]][1]


@pytest.mark.usefixtures("running_update")
def test_fleet_status_then_update_gives_each_repository_its_line(
    fleet: Path, template: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    untouched = {
        path: fingerprint(path)
        for path in fleet.glob("*/*")
        if path.name.startswith(("dirty", "broken", "unreadable", "exploding", "locked"))
    }

    status, report, _ = run_fleet(capsys, "status", str(fleet), "--template", str(template))

    assert status == 1, "some repositories need attention"
    assert report["newest"] == "v3.0.0"
    repos = {Path(repo["path"]).name: repo for repo in report["repos"]}
    assert len(repos) == 25
    assert {name for name, repo in repos.items() if repo["attention"]} == {f"{p}-1" for p in NEEDS_ATTENTION}
    assert repos["outdated-1"] | {"path": None} == {
        "path": None,
        "service_name": SERVICE,
        "version": "v1.0.0",
        "newest": "v3.0.0",
        "clean": True,
        "state": "outdated",
        "skipped": None,
        "attention": False,
    }
    assert repos["interrupted-1"]["state"] == "interrupted update"
    assert "UTF-8" in repos["unreadable-1"]["skipped"] and "alias" in repos["exploding-1"]["skipped"]
    assert "running" in repos["locked-1"]["skipped"] and "git" in repos["nogit-1"]["skipped"]
    assert (repos["current-2"]["state"], repos["dirty-1"]["clean"]) == ("up to date", False)
    assert repos["foreign-1"]["state"] == "skipped"
    assert "gh:acme/python-template" in repos["foreign-1"]["skipped"]

    status, results, progress = run_fleet(capsys, "update", str(fleet), "--jobs", "2", "--template", str(template))

    outcomes = {Path(result["path"]).name: result["outcome"] for result in results}
    assert outcomes == {name: expected_outcome(name) for name in outcomes}
    assert len(outcomes) == 25
    assert status == 1, "a repository failed and some were refused"
    assert progress.count("[") >= 25 and "[25/25]" in progress, "progress on stderr"
    by_name = {Path(result["path"]).name: result for result in results}
    assert by_name["conflicting-1"]["conflicts"] == [CONFIGMAP]
    assert (by_name["outdated-3"]["from"], by_name["outdated-3"]["to"]) == ("v1.0.0", "v3.0.0")
    assert "v0.9.0" in by_name["broken-1"]["reason"]
    assert "interrupted" in by_name["interrupted-1"]["recovered"]
    assert by_name["interrupted-1"]["to"] == "v3.0.0"
    interrupted = next(fleet.glob("*/interrupted-1"))
    assert "HALF" not in (interrupted / CONFIGMAP).read_text() and journal.read(interrupted) is None
    for path, before in untouched.items():
        assert fingerprint(path) == before, f"{path.name} was changed"
    conflicting = next(fleet.glob("*/conflicting-2"))
    assert f"UU {CONFIGMAP}" in git(conflicting, "status", "--porcelain")

    assert main(["fleet", "status", str(fleet), "--template", str(template)]) == 1
    table = capsys.readouterr().out
    assert "outdated-4" in table and "v3.0.0" in table


def test_find_repos_finds_services_at_any_depth_and_skips_dependency_folders(tmp_path: Path) -> None:
    for folder in ("a", "b/c", "b/c/services/nested", "mono/x/y/z", "node_modules/x", "d/.git/e"):
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / ".copier-answers.yml").write_text("_commit: v1.0.0\n")

    found = find_repos(tmp_path)

    assert found == [tmp_path / name for name in ("a", "b/c", "b/c/services/nested", "mono/x/y/z")]


@pytest.mark.parametrize(
    ("recorded", "source", "same"),
    [
        ("gh:example/gosvc", "https://github.com/example/gosvc.git", True),
        ("git@github.com:example/gosvc.git", "https://GitHub.com/example/gosvc/", True),
        ("https://github.com/example/gosvc", "https://github.com/example/other", False),
        ("../templates/gosvc", "/srv/templates/gosvc", True),
        ("/srv/templates/gosvc", "/srv/templates/gosvc-fork", False),
    ],
)
def test_same_template_compares_locations_not_spellings(recorded: str, source: str, same: bool) -> None:
    assert same_template(recorded, source, Path("/srv/services")) is same


def test_fleet_rejects_bad_input(tmp_path: Path, template: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fleet", "status", str(tmp_path / "missing"), "--template", str(template)]) == 2
    assert main(["fleet", "update", str(tmp_path), "--jobs", "0", "--template", str(template)]) == 2
    assert main(["fleet", "update", str(tmp_path), "--vcs-ref", "v7.0.0", "--template", str(template)]) == 2
    assert "Traceback" not in capsys.readouterr().err


def test_a_fleet_plan_writes_nothing_and_lists_each_repositorys_changes(
    template: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "fleet"
    outdated = generate(template, root / "outdated", "v1.0.0")
    conflicting = make_team_project(template, root / "conflicting")  # its LOG_LEVEL edit collides with v3
    before = {repo: fingerprint(repo) for repo in (outdated, conflicting)}

    status, report, _ = run_fleet(capsys, "update", str(root), "--template", str(template), "--plan")

    assert status == 3, "the plan's exit status is the update's: one would leave conflicts"
    assert {repo: fingerprint(repo) for repo in before} == before, "nothing was written"
    lines = {Path(line["path"]).name: line for line in report}
    assert all(line["planned"] for line in lines.values())
    assert lines["conflicting"]["outcome"] == "conflicts"
    assert "updated deploy/base/config.env" in lines["outdated"]["changes"]
    assert any(
        change.startswith("deploy/overlays/prod ConfigMap/") and change.endswith(": data.GOGC (absent) -> 200")
        for change in lines["outdated"]["changes"]
    ), lines["outdated"]["changes"]


def test_a_repository_another_user_owns_is_reported_as_such(
    template: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if os.geteuid() != 0:
        pytest.skip("giving a repository to another user needs root (CI runs as root)")
    repo = generate(template, tmp_path / "fleet" / "theirs", "v1.0.0")
    for path in [repo, *repo.rglob("*")]:
        os.lchown(path, 65534, 65534)

    status, report, _ = run_fleet(capsys, "status", str(tmp_path / "fleet"), "--template", str(template))

    (line,) = report["repos"]
    assert status == 1 and line["attention"], line
    assert "belongs to another user" in line["skipped"] and "safe.directory" in line["skipped"]


def test_fleet_status_writes_its_state_as_metrics_promtool_accepts(template: Path, tmp_path: Path) -> None:
    root = tmp_path / "fleet"
    generate(template, root / "behind", "v1.0.0")
    generate(template, root / "current", "v3.0.0")
    metrics = tmp_path / "fleet.prom"

    assert main(["fleet", "status", str(root), "--template", str(template), "--metrics", str(metrics)]) == 5

    text = metrics.read_text()
    linted = subprocess.run(
        [str(Toolbox.default().find("promtool")), "check", "metrics"], input=text, capture_output=True, text=True
    )
    assert linted.returncode == 0, linted.stdout + linted.stderr
    behind = {
        Path(line.split('path="', 1)[1].split('"', 1)[0]).name: line.rsplit(" ", 1)[1]
        for line in text.splitlines()
        if line.startswith("gosvc_fleet_repository_behind{")
    }
    assert behind == {"behind": "1", "current": "0"}
