"""The full `gosvc check` on every variant of the matrix, and on randomised valid answers."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from generator import checks, resources
from generator.matrix import variants
from generator.matrix.updated import UpdatedFrom, update_variant
from generator.matrix.variants import NAMED, choices, pairwise, random_variants
from generator.template.render import new_project
from tests.conftest import PROJECT_ROOT, budget, git, two_releases
from tests.rules import validated_questions, violation
from tests.template_versions import CONFIGMAP, TEAM_LOG_LEVEL, build_template_versions

BIN = Path(sys.executable).parent

# Every test here runs every check, the server checks' tools included. Only the in-process property test uses the
# session's control planes: `gosvc matrix` starts and shares its own, and planes kept idle beside them while it runs
# cost CPU the other lanes need.
pytestmark = [pytest.mark.slow, pytest.mark.slow_tools]


def _failures(repo: Path, planes: dict[str, Path]) -> dict[str, str]:
    results = checks.run_checks(checks.CheckContext.from_environment(repo, planes=planes))
    return {r.check: r.output for r in results if r.status not in (checks.PASS, checks.NOT_APPLICABLE)}


def test_the_first_value_of_each_choice_is_the_default_and_the_matrix_starts_from_the_named_variants() -> None:
    """A named variant gives only the answers it changes: the rest are the first values of the choices, which must
    be the template's defaults for the matrix's render of it to be the checks' tests' render of it."""
    questions = yaml.safe_load((PROJECT_ROOT / "copier.yml").read_text())
    assert {factor: values[0] for factor, values in choices().items()} == {
        factor: questions[factor]["default"] for factor in choices()
    }
    starts = pairwise()[: len(NAMED)]
    for variant, answers in zip(starts, NAMED.values(), strict=True):
        assert variant.data == {factor: answers.get(factor, choices()[factor][0]) for factor in choices()}


def test_the_matrix_covers_every_value_and_every_pair() -> None:
    variants = pairwise()
    for factor, values in choices().items():
        assert {v.data[factor] for v in variants} == set(values), factor
    for a in choices():
        for b in choices():
            if a < b:
                pairs = {(v.data[a], v.data[b]) for v in variants}
                assert len(pairs) == len(choices()[a]) * len(choices()[b]), (a, b)


def test_every_choice_of_copier_yml_is_a_factor_or_left_at_its_default_for_a_reason() -> None:
    questions = yaml.safe_load((PROJECT_ROOT / "copier.yml").read_text())
    asked = {name for name, spec in questions.items() if isinstance(spec, dict) and "choices" in spec}
    asked |= {name for name, spec in questions.items() if isinstance(spec, dict) and spec.get("type") == "bool"}

    assert asked - set(choices()) == set(variants.LEFT_AT_DEFAULT)
    assert all(reason for reason in variants.LEFT_AT_DEFAULT.values())


def test_a_choice_added_to_copier_yml_is_in_the_matrix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    questions = yaml.safe_load((PROJECT_ROOT / "copier.yml").read_text())
    questions["log_format"] = {"type": "str", "default": "json", "choices": {"JSON": "json", "text": "text"}}
    (tmp_path / "copier.yml").write_text(yaml.safe_dump(questions))
    monkeypatch.setattr(resources, "CHECKOUT", tmp_path)
    variants.choices.cache_clear()
    try:
        assert choices()["log_format"] == ("json", "text")
        assert {variant.data["log_format"] for variant in pairwise()} == {"json", "text"}
    finally:
        variants.choices.cache_clear()


class _MatrixTable:
    """Prints the table `gosvc matrix` printed in the terminal summary: the CI log shows it, pass or fail."""

    def __init__(self) -> None:
        self.table = ""

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if self.table:
            terminalreporter.write_sep("-", "gosvc matrix")
            for line in self.table.splitlines():
                terminalreporter.write_line(line)


TEAM_EDITS = "mkdir -p docs && printf '# Orders team\\n' > docs/team.md && printf 'tmp/\\n' >> .gitignore"
"""The edits a team makes on every variant before the update: a file of its own, a line in a template file. Both
in files only merge-leftovers reads: the checks that build, serve and deploy a named variant find the inputs of
the checks' tests' render of it, and share their results (one run for the two)."""


def previous_template() -> str:
    """The commit before the newest change to the template: the release a repository generated before that change
    was made from. A clone without it (a shallow one) cannot prove the update path, and fails saying so."""
    paths = ("template", "includes", "hooks", "copier.yml")
    newest = git(PROJECT_ROOT, "rev-list", "-n", "1", "HEAD", "--", *paths).strip()
    try:
        return git(PROJECT_ROOT, "rev-parse", "--verify", f"{newest}^").strip()
    except subprocess.CalledProcessError:
        pytest.fail(f"this clone lacks the parent of {newest[:12]}, the template's previous release: clone deeper")


@pytest.fixture(scope="module")
def released_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The template before its newest change, as v1.0.0, and this working tree, as v2.0.0."""
    return two_releases(tmp_path_factory.mktemp("released") / "gosvc", previous_template())


