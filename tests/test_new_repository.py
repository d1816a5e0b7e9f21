"""`gosvc new` leaves a repository every later update can start from: a git repository whose first commit holds the
generated files, and an answers file that names the template by a location any clone can reach, never by a path
that exists only on the machine it was made on."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from generator.project.answers_file import ANSWERS_FILE
from tests.conftest import git

pytestmark = pytest.mark.slow

GOSVC = str(Path(sys.executable).parent / "gosvc")
URL = "https://git.example.com/platform/gosvc.git"


def gosvc_new(dest: Path, template: str, *extra: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    argv = [GOSVC, "new", str(dest), "--defaults", "--template", template, "--json", *extra]
    return subprocess.run(argv, capture_output=True, text=True, check=False, cwd=cwd)


def recorded_source(repo: Path) -> str:
    return str(yaml.safe_load((repo / ANSWERS_FILE).read_text())["_src_path"])


@pytest.fixture
def clone(template_repo: Path, tmp_path: Path) -> Path:
    """A developer's clone of the template, in a temporary folder, whose remote is the template's URL."""
    folder = tmp_path / "work" / "tpl"
    git(tmp_path, "clone", "-q", str(template_repo), str(folder))
    git(folder, "remote", "set-url", "origin", URL)
    return folder


def test_the_first_commit_holds_every_generated_file(template_repo: Path, tmp_path: Path) -> None:
    dest = tmp_path / "orders-api"

    made = gosvc_new(dest, str(template_repo))

    assert made.returncode == 0, made.stderr
    report = json.loads(made.stdout)
    assert git(dest, "rev-parse", "HEAD").strip() == report["first_commit"]
    assert git(dest, "branch", "--show-current").strip() == "main"
    assert git(dest, "status", "--porcelain", "--untracked-files=all") == "", "every file is committed"
    assert report["inside_repository"] is None


def test_a_local_clone_is_recorded_by_its_remote(clone: Path, tmp_path: Path) -> None:
    made = gosvc_new(tmp_path / "orders-api", str(clone))

    assert made.returncode == 0, made.stderr
    assert recorded_source(tmp_path / "orders-api") == URL
    assert json.loads(made.stdout)["template"] == URL


@pytest.mark.usefixtures("clone")
def test_a_relative_template_path_is_recorded_by_the_remote_too(tmp_path: Path) -> None:
    services = tmp_path / "services"
    services.mkdir()

    made = gosvc_new(Path("orders-api"), "../work/tpl", cwd=services)

    assert made.returncode == 0, made.stderr
    assert recorded_source(services / "orders-api") == URL


def test_a_remote_given_relative_to_the_clone_is_recorded_absolute(clone: Path, template_repo: Path) -> None:
    git(clone, "remote", "set-url", "origin", os.path.relpath(template_repo, clone))
    dest = clone.parent / "orders-api"

    made = gosvc_new(dest, str(clone))

    assert made.returncode == 0, made.stderr
    assert recorded_source(dest) == str(template_repo.resolve())


def test_a_clone_without_a_remote_is_refused_in_one_line_and_nothing_is_written(clone: Path, tmp_path: Path) -> None:
    git(clone, "remote", "remove", "origin")
    dest = tmp_path / "orders-api"

    made = gosvc_new(dest, str(clone))

    assert made.returncode == 2, made.stderr
    assert made.stderr.count("\n") == 1 and "has no git remote" in made.stderr and "remote add origin" in made.stderr
    assert not dest.exists()


def test_a_version_the_remote_lacks_is_refused(clone: Path, tmp_path: Path) -> None:
    (clone / "NOTES.md").write_text("not pushed\n")
    git(clone, "add", "NOTES.md")
    git(clone, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "not pushed")
    dest = tmp_path / "orders-api"

    made = gosvc_new(dest, str(clone), "--vcs-ref", "HEAD")

    assert made.returncode == 2, made.stderr
    assert "is on no branch of its remote" in made.stderr and made.stderr.count("\n") == 1
    assert not dest.exists()


def test_no_git_leaves_no_repository(template_repo: Path, tmp_path: Path) -> None:
    made = gosvc_new(tmp_path / "orders-api", str(template_repo), "--no-git")

    assert made.returncode == 0, made.stderr
    assert not (tmp_path / "orders-api" / ".git").exists()
    assert json.loads(made.stdout)["first_commit"] is None


def test_inside_another_repository_nothing_is_initialised(template_repo: Path, tmp_path: Path) -> None:
    monorepo = tmp_path / "monorepo"
    monorepo.mkdir()
    git(monorepo, "init", "-q", "-b", "main")

    made = gosvc_new(monorepo / "services" / "orders-api", str(template_repo))

    assert made.returncode == 0, made.stderr
    assert not (monorepo / "services" / "orders-api" / ".git").exists(), "no repository nested in another"
    assert json.loads(made.stdout)["inside_repository"] == str(monorepo)


def test_without_a_git_user_the_first_commit_is_gosvcs_and_the_output_says_so(
    template_repo: Path, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    env = {key: value for key, value in os.environ.items() if not key.startswith("GIT_")}
    env |= {"HOME": str(home), "GIT_CONFIG_GLOBAL": str(home / ".gitconfig"), "GIT_CONFIG_NOSYSTEM": "1"}
    dest = tmp_path / "orders-api"

    made = subprocess.run(
        [GOSVC, "new", str(dest), "--defaults", "--template", str(template_repo)],
        capture_output=True, text=True, check=False, env=env,
    )  # fmt: skip

    assert made.returncode == 0, made.stderr
    assert "as gosvc: git knows no user here" in made.stdout
    assert git(dest, "log", "-1", "--format=%an <%ae>").strip() == "gosvc <gosvc@localhost>"


def test_a_new_repository_updates_without_any_git_step_of_its_own(template_repo: Path, tmp_path: Path) -> None:
    """The first day's update: nothing between `gosvc new` and `gosvc update`, from another working folder."""
    dest = tmp_path / "orders-api"
    assert gosvc_new(dest, str(template_repo)).returncode == 0
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shutil.copytree(dest, elsewhere / "orders-api", symlinks=True)

    updated = subprocess.run(
        [GOSVC, "update", "orders-api", "--json"], capture_output=True, text=True, check=False, cwd=elsewhere
    )

    assert updated.returncode == 0, updated.stderr
    assert json.loads(updated.stdout)["changed"] == []


