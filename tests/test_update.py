"""`gosvc update`: a team's edits survive template updates, conflicts show, failures leave no trace."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml
from copier._main import Worker
from copier.errors import TaskError

from generator import checks
from generator.cli.main import main
from generator.project.answers_file import read_answers
from generator.update import verify
from generator.update.errors import UpdateFailedError
from generator.update.repository import ConflictStyle, DirtyRepositoryError, update_project
from tests.conftest import git
from tests.template_versions import (
    ADDED_BY_TEMPLATE,
    CHANGED_BY_V2,
    CODEOWNERS,
    CONFIGMAP,
    DELETED_BY_TEAM,
    HANDLER,
    NEW_COMPOSE,
    OLD_COMPOSE,
    OVERLAY,
    REMOVED_BY_TEMPLATE,
    SERVICE,
    TEAM_ANSWER,
    TEAM_COMPOSE_ENV,
    TEAM_ENV,
    TEAM_FILES,
    TEAM_GREETING,
    TEAM_LOG_LEVEL,
    TEAM_MIN_REPLICAS,
    V2_CONFIG,
    V3_LOG_LEVEL,
    append_line,
    build_template_versions,
    commit_all,
    copy_project,
    fingerprint,
    generate,
    make_team_project,
)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_template_versions(tmp_path_factory.mktemp("template") / "gosvc")


@pytest.fixture(scope="module")
def team_project(template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Generated at v1 and edited by its team; tests work on copies."""
    return make_team_project(template, tmp_path_factory.mktemp("team") / SERVICE)


@pytest.fixture(scope="module")
def at_v2(team_project: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The team's project updated to v2 and committed; tests work on copies."""
    project = copy_project(team_project, tmp_path_factory.mktemp("v2") / SERVICE)
    update_project(project, vcs_ref="v2.0.0", quiet=True)
    commit_all(project, "update to template v2.0.0")
    return project


@pytest.fixture
def project(team_project: Path, tmp_path: Path) -> Path:
    return copy_project(team_project, tmp_path / SERVICE)


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any], str]:
    """`gosvc update ARGS --json`: exit status, report, standard error."""
    status = main(["update", *args, "--json"])
    captured = capsys.readouterr()
    return status, json.loads(captured.out) if captured.out.strip() else {}, captured.err


def test_update_keeps_every_team_edit_and_lands_every_template_change(project: Path) -> None:
    result = update_project(project, vcs_ref="v2.0.0", quiet=True)

    assert (result.status, result.from_version, result.to_version, result.conflicts) == (
        "updated",
        "v1.0.0",
        "v2.0.0",
        (),
    )
    configmap = (project / CONFIGMAP).read_text()
    assert TEAM_ENV in configmap and TEAM_LOG_LEVEL in configmap, "the team's ConfigMap edits"
    assert V2_CONFIG in configmap, "the template's ConfigMap change"
    assert TEAM_GREETING in (project / HANDLER).read_text()
    assert TEAM_MIN_REPLICAS in (project / OVERLAY).read_text()
    for name, content in TEAM_FILES.items():
        assert (project / name).read_text() == content
    assert not (project / DELETED_BY_TEAM).exists(), "a file the team deleted stays deleted"
    assert not (project / REMOVED_BY_TEMPLATE).exists(), "a file the template removed goes"
    assert (project / ADDED_BY_TEMPLATE).is_file(), "a file the template added comes"
    assert not (project / OLD_COMPOSE).exists()
    compose = (project / NEW_COMPOSE).read_text()
    assert TEAM_COMPOSE_ENV in compose, "the renamed file moved with the team's edit"
    assert compose.startswith(f"name: {SERVICE}\n"), "and with the template's change"
    assert not git(project, "ls-files", "--unmerged")
    answers = (project / ".copier-answers.yml").read_text()
    assert f"owner_team: {TEAM_ANSWER}" in answers and "\nteam:" not in answers, "the renamed question kept its answer"
    assert (project / CODEOWNERS).read_text() == f"* @example/{TEAM_ANSWER}\n"