def test_gosvc_matrix_passes_every_variant(released_template: Path, request: pytest.FixtureRequest) -> None:
    """Every variant of this working tree's template passes every check, as a team has it after an update: rendered
    at the previous release, edited (TEAM_EDITS), committed and updated to this one, which must leave no conflict
    and no change not applied."""
    report = _MatrixTable()
    request.config.pluginmanager.register(report, "gosvc-matrix-table")
    # Two variants at once: the prometheus-e2e check of one mostly waits on its servers while the other works.
    command = [str(BIN / "gosvc"), "matrix", "--template", str(released_template), "--jobs", "2"]
    command += ["--updated-from", "v1.0.0", "--vcs-ref", "v2.0.0", "--edit-with", TEAM_EDITS]
    # One random combination of the choices beyond the pairwise variants (the long profile draws twenty): random
    # free answers (names, ports, resources, SLOs) go through every check in the property test below.
    command += ["--random", str(budget(1))]

    finished = subprocess.run(command, capture_output=True, text=True, check=False)
    report.table = finished.stdout

    variants = len(pairwise()) + budget(1)
    assert "Traceback" not in finished.stderr
    assert f"{variants} of {variants} variants passed every check" in finished.stdout, finished.stdout[-5000:]
    assert finished.returncode == 0


def test_gosvc_matrix_fails_with_the_variant_and_the_check(template_repo: Path, tmp_path: Path) -> None:
    """A template whose Dockerfile breaks the lint: the matrix fails, naming every variant and the check."""
    broken = tmp_path / "template"
    shutil.copytree(template_repo, broken, symlinks=True)
    dockerfile = broken / "template" / "Dockerfile.jinja"
    dockerfile.write_text(dockerfile.read_text() + "\nRUN cd /tmp\n")  # hadolint DL3003: use WORKDIR
    git(broken, "commit", "-qam", "a Dockerfile hadolint refuses")
    git(broken, "tag", "-f", "v1.0.0")

    finished = subprocess.run(
        [str(BIN / "gosvc"), "matrix", "--template", str(broken), "--random", "0", "--only", "hadolint", "--json"],
        capture_output=True,
        text=True,
        check=False,
    )

    rows = json.loads(finished.stdout)
    assert finished.returncode == 1
    assert {row["variant"] for row in rows if not row["passed"]} == {variant.name for variant in pairwise()}
    assert all(result["check"] == "hadolint" for row in rows for result in row["results"])


def test_random_variants_are_seeded_and_valid() -> None:
    assert random_variants(5, seed=7) == random_variants(5, seed=7)
    assert random_variants(5, seed=7) != random_variants(5, seed=8)
    for variant in random_variants(50, seed=1):
        answers = variant.data
        refused = {name: violation(name, answers[name], **answers) for name in validated_questions() if name in answers}
        assert {name: rule for name, rule in refused.items() if rule} == {}, answers