def test_a_folder_another_gosvc_new_is_writing_into_is_refused_and_its_work_left_alone(
    template_repo: Path, tmp_path: Path
) -> None:
    dest = tmp_path / "orders-api"
    dest.mkdir()
    descriptor = os.open(dest, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)  # as a running `gosvc new` into dest holds it
        staging = dest / ".gosvc-new-running"
        staging.mkdir()
        (staging / "go.mod").write_text("module example.com/orders-api\n")

        made = gosvc_new(dest, str(template_repo))

        assert made.returncode == 2, made.stderr
        assert made.stderr.strip() == (
            f"gosvc: another gosvc new is writing into {dest}; wait for it to end (nothing was written)"
        )
        assert [entry.name for entry in dest.iterdir()] == [staging.name], "the running one's staging folder is kept"
    finally:
        os.close(descriptor)


@pytest.mark.parametrize("existing", [True, False], ids=["empty folder", "new folder"])
def test_two_gosvc_new_into_one_folder_make_one_whole_repository(
    template_repo: Path, tmp_path: Path, existing: bool
) -> None:
    dest = tmp_path / "orders-api"
    if existing:
        dest.mkdir()
    argv = [GOSVC, "new", str(dest), "--defaults", "--template", str(template_repo), "--json"]
    runs = [subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    ended = [(run.wait(), *run.communicate()) for run in runs]

    assert sorted(status for status, _, _ in ended) == [0, 2], ended
    refused = next(stderr for status, _, stderr in ended if status == 2)
    assert "Traceback" not in refused and len(refused.strip().splitlines()) == 1, refused
    assert (dest / ANSWERS_FILE).is_file()
    assert git(dest, "status", "--porcelain", "--untracked-files=all") == "", "every file is there and committed"
    assert not list(dest.glob(".gosvc-new-*")) and not list(tmp_path.glob(".gosvc-new-*"))
