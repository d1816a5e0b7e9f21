"""The plan is the update, over the update corpus: for each team edit, `gosvc update --plan` writes nothing and names
exactly what the update then does (its exit status, each file's change, the conflicts, the changes not applied, the
files kept removed and those merged by structure), and the files the update changed are exactly those it named.

What no other test proves: test_update checks plan against apply for one edited repository; here each mechanism an
edit can set off (a merge by structure, a real collision, a renamed file, a deleted one the template changes, an
edited file the template deletes, an answer edited by hand) goes through both. CI runs one edit per mechanism; the
long profile runs the whole corpus.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import settings

from tests.conftest import git
from tests.template_versions import SERVICE, build_template_versions, commit_all, copy_project, fingerprint
from tests.test_update import run_cli
from tests.update_corpus import CORPUS, TARGET, Edit, generate_base

ONE_PER_MECHANISM = (
    "config: add a setting",
    "config: change LOG_LEVEL",
    "config: renamed and edited",
    "dockerignore: deleted",
    "yamllint: a rule changed",
    "answers: memory limit by hand",
)
EDITS = CORPUS if settings.default.derandomize is False else [e for e in CORPUS if e.name in ONE_PER_MECHANISM]
SAME_IN_PLAN_AND_UPDATE = ("status", "files", "conflicts", "not_applied", "kept_removed", "merged", "hand_edited")


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    template = build_template_versions(tmp_path_factory.mktemp("template") / "gosvc")
    return generate_base(template, tmp_path_factory.mktemp("base") / SERVICE)


def test_the_sample_names_edits_of_the_corpus() -> None:
    assert set(ONE_PER_MECHANISM) <= {edit.name for edit in CORPUS}


@pytest.mark.parametrize("edit", EDITS, ids=lambda edit: edit.name)
def test_the_plan_names_what_the_update_then_does(
    edit: Edit, base: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = copy_project(base, tmp_path / SERVICE)
    edit.apply(project)
    commit_all(project, edit.name)
    before = fingerprint(project)

    planned_status, plan, _ = run_cli(capsys, str(project), "--vcs-ref", TARGET, "--plan")
    assert plan["planned"] and fingerprint(project) == before, "a plan writes nothing"
    status, applied, error = run_cli(capsys, str(project), "--vcs-ref", TARGET)

    assert status == planned_status, error
    assert {key: applied[key] for key in SAME_IN_PLAN_AND_UPDATE} == {key: plan[key] for key in SAME_IN_PLAN_AND_UPDATE}
    changed = {line[3:] for line in git(project, "status", "--porcelain", "--untracked-files=all").splitlines()}
    assert {entry["path"] for entry in plan["files"]} == changed, "the files the plan named are those that changed"