names = st.from_regex(r"[a-z][a-z0-9]{0,10}(-[a-z0-9]{1,8}){0,2}", fullmatch=True)
cpu = st.sampled_from(["50m", "100m", "250m", "500m", "1", "1.5", "2"])
memory = st.sampled_from(["32Mi", "64Mi", "128Mi", "256Mi", "1Gi", "512M"])


@st.composite
def valid_answers(draw: st.DrawFn) -> dict[str, Any]:
    cpu_request = draw(cpu)
    cpu_limit = draw(st.sampled_from(["none", *(str(n) for n in range(1, 5) if n * 1000 >= _millicores(cpu_request))]))
    memory_request, memory_limit = sorted(draw(st.lists(memory, min_size=2, max_size=2)), key=_bytes)
    low = draw(st.integers(1, 5))
    high = draw(st.integers(low, 20))
    return {
        "service_name": draw(names),
        "organization": draw(st.sampled_from(["acme", "example", "platform-team"])),
        "http_port": draw(st.integers(1024, 65535).filter(lambda p: p != 9090)),
        "base_image": draw(st.sampled_from(choices()["base_image"])),
        "ci_system": draw(st.sampled_from(choices()["ci_system"])),
        "go_version": draw(st.sampled_from(choices()["go_version"])),
        "deploy_format": draw(st.sampled_from(choices()["deploy_format"])),
        "hpa_enabled": draw(st.booleans()),
        "replicas": draw(st.integers(low, high)),
        "hpa_min_replicas": low,
        "hpa_max_replicas": high,
        "hpa_cpu_utilization": draw(st.integers(1, 100)),
        "cpu_request": cpu_request,
        "cpu_limit": cpu_limit,
        "memory_request": memory_request,
        "memory_limit": memory_limit,
        "slo_availability": draw(st.sampled_from([99.0, 99.5, 99.9, 99.95, 99.99])),
        "slo_latency_ms": draw(st.sampled_from([1, 50, 250, 500, 1000, 2500, 10000])),
    }


def _millicores(quantity: str) -> float:
    return float(quantity[:-1]) if quantity.endswith("m") else float(quantity) * 1000


def _bytes(quantity: str) -> int:
    units = {"Mi": 1024**2, "Gi": 1024**3, "M": 1000**2}
    for suffix, factor in units.items():
        if quantity.endswith(suffix):
            return int(quantity[: -len(suffix)]) * factor
    return int(quantity)


# One example in CI (the long profile draws twenty): the matrix's random variant and the named ones run every check
# on other answers in the same run, and each example here costs every check of a variant.
@settings(max_examples=budget(1), suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(answers=valid_answers())
def test_random_valid_answers_pass_every_check(
    answers: dict[str, Any], template_repo: Path, control_planes: dict[str, Path]
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        project = new_project(
            Path(folder) / answers["service_name"], answers, defaults=True, template=str(template_repo), quiet=True
        )

        assert _failures(project.dest, control_planes) == {}


def test_an_update_a_variant_cannot_make_cleanly_fails_the_variant_naming_the_files(tmp_path: Path) -> None:
    """The team's LOG_LEVEL and the template's v3 LOG_LEVEL collide in config.env: the variant fails, naming it."""
    template = build_template_versions(tmp_path / "template")

    def rendered(name: str) -> Path:
        return new_project(
            tmp_path / name / "orders-api", {"team": "payments"}, defaults=True, template=str(template),
            vcs_ref="v1.0.0", quiet=True, throwaway=True,
        ).dest  # fmt: skip

    edit = f"sed -i 's/^LOG_LEVEL=.*/{TEAM_LOG_LEVEL}/' {CONFIGMAP}"
    failed = update_variant(rendered("colliding"), UpdatedFrom("v1.0.0", edit), "v3.0.0", {})

    assert failed == f"the update from v1.0.0 left conflicts in {CONFIGMAP}"
    failed_edits = update_variant(rendered("failing"), UpdatedFrom("v1.0.0", "echo no such file >&2; exit 3"), None, {})
    assert failed_edits == "the edits (echo no such file >&2; exit 3) failed: no such file"
