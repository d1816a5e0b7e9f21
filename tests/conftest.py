"""Fixtures shared by the template tests.

Every test renders from a throwaway git repository holding the template as it
is in this working tree, tagged like a release, exactly as users consume it.
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Generator, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from generator import checks, tools
from generator.checks.cache import CACHE_ENV_VAR
from generator.checks.kubernetes.server import SERVER_VERSIONS
from generator.matrix.variants import NAMED
from generator.runtime.errors import ToolMissingError
from generator.servers.control_plane import sharing_planes
from generator.servers.postgres import SharedPostgres
from generator.template.render import NewProject, new_project

# The suite keeps check results in a folder of its own that starts empty, never in the user's: a green run means
# every check ran on this commit. .ci/run gives its lanes one such folder (GOSVC_TEST_RESULTS), so that a result
# one lane computed answers the same inputs in another; results never outlive the run.
RESULTS_FOLDER = Path(os.environ.get("GOSVC_TEST_RESULTS") or tempfile.mkdtemp(prefix="gosvc-test-results-"))
os.environ[CACHE_ENV_VAR] = str(RESULTS_FOLDER)  # for the gosvc commands the tests start

# Property-based tests: bounded and derandomized in CI (the default); HYPOTHESIS_PROFILE=long runs
# BUDGET_SCALE times as many examples, randomized, for a longer local search.
BUDGET_SCALE = 20
settings.register_profile(
    "ci", derandomize=True, deadline=None, print_blob=True, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "long", derandomize=False, deadline=None, print_blob=True, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def budget(examples: int) -> int:
    """How many examples a property test runs: `examples` in CI, more under the long profile."""
    return examples * (BUDGET_SCALE if settings.default.derandomize is False else 1)


# How long a test waits on a command, or for one to reach a state, before calling it hung. It stops a hang
# and measures nothing: CI runs four lanes of tests on two cores, where a command that takes two seconds on a
# quiet machine has taken more than a minute. A test names this bound rather than one of its own.
HANG_GUARD_SECONDS = 900

PROJECT_ROOT = Path(__file__).resolve().parent.parent
GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "gosvc tests",
    "GIT_AUTHOR_EMAIL": "tests@gosvc.invalid",
    "GIT_COMMITTER_NAME": "gosvc tests",
    "GIT_COMMITTER_EMAIL": "tests@gosvc.invalid",
}


def git(cwd: Path, *args: str) -> str:
    """Run git in `cwd` with a fixed identity; return its standard output."""
    result = subprocess.run(
        ["git", *args],
        cwd=cwd,
        env={**os.environ, **GIT_IDENTITY},
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


def snapshot_template(dest: Path, tag: str = "v1.0.0") -> Path:
    """Copy the template files of this working tree into a new git repo at `dest`, tagged `tag`."""
    listed = git(PROJECT_ROOT, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
    dest.mkdir(parents=True)
    for name in filter(None, listed.split("\0")):
        source = PROJECT_ROOT / name
        if not source.is_file():
            continue  # deleted in the working tree but still in the index
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
    return _release(dest, tag)


def snapshot_commit(dest: Path, commit: str, tag: str = "v1.0.0") -> Path:
    """This repository as it was at `commit`, in a new git repo at `dest`, tagged `tag`: an earlier release."""
    dest.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", commit], cwd=PROJECT_ROOT, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    return _release(dest, tag)


def two_releases(dest: Path, earlier: str) -> Path:
    """A template repository at `dest`: commit `earlier` of this repository tagged v1.0.0, this working tree v2.0.0
    (published: its remote is itself, as for every snapshot)."""
    repo = snapshot_commit(dest, earlier, "v1.0.0")
    for path in repo.iterdir():
        if path.name != ".git":
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    listed = git(PROJECT_ROOT, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
    for name in filter(None, listed.split("\0")):
        source = PROJECT_ROOT / name
        if source.is_file():
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, repo / name)
    git(repo, "add", "--all")
    git(repo, "commit", "-q", "-m", "template release v2.0.0")
    git(repo, "tag", "v2.0.0")
    git(repo, "fetch", "-q", "origin")
    return repo


def _release(dest: Path, tag: str) -> Path:
    """The files at `dest` committed in a new git repository and tagged `tag`. Its remote is itself: the location
    a repository generated from it records, as a clone of a template records its URL."""
    git(dest, "init", "-q", "-b", "main")
    git(dest, "add", "-A")
    git(dest, "commit", "-q", "-m", f"template release {tag}")
    git(dest, "tag", tag)
    git(dest, "remote", "add", "origin", str(dest))
    git(dest, "fetch", "-q", "origin")
    return dest


@pytest.fixture(scope="session")
def template_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One tagged snapshot of the template for the whole session (read-only by convention)."""
    return snapshot_template(tmp_path_factory.mktemp("template") / "gosvc")