def test_a_line_both_sides_changed_is_a_visible_conflict(
    at_v2: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = copy_project(at_v2, tmp_path / SERVICE)

    status, report, _ = run_cli(capsys, str(project))

    assert status == 3
    assert report["status"] == "conflicts"
    assert report["conflicts"] == [{"path": CONFIGMAP, "rej": None, "deleted_by_template": False}]
    configmap = (project / CONFIGMAP).read_text()
    assert TEAM_LOG_LEVEL in configmap and V3_LOG_LEVEL in configmap, "both sides are kept"
    assert "<<<<<<< " in configmap and ">>>>>>> " in configmap
    assert TEAM_ENV in configmap and V2_CONFIG in configmap, "what merged cleanly stays merged"
    assert f"UU {CONFIGMAP}" in git(project, "status", "--porcelain")


def test_rejected_hunks_are_listed_and_unmerged(
    at_v2: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = copy_project(at_v2, tmp_path / SERVICE)

    status, report, _ = run_cli(capsys, str(project), "--conflict", "rej")

    assert status == 3
    assert report["conflicts"] == [{"path": CONFIGMAP, "rej": f"{CONFIGMAP}.rej", "deleted_by_template": False}]
    assert V3_LOG_LEVEL in (project / CONFIGMAP).read_text()
    assert TEAM_LOG_LEVEL.strip() in (project / f"{CONFIGMAP}.rej").read_text(), "the team's side is kept"
    assert f"UU {CONFIGMAP}" in git(project, "status", "--porcelain"), "never hidden in a .rej alone"


def test_human_output_lists_the_conflicts(at_v2: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = copy_project(at_v2, tmp_path / SERVICE)

    assert main(["update", str(project)]) == 3

    out = capsys.readouterr().out
    assert "from template v2.0.0 to v3.0.0" in out
    assert f"  {CONFIGMAP}  (conflict markers)" in out


def test_a_dirty_repository_is_refused_untouched(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / HANDLER).write_text((project / HANDLER).read_text() + "\n// work in progress\n")
    (project / "notes.txt").write_text("not committed yet\n")
    before = fingerprint(project)

    status, report, err = run_cli(capsys, str(project), "--vcs-ref", "v2.0.0")

    assert (status, report) == (2, {})
    assert "uncommitted changes" in err and "notes.txt" in err
    assert fingerprint(project) == before
    with pytest.raises(DirtyRepositoryError):
        update_project(project, vcs_ref="v2.0.0", quiet=True)


def test_an_interrupted_update_leaves_the_repository_as_it_was(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = fingerprint(project)
    written: list[bool] = []

    def crash(where: Path, *_: Any) -> None:  # Copier's destination, where it wrote the new version
        written.append((where / NEW_COMPOSE).exists() and V2_CONFIG in (where / CONFIGMAP).read_text())
        raise OSError("disk full")

    monkeypatch.setattr("copier._main._remove_old_files", crash)

    with pytest.raises(UpdateFailedError, match=r"disk full.*as it was"):
        update_project(project, vcs_ref="v2.0.0", quiet=True)

    assert written == [True], "the crash came after the update had written files"
    assert fingerprint(project) == before


def test_a_failing_migration_is_rolled_back(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = fingerprint(project)
    run_tasks = Worker._execute_tasks

    def migrate_then_fail(self: Worker, tasks: Sequence[Any]) -> None:
        run_tasks(self, tasks)  # the move migration runs and writes compose.yaml...
        if tasks:
            raise TaskError(command="migrate", returncode=7, stdout=None, stderr=None)  # ...then one fails

    monkeypatch.setattr(Worker, "_execute_tasks", migrate_then_fail)

    with pytest.raises(UpdateFailedError, match="migrate exited 7"):
        update_project(project, vcs_ref="v2.0.0", quiet=True)

    assert fingerprint(project) == before


def test_bad_answers_and_arguments_are_exit_2_and_change_nothing(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = fingerprint(project)

    assert main(["update", str(project), "--data", "replicas=many"]) == 2
    assert "replicas" in capsys.readouterr().err
    assert main(["update", str(project), "--data", "no_such_question=1"]) == 2
    assert main(["update", str(tmp_path / "missing")]) == 2
    assert main(["update", str(project), "--vcs-ref", "v9.0.0"]) == 2, "a version that does not exist"
    assert "has no version v9.0.0" in capsys.readouterr().err
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert fingerprint(project) == before


def test_an_answer_changed_with_data_is_rendered(project: Path) -> None:
    result = update_project(project, {"memory_limit": "256Mi"}, vcs_ref="v2.0.0", quiet=True)

    assert result.status == "updated"
    assert read_answers(project)["memory_limit"] == "256Mi"
    assert "256Mi" in (project / "deploy/base/deployment.yaml").read_text()


def test_an_up_to_date_repository_is_left_alone(
    at_v2: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = copy_project(at_v2, tmp_path / SERVICE)
    before = fingerprint(project)

    status, report, _ = run_cli(capsys, str(project), "--vcs-ref", "v2.0.0")

    assert (status, report["status"], report["changed"]) == (0, "up to date", [])
    status, _, err = run_cli(capsys, str(project), "--vcs-ref", "v1.0.0")
    assert status == 2
    assert "downgrade" in err
    assert fingerprint(project) == before


@pytest.mark.parametrize("style", ["inline", "rej"])
def test_a_moved_file_whose_edits_collide_is_a_conflict_too(project: Path, style: ConflictStyle) -> None:
    # The team set the port variable, which a new port changes in every version.
    compose_file = project / OLD_COMPOSE
    compose_file.write_text(compose_file.read_text().replace('HTTP_PORT: "8080"', 'HTTP_PORT: "9000"'))
    commit_all(project, "the port the team's proxy expects")
    result = update_project(project, {"http_port": "8081"}, vcs_ref="v2.0.0", conflict=style, quiet=True)

    conflict = next(conflict for conflict in result.conflicts if conflict.path == NEW_COMPOSE)
    compose = (project / NEW_COMPOSE).read_text()
    if style == "inline":
        assert conflict.rej is None
        assert TEAM_COMPOSE_ENV in compose and '"8081"' in compose, "both sides are kept"
    else:
        assert conflict.rej == f"{NEW_COMPOSE}.rej"
        assert TEAM_COMPOSE_ENV.strip() in (project / conflict.rej).read_text()
        assert '"8081"' in compose
    assert compose.startswith(f"name: {SERVICE}\n"), "the template's change landed"
    assert f"{NEW_COMPOSE}\n" in git(project, "diff", "--name-only", "--diff-filter=U"), "unmerged in git"
    assert not (project / f"{OLD_COMPOSE}.rej").exists()


def test_the_generated_repository_asks_renovate_for_template_updates(team_project: Path) -> None:
    config_file = team_project / "renovate.json"
    config = json.loads(config_file.read_text())
    assert config["copier"]["enabled"] is True
    assert config["copier"]["ignoreScripts"] is False, "migrations need `copier update --trust`"
    [checked] = checks.run_checks(team_project, ["renovate-schema"])
    assert checked.status == checks.PASS, checked.output


# A team's first day: the example gives way to an orders API of its own, with a dependency and its readiness check.
FIRST_DAY_FILES = {
    "internal/api/api.go": """// Package api is the orders API.
package api

import (
	"context"
	"log/slog"
	"time"
)

// API serves orders from the inventory.
type API struct {
	logger    *slog.Logger
	inventory *inventory
}

// New opens the inventory and makes the service ready only while it answers.
func New(_ context.Context, deps Deps) (*API, error) {
	stock := &inventory{levels: map[string]int{"42": 3}}
	deps.Readiness.Add("inventory", time.Second, stock.ping)
	return &API{logger: deps.Logger, inventory: stock}, nil
}

// Close releases the inventory.
func (a *API) Close() error {
	return nil
}
""",
    "internal/api/routes.go": """package api

import "net/http"

// AddRoutes registers the orders API.
func (a *API) AddRoutes(mux *http.ServeMux) {
	mux.Handle("GET /orders/{id}", a.handleGetOrder())
}
""",
    "internal/api/orders.go": """package api

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
)

type inventory struct {
	levels map[string]int
}

func (i *inventory) ping(context.Context) error {
	return nil
}

func (a *API) handleGetOrder() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		level, ok := a.inventory.levels[r.PathValue("id")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		if err := json.NewEncoder(w).Encode(map[string]int{"in_stock": level}); err != nil {
			a.logger.ErrorContext(r.Context(), "write response", slog.Any("error", err))
		}
	})
}
""",
    "internal/api/orders_test.go": """package api

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

type checks []string

func (c *checks) Add(name string, _ time.Duration, _ func(context.Context) error) {
	*c = append(*c, name)
}

func TestGetOrder(t *testing.T) {
	var registered checks
	app, err := New(t.Context(), Deps{Logger: slog.New(slog.DiscardHandler), Readiness: &registered})
	if err != nil {
		t.Fatal(err)
	}
	if len(registered) != 1 || registered[0] != "inventory" {
		t.Errorf("readiness checks = %v, want [inventory]", registered)
	}
	mux := http.NewServeMux()
	app.AddRoutes(mux)
	for target, want := range map[string]int{"/orders/42": http.StatusOK, "/orders/7": http.StatusNotFound} {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequestWithContext(t.Context(), http.MethodGet, target, nil))
		if rec.Code != want {
			t.Errorf("GET %s = %d, want %d", target, rec.Code, want)
		}
	}
}
""",
}
EXAMPLE = ("internal/api/hello.go", "internal/api/hello_test.go")


def test_a_teams_first_day_replaces_the_example_and_survives_an_update(template: Path, tmp_path: Path) -> None:
    """The template's own tests serve routes of their own, so the team deletes the example, adds an API with a
    dependency and a readiness check through api.New, updates, and `make test` passes. It runs once, after the
    update: v1 and v2 differ in no Go file, so a run before it would prove nothing this one does not."""
    project = generate(template, tmp_path / SERVICE, "v1.0.0", data={"team": TEAM_ANSWER})
    for name in EXAMPLE:
        (project / name).unlink()
    for name, text in FIRST_DAY_FILES.items():
        (project / name).write_text(text)
    commit_all(project, "the orders API replaces the example")

    result = update_project(project, vcs_ref="v2.0.0", quiet=True)

    assert result.conflicts == ()
    assert {name: (project / name).read_text() for name in FIRST_DAY_FILES} == FIRST_DAY_FILES
    assert not any((project / name).exists() for name in EXAMPLE), "the deleted example stays deleted"
    assert make_test(project) == ""


def make_test(project: Path) -> str:
    """`make test` as a developer runs it: its output when it fails, "" when it passes."""
    ran = subprocess.run(["make", "test"], cwd=project, capture_output=True, text=True, check=False)
    return "" if ran.returncode == 0 else ran.stdout[-3000:] + ran.stderr[-3000:]


@pytest.mark.parametrize("flag", ["--skip-worktree", "--assume-unchanged"])
def test_an_edit_git_status_hides_is_kept_and_the_change_reported_not_applied(
    project: Path, flag: str, capsys: pytest.CaptureFixture[str]
) -> None:
    git(project, "update-index", flag, CONFIGMAP)
    append_line(project / CONFIGMAP, "LOCAL_ONLY=1")
    edited = (project / CONFIGMAP).read_bytes()

    status, report, _ = run_cli(capsys, str(project), "--vcs-ref", "v2.0.0")

    assert status == 4
    assert [item["path"] for item in report["not_applied"]] == [CONFIGMAP]
    assert (project / CONFIGMAP).read_bytes() == edited, "the hidden edit is kept byte for byte"
    assert (project / NEW_COMPOSE).exists(), "the rest of the update arrived"


def test_update_check_exits_5_while_a_newer_template_exists_and_changes_nothing(
    project: Path, at_v2: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = fingerprint(project)

    assert main(["update", str(project), "--check", "--json"]) == 5
    report = json.loads(capsys.readouterr().out)

    assert report["behind"] and (report["version"], report["newest"]) == ("v1.0.0", "v3.0.0")
    assert fingerprint(project) == before
    assert main(["update", str(at_v2), "--check", "--vcs-ref", "v2.0.0"]) == 0


def test_fleet_status_exits_non_zero_while_a_repository_is_behind_or_conflicted(
    team_project: Path, template: Path, tmp_path: Path
) -> None:
    fleet = tmp_path / "fleet"
    project = copy_project(team_project, fleet / SERVICE)
    status = ["fleet", "status", str(fleet), "--template", str(template)]
    assert main(status) == 5, "behind the newest template version"

    conflicts = update_project(project, quiet=True).conflicts
    assert conflicts
    assert main(status) == 3, "conflicts left unresolved"

    git(project, "checkout", "HEAD", "--", *(conflict.path for conflict in conflicts))  # resolved: the team's side
    commit_all(project, "update to the newest template")
    assert main(status) == 0


@pytest.mark.parametrize("version", ["v2.0.0", "v3.0.0"])
def test_the_plan_writes_nothing_and_is_what_the_update_then_does(
    team_project: Path, tmp_path: Path, version: str, capsys: pytest.CaptureFixture[str]
) -> None:
    project = copy_project(team_project, tmp_path / SERVICE)
    before = fingerprint(project)

    planned_status, plan, _ = run_cli(capsys, str(project), "--vcs-ref", version, "--plan")

    assert plan["planned"] and fingerprint(project) == before, "a plan writes nothing"
    status, applied, _ = run_cli(capsys, str(project), "--vcs-ref", version)
    assert not applied["planned"]
    assert (status, applied["files"], applied["conflicts"]) == (planned_status, plan["files"], plan["conflicts"])
    assert plan["kept_removed"] == applied["kept_removed"] == [DELETED_BY_TEAM], "what the team deleted, kept so"
    assert not (project / DELETED_BY_TEAM).exists()
    assert {entry["path"] for entry in plan["files"]} == {
        line[3:] for line in git(project, "status", "--porcelain", "--untracked-files=all").splitlines()
    }, "the files the plan named are exactly those the update changed"
    if version == "v2.0.0":
        gogc = {"object": "ConfigMap/orders-api-config", "field": "data.GOGC", "before": "(absent)", "after": "200"}
        assert gogc | {"environment": "deploy/overlays/prod"} in plan["objects"], "the new setting, as prod gets it"
    else:  # the team's LOG_LEVEL and the template's collide in config.env: what the base deploys is unknown
        assert any(
            change["environment"] == "deploy/base" and change["after"].startswith("cannot be rendered")
            for change in plan["objects"]
        ), plan["objects"]


def test_the_catalog_entry_names_the_template_version_the_update_brought(team_project: Path, at_v2: Path) -> None:
    def annotated(project: Path) -> str:
        entity = yaml.safe_load((project / "catalog-info.yaml").read_text())
        return str(entity["metadata"]["annotations"]["gosvc/template-version"])

    assert (annotated(team_project), annotated(at_v2)) == ("v1.0.0", "v2.0.0")


RENAMED_CONFIGMAP = "deploy/base/service.env"


def rename_configmap(project: Path) -> None:
    """The team renames config.env, as teams rename files, and points its kustomization at the new name."""
    git(project, "mv", CONFIGMAP, RENAMED_CONFIGMAP)
    kustomization = project / "deploy/base/kustomization.yaml"
    kustomization.write_text(kustomization.read_text().replace("config.env", "service.env"))
    commit_all(project, "config.env is service.env")


def test_a_template_change_to_a_file_the_team_renamed_lands_in_the_renamed_file(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rename_configmap(project)

    status, report, _ = run_cli(capsys, str(project), "--vcs-ref", "v2.0.0")

    assert (status, report["status"], report["not_applied"], report["conflicts"]) == (0, "updated", [], [])
    renamed = (project / RENAMED_CONFIGMAP).read_text()
    assert V2_CONFIG in renamed, "the template's change arrived in the file the team renamed"
    assert TEAM_ENV in renamed and TEAM_LOG_LEVEL in renamed, "with the team's edits kept"
    assert not (project / CONFIGMAP).exists(), "and the template's name did not come back"
    assert {"path": RENAMED_CONFIGMAP, "change": "updated"} in report["files"]


@pytest.mark.parametrize("style", ["inline", "rej"])
def test_a_collision_in_a_file_the_team_renamed_is_a_conflict_there(
    project: Path, style: ConflictStyle, capsys: pytest.CaptureFixture[str]
) -> None:
    rename_configmap(project)

    status, report, _ = run_cli(capsys, str(project), "--vcs-ref", "v3.0.0", "--conflict", style)

    rej = f"{RENAMED_CONFIGMAP}.rej" if style == "rej" else None
    assert (status, report["conflicts"]) == (3, [{"path": RENAMED_CONFIGMAP, "rej": rej, "deleted_by_template": False}])
    assert V3_LOG_LEVEL in ((project / rej).read_text() if rej else "") + (project / RENAMED_CONFIGMAP).read_text()
    assert V2_CONFIG in (project / RENAMED_CONFIGMAP).read_text(), "what merged cleanly is merged"
    assert f"UU {RENAMED_CONFIGMAP}" in git(project, "status", "--porcelain")
    assert not (project / CONFIGMAP).exists()


def test_a_file_the_team_renamed_and_the_template_deleted_is_kept_as_a_conflict(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    renamed = REMOVED_BY_TEMPLATE.replace(".yml", ".yaml")
    git(project, "mv", REMOVED_BY_TEMPLATE, renamed)
    commit_all(project, "the yamllint config under its other name")
    kept = (project / renamed).read_bytes()

    status, report, _ = run_cli(capsys, str(project), "--vcs-ref", "v2.0.0")

    assert (status, report["conflicts"]) == (3, [{"path": renamed, "rej": None, "deleted_by_template": True}])
    assert (project / renamed).read_bytes() == kept
    assert not (project / REMOVED_BY_TEMPLATE).exists()


def test_a_template_change_to_a_file_the_team_deleted_is_reported_not_applied(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / CHANGED_BY_V2).unlink()
    commit_all(project, "no .dockerignore")

    status, report, _ = run_cli(capsys, str(project), "--vcs-ref", "v2.0.0")

    assert (status, [item["path"] for item in report["not_applied"]]) == (4, [CHANGED_BY_V2])
    assert "you deleted it" in report["not_applied"][0]["reason"]
    assert not (project / CHANGED_BY_V2).exists(), "the team's deletion stands"
    assert report["conflicts"] == [] and V2_CONFIG in (project / CONFIGMAP).read_text(), "the rest arrived"


def test_an_answer_edited_by_hand_is_rendered_everywhere_by_the_next_update(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    update_project(project, {"memory_request": "96Mi"}, vcs_ref="v1.0.0", quiet=True)  # changed the right way
    commit_all(project, "a larger memory request")
    answers_file = project / ".copier-answers.yml"
    answers_file.write_text(answers_file.read_text().replace("memory_limit: '128Mi'", "memory_limit: '192Mi'"))
    commit_all(project, "more memory, straight in the answers")

    status, report, _ = run_cli(capsys, str(project), "--vcs-ref", "v2.0.0")

    assert (status, report["hand_edited"], report["conflicts"]) == (0, ["memory_limit"], [])
    deployment = (project / "deploy/base/deployment.yaml").read_text()
    assert '"192Mi"' in deployment and '"128Mi"' not in deployment, "the manifests follow the edited answer"
    assert read_answers(project)["memory_limit"] == "192Mi"
    assert '"96Mi"' in deployment and read_answers(project)["memory_request"] == "96Mi", "the --data change stays"
    assert V2_CONFIG in (project / CONFIGMAP).read_text() and TEAM_ENV in (project / CONFIGMAP).read_text()


def test_conflicts_a_line_merge_makes_of_unrelated_changes_are_merged_by_structure(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A setting the team appended beside the one v2 appends, and a file the team gave CRLF line endings, conflict
    line by line (Copier leaves both conflicted); neither changes what the other side changed."""
    append_line(project / CONFIGMAP, "REGION=eu")
    dockerignore = project / CHANGED_BY_V2
    dockerignore.write_bytes(dockerignore.read_bytes().replace(b"\n", b"\r\n"))
    commit_all(project, "a region, and Windows line endings")

    status, report, _ = run_cli(capsys, str(project), "--vcs-ref", "v2.0.0")

    assert (status, report["conflicts"]) == (0, [])
    assert report["merged"] == [
        {"path": CHANGED_BY_V2, "how": "line endings"},
        {"path": CONFIGMAP, "how": "by setting"},
    ]
    config = (project / CONFIGMAP).read_text()
    assert all(line in config for line in ("REGION=eu", V2_CONFIG, TEAM_ENV, TEAM_LOG_LEVEL)), config
    ignored = (project / CHANGED_BY_V2).read_bytes()
    assert NEW_COMPOSE.encode() in ignored and ignored.count(b"\n") == ignored.count(b"\r\n")
    assert {"path": CONFIGMAP, "change": "merged"} in report["files"]
    assert git(project, "status", "--porcelain", "--", CONFIGMAP).startswith(" M"), "an unstaged change, as any merge"


def test_a_structural_merge_the_overlays_refute_is_left_as_the_line_merges_conflict(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    append_line(project / CONFIGMAP, "REGION=eu")
    commit_all(project, "a region")
    built = verify.agreements.kustomization_problems

    def problems(repo: Path, toolbox: Any) -> dict[str, frozenset[str]]:
        """As if the prod overlay disagreed with a base that has both settings."""
        found = dict(built(repo, toolbox))
        if V2_CONFIG in (repo / CONFIGMAP).read_text() and "REGION=eu" in (repo / CONFIGMAP).read_text():
            found["deploy/overlays/prod"] = frozenset({"disagrees with the base"})
        return found

    monkeypatch.setattr(verify.agreements, "kustomization_problems", problems)

    status, report, _ = run_cli(capsys, str(project), "--vcs-ref", "v2.0.0")

    assert (status, report["merged"]) == (3, [])
    assert report["conflicts"] == [{"path": CONFIGMAP, "rej": None, "deleted_by_template": False}]
    assert "<<<<<<<" in (project / CONFIGMAP).read_text()
    assert f"UU {CONFIGMAP}" in git(project, "status", "--porcelain")


def test_the_plan_lists_the_team_owned_files_the_template_changed_and_the_update_leaves_them(
    template: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The runbook is team-owned (_skip_if_exists): a template release that changes it never writes the team's copy,
    and the plan says so, with the reason, for the team to take what it wants of the new one."""
    releases = tmp_path / "template"
    git(tmp_path, "clone", "-q", str(template), str(releases))
    git(releases, "remote", "set-url", "origin", str(releases))  # a template repository of its own, published
    runbook = releases / "template" / "docs" / "runbooks.md.jinja"
    runbook.write_text(runbook.read_text() + "\n## Paging\n\nPage the owning team first.\n")
    git(releases, "commit", "-qam", "the runbook says who to page")
    git(releases, "tag", "v4.0.0")
    project = generate(releases, tmp_path / SERVICE, "v3.0.0", data={"owner_team": TEAM_ANSWER})
    before = (project / "docs/runbooks.md").read_text()

    status, plan, err = run_cli(capsys, str(project), "--vcs-ref", "v4.0.0", "--plan")
    assert (status, plan["team_owned"], plan["not_applied"]) == (0, ["docs/runbooks.md"], []), err
    main(["update", str(project), "--vcs-ref", "v4.0.0", "--plan"])
    assert "docs/runbooks.md  (team-owned: the template changed it" in capsys.readouterr().out

    status, applied, _ = run_cli(capsys, str(project), "--vcs-ref", "v4.0.0")
    assert (status, applied["files"]) == (0, plan["files"])
    assert (project / "docs/runbooks.md").read_text() == before, "the team's copy is left as it is"


def test_an_answer_turns_the_database_on_and_turning_it_off_is_refused_while_the_teams_files_use_it(
    at_v2: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = copy_project(at_v2, tmp_path / SERVICE)

    result = update_project(project, {"database": "postgres"}, vcs_ref="v2.0.0", quiet=True)
    assert result.status == "updated"
    assert (project / "internal/database/migrate.go").is_file()
    assert (project / "internal/api/greetings.go").is_file(), "the example comes with it, as the team's"
    vetted = subprocess.run(["go", "vet", "./..."], cwd=project, capture_output=True, text=True, check=False)
    assert vetted.returncode == 0, vetted.stderr
    commit_all(project, "a database")
    before = fingerprint(project)

    # The example, now the team's, uses the pool: the update cannot take the database away from under it.
    status = main(["update", str(project), "--vcs-ref", "v2.0.0", "--data", "database=none"])
    err = capsys.readouterr().err
    assert status == 2
    assert "break the Go build of files you own" in err and "internal/api/greetings.go" in err, err
    assert "Traceback" not in err
    assert fingerprint(project) == before
