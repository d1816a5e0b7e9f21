"""checkov starts once per repository, over the repository and its renderings at once.

The one run must find what the runs it replaced found: checkov on the
repository with the repository's configuration, and checkov on the rendered
files alone. Both are run here on a repository with many renderings (overlays
and values files); then on the same repository broken the three ways
tests/test_checks.py breaks it for checkov, at once, where each must still
fail the check.
"""

from __future__ import annotations

import re
import shutil
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest

from generator.checks.kubernetes import checkov_runs
from generator.checks.kubernetes.checkov_runs import run_checkov
from generator.checks.kubernetes.scanners import CHECKOV_FRAMEWORKS, checkov, read_checkov, scan_with_checkov
from generator.project.kube import CHART, Rendered, deployed, render_all
from generator.tools import Toolbox

pytestmark = [pytest.mark.slow, pytest.mark.slow_tools]  # helm renders the chart

RENDERED = {
    "deploy/overlays/dev (rendered)",
    "deploy/overlays/prod (rendered)",
    "deploy/chart/values.yaml (rendered)",
    "deploy/chart/values-dev.yaml (rendered)",
    "deploy/chart/values-prod.yaml (rendered)",
}
BASE_FILES = ("deployment.yaml", "service.yaml", "serviceaccount.yaml", "prometheus-operator.yaml")
"""The files of deploy/base whose objects checkov's CKV_K8S_21 (no namespace) checks."""

Finding = tuple[str, str, str, str]


@pytest.fixture(scope="module")
def repository(pristine: dict[str, Path]) -> Path:
    """The repository of test_checks with every integration: overlays beside the chart, and Argo CD."""
    return pristine["integrations"]


@pytest.fixture(scope="module")
def broken(repository: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The repository without its Dockerfile's HEALTHCHECK, without .checkov.yaml, and with a workflow checkov
    cannot parse (`cancel-in-progress` an expression)."""
    repo = tmp_path_factory.mktemp("checkov-broken") / "orders-api"
    shutil.copytree(repository, repo, symlinks=True)
    _substitute(repo / "Dockerfile", r"^HEALTHCHECK .*\n.*\n", "")
    (repo / ".checkov.yaml").unlink()
    _substitute(
        repo / ".github/workflows/ci.yml", r"^(\s+cancel-in-progress: ).*$", r"\1${{ github.ref != 'refs/heads/main' }}"
    )
    return repo


def _substitute(path: Path, pattern: str, replacement: str) -> None:
    text, found = re.subn(pattern, replacement, path.read_text(), count=1, flags=re.M)
    assert found, f"{pattern!r} not in {path}"
    path.write_text(text)


def _per_input(repo: Path, rendered: list[Rendered], scratch: Path) -> list[Finding]:
    """The findings of the runs the one run replaced: checkov on the repository as it is, configured by it, and
    on the rendered files alone (kubernetes), named after their renderings."""
    toolbox = Toolbox.default()
    own = toolbox.run(
        "checkov",
        *("-d", ".", "--skip-path", f"{CHART}/templates", "--framework", *CHECKOV_FRAMEWORKS),
        *("--skip-download", "--output", "json"),
        cwd=repo,
    )
    names = {}
    for number, kustomization in enumerate(rendered):
        (scratch / f"{number}.yaml").write_text(kustomization.text)
        names[f"/{number}.yaml"] = f"{kustomization.name} (rendered)"
    theirs = toolbox.run(
        "checkov", "-d", ".", "--framework", "kubernetes", "--skip-download", "--output", "json", cwd=scratch
    )
    return [result.finding for result in read_checkov(own.stdout)] + [
        replace(result, file=names[result.file]).finding for result in read_checkov(theirs.stdout)
    ]


@pytest.mark.parametrize("name", ["repository", "broken"])
def test_the_one_run_finds_what_the_runs_per_input_found(
    request: pytest.FixtureRequest, name: str, tmp_path: Path
) -> None:
    repo: Path = request.getfixturevalue(name)
    toolbox = Toolbox.default()
    rendered = deployed(render_all(repo, toolbox)[0])
    scan = scan_with_checkov(repo, rendered, toolbox)
    assert not scan.error
    assert set(scan.rendered) == RENDERED
    batched = Counter(result.finding for result in scan.results)
    assert batched == Counter(_per_input(repo, rendered, tmp_path))
    # What .checkov.yaml skips (CKV_K8S_21, no namespace) it skips in the repository's files alone.
    namespaces = {(file, outcome) for check, file, _, outcome in batched if check == "CKV_K8S_21"}
    base = {(f"/deploy/base/{file}", "failed") for file in BASE_FILES if name == "broken"}
    assert namespaces == {(rendering, "passed") for rendering in RENDERED} | base


def test_a_repository_checkov_should_fail_still_fails(repository: Path, broken: Path) -> None:
    outcome = checkov(repository, Toolbox.default())
    assert outcome.passed, outcome.output
    outcome = checkov(broken, Toolbox.default())
    assert not outcome.passed
    lines = outcome.output.splitlines()
    assert "checkov did not scan /.github/workflows/ci.yml: it drops files it cannot parse" in lines
    assert any(line.startswith("/Dockerfile: CKV_DOCKER_2 ") for line in lines), outcome.output
    namespaces = {line.split(":")[0] for line in lines if ": CKV_K8S_21 " in line}
    assert namespaces == {f"/deploy/base/{file}" for file in BASE_FILES}


def test_runs_share_one_checkov_process_which_comes_back_when_it_dies(repository: Path) -> None:
    """The checks of a matrix, a fleet or a session import checkov once; a server that died is started anew."""
    arguments = ("-d", ".", "--framework", "dockerfile", "--skip-download", "--output", "json")
    toolbox = Toolbox.default()
    first = run_checkov(*arguments, cwd=repository, toolbox=toolbox)
    server = checkov_runs._server._process
    assert server is not None

    second = run_checkov(*arguments, cwd=repository, toolbox=toolbox)
    assert checkov_runs._server._process is server, "one process served both runs"
    server.kill()
    server.wait()
    third = run_checkov(*arguments, cwd=repository, toolbox=toolbox)

    assert checkov_runs._server._process is not server
    findings = [sorted(result.finding for result in read_checkov(run.stdout)) for run in (first, second, third)]
    assert findings[0] and findings[0] == findings[1] == findings[2]
    assert (first.returncode, second.returncode, third.returncode) == (0, 0, 0)
