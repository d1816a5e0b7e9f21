"""The generated pipeline, run as the pipeline runs it: each CI system's steps, read from its pipeline file and run
in order in a fresh repository with the network a pipeline has here (the Go module proxy, PyPI).

What the file-level checks cannot see shows here: a `make tools` that cannot install (every new repository's
first push was red on one), a target that needs a tool nothing installs, a step that passes lint but fails when run.
Each step that cannot run on this machine is printed with the reason at the end of the test output.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from generator import tools
from generator.servers.postgres import SharedPostgres
from generator.template.render import new_project
from tests.conftest import git
from tests.pipeline_steps import NO_REGISTRY, PIPELINE_FILES, RULES, Step, pipeline_steps, rule_for
from tests.rules import LONGEST

pytestmark = [pytest.mark.slow, pytest.mark.slow_tools]  # make tools compiles promtool, as gosvc's Prometheus build

STEP_TIMEOUT = 900
"""Seconds a step may take: `make tools` compiles promtool on a machine whose Go build cache is empty."""

RUN_ON = {
    "github-actions": "github-actions",
    "gitlab-ci": "gitlab-ci",
    "jenkins-at-the-edges": "jenkins",
    "integrations": "github-actions",
}
"""The repositories whose pipelines run, by their CI system: a pristine one per CI system, and the one with every
integration (gRPC beside HTTP, the chart beside the overlays), whose pipeline adds the API's and the chart's steps.
Jenkins' runs on EDGES instead of the defaults: its Makefile is the other systems', so the one run proves both
the Jenkinsfile and that answers at the rules' edges make a repository whose own pipeline passes."""

EDGES = {
    **LONGEST,
    # As long, and with a word golangci-lint's misspell flags: the repository's lint configuration must let it be.
    "service_name": "cancelled-orders" + "-a1" * 10 + "-xyz",
    "ci_system": "jenkins",
}
"""Answers at the rules' edges: each as long as its rule accepts, with the integrations that print them most."""


@pytest.fixture(scope="session")
def repositories(
    pristine: dict[str, Path], template_repo: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    """The repository each pipeline runs on, by the names of RUN_ON."""
    edges = tmp_path_factory.mktemp("edges") / EDGES["service_name"]
    made = new_project(edges, EDGES, defaults=True, template=str(template_repo), quiet=True)
    return {**pristine, "jenkins-at-the-edges": made.dest}


class _NotRunHere:
    """The steps no test could run on this machine, printed at the end of the test output."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if self.lines:
            terminalreporter.section("pipeline steps not run on this machine")
            for line in dict.fromkeys(self.lines):
                terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def not_run_here(request: pytest.FixtureRequest) -> _NotRunHere:
    report = _NotRunHere()
    request.config.pluginmanager.register(report, "gosvc-pipeline-steps")
    return report


@pytest.mark.parametrize("name", list(RUN_ON))
def test_every_step_of_the_pipeline_meets_a_rule(repositories: dict[str, Path], name: str) -> None:
    steps = pipeline_steps(repositories[name], RUN_ON[name])

    assert [step for step in steps if rule_for(step) is None] == []
    assert any(rule_for(step) == RULES[0] for step in steps), "the reader finds `make tools` in the pipeline"


def test_a_step_no_rule_covers_is_found(pristine: dict[str, Path], tmp_path: Path) -> None:
    repo = shutil.copytree(pristine["github-actions"], tmp_path / "repo", symlinks=True)
    workflow = repo / PIPELINE_FILES["github-actions"]
    text = workflow.read_text()
    workflow.write_text(text.replace("run: make tools\n", "run: make tools\n      - run: make deploy\n", 1))

    uncovered = [step for step in pipeline_steps(repo, "github-actions") if rule_for(step) is None]

    assert uncovered == [Step("manifests", "make deploy")]


@pytest.fixture(scope="session")
def pipeline_tools(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment of the pipelines' steps: their Makefiles install tools into one folder for the session, as
    a CI cache of `.cache/tools` would restore it. The first pipeline installs every tool the default repositories
    pin from nothing, as a repository's first pipeline does; the integrations' pipeline then installs the API's and
    the chart's; the others find what is installed at the same pins, and `make tools` still runs in each."""
    shared = tmp_path_factory.mktemp("pipeline-tools")
    return {**tools.Toolbox.default().environment(), "MAKEFLAGS": f"TOOLS={shared}"}


def _services_here(step: Step, postgres: SharedPostgres) -> dict[str, str]:
    """The job's database URL pointed at the session's PostgreSQL server instead of the job's service container,
    which no registry here can give: the server, its superuser and the database the job names are all the same."""
    url = dict(step.env).get("TEST_DATABASE_URL", "")
    assert url.startswith("postgres://postgres@"), f"{step.job}: the job's service is not reached as documented: {url}"
    return {"TEST_DATABASE_URL": postgres.get().admin_url}


@pytest.mark.parametrize("name", list(RUN_ON))
def test_the_pipeline_steps_pass_when_run(
    repositories: dict[str, Path],
    name: str,
    tmp_path: Path,
    not_run_here: _NotRunHere,
    pipeline_tools: dict[str, str],
    postgres: SharedPostgres,
) -> None:
    repo = shutil.copytree(repositories[name], tmp_path / repositories[name].name, symlinks=True)
    ran = []
    for step in pipeline_steps(repo, RUN_ON[name]):
        rule = rule_for(step)
        assert rule is not None, step
        if rule.not_here:
            not_run_here.lines.append(f"{RUN_ON[name]} {step.job}: {step.command[:70]} ({rule.not_here})")
            continue
        command = rule.instead or step.command
        env = {**pipeline_tools, **dict(step.env)}
        if any(image.startswith("postgres:") for image in step.services):
            env.update(_services_here(step, postgres))
            not_run_here.lines.append(
                f"{RUN_ON[name]} {step.job}: {step.command[:70]} against gosvc's local PostgreSQL server, not the "
                f"job's service container {', '.join(step.services)} ({NO_REGISTRY})"
            )
        finished = subprocess.run(
            ["bash", "-o", "errexit", "-o", "pipefail", "-c", command],
            cwd=repo,
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=STEP_TIMEOUT,
        )
        assert finished.returncode == 0, f"{step.job}: {command}\n{finished.stdout[-3000:]}{finished.stderr[-3000:]}"
        ran.append(command)

    assert "make tools" in ran and any(command.startswith("make check-") for command in ran), ran
    assert git(repo, "status", "--porcelain", "--", "deploy/overlays/prod").strip(), "pin-release pinned the digest"