PRISTINE = NAMED
"""The repositories every check must pass, rendered once per session (read-only by convention: copy to mutate)."""


def render_pristine(root: Path, template: Path) -> dict[str, Path]:
    """The PRISTINE repositories rendered from `template` under `root`, by name."""
    return {
        name: new_project(
            root / name / "orders-api",
            {"service_name": "orders-api", **answers},
            defaults=True,
            template=str(template),
            quiet=True,
        ).dest
        for name, answers in PRISTINE.items()
    }


@pytest.fixture(scope="session")
def pristine(template_repo: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A passing repository per CI system (the CI file is the only difference), and one per set of integrations."""
    return render_pristine(tmp_path_factory.mktemp("pristine"), template_repo)


Render = Callable[..., NewProject]


@pytest.fixture
def render(template_repo: Path, tmp_path: Path) -> Iterator[Render]:
    """Render the template into a fresh folder with `--defaults` and the given answers."""

    def _render(data: Mapping[str, Any] | None = None, *, name: str = "orders-api", **kwargs: Any) -> NewProject:
        answers = {"service_name": name, **(data or {})}
        return new_project(tmp_path / name, answers, defaults=True, template=str(template_repo), quiet=True, **kwargs)

    yield _render


SLOW_TOOLS = tuple(
    dict.fromkeys(
        name
        for check in checks.CHECKS
        if check.cost is checks.Cost.SERVER
        for name in check.tools
        if name in tools.TOOLS and tools.TOOLS[name].backend.slow
    )
)
"""The tools the checks that start servers run and gosvc compiles for minutes on a new machine: the `slow_tools`
tests use them, and CI builds them while the other tests run."""


@pytest.fixture(scope="session")
def result_cache() -> checks.ResultCache:
    """The suite's own result cache (see RESULTS_FOLDER)."""
    return checks.ResultCache(RESULTS_FOLDER)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that run every check run the server checks too: they are `slow_tools` tests."""
    for item in items:
        if "control_planes" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow_tools)


@pytest.fixture(scope="session")
def control_planes() -> Iterator[dict[str, Path]]:
    """One local control plane per Kubernetes version the kubernetes-server check uses, for the whole session (their
    kubeconfigs by version, for CheckContext.planes): each check applies into namespaces of its own instead of
    starting its own servers. Where kube-apiserver or etcd is not installed, the checks report it themselves."""
    try:
        with sharing_planes(SERVER_VERSIONS, tools.Toolbox.default()) as planes:
            yield planes
    except ToolMissingError:
        yield {}


@pytest.fixture(scope="session")
def postgres() -> Iterator[SharedPostgres]:
    """One PostgreSQL server for the whole session (CheckContext.postgres), started by the first check that needs a
    database: each makes databases of its own on it instead of starting its own server."""
    with SharedPostgres(tools.Toolbox.default()) as server:
        yield server


CPU_LOG = os.environ.get("GOSVC_TEST_CPU_LOG")
"""Where each test appends the CPU seconds it used, its subprocesses' included: under parallel lanes wall time
measures contention, CPU measures what a test costs."""


def _cpu_seconds() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Generator[None, object, object]:
    start = _cpu_seconds()
    try:
        return (yield)
    finally:
        if CPU_LOG:
            with Path(CPU_LOG).open("a", encoding="utf-8") as log:
                log.write(f"{_cpu_seconds() - start:.1f} {item.nodeid}\n")
