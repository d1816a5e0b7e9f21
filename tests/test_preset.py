"""Organisation presets: a platform team's answers for every new service, the locked ones kept.

The scenario the product promises: a preset locks the registry and the CI system; a new service starts from
it and cannot change them; an older service that drifted shows up in `gosvc check` and `gosvc fleet status`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from generator.project.answers_file import read_answers
from generator.template.preset import drift, load_preset, with_preset
from tests.test_cli_errors import assert_one_line_error, gosvc

PRESET = """\
# The platform team's preset.
defaults:
  image_registry: registry.acme.example/services
  ci_system: gitlab-ci
  base_image: alpine
  replicas: 3
locked: [image_registry, ci_system]
"""


@pytest.fixture
def preset(tmp_path: Path) -> Path:
    path = tmp_path / "preset.yml"
    path.write_text(PRESET)
    return path


def _new(template_repo: Path, dest: Path, *args: str) -> list[str]:
    return ["new", str(dest), "--defaults", "--template", str(template_repo), *args]


def test_a_new_service_starts_from_the_preset(template_repo: Path, preset: Path, tmp_path: Path) -> None:
    dest = tmp_path / "payments"

    made = gosvc(*_new(template_repo, dest, "--preset", str(preset), "--data", "base_image=scratch"))

    assert made.returncode == 0, made.stderr
    answers = read_answers(dest)
    assert answers["image_registry"] == "registry.acme.example/services"
    assert answers["ci_system"] == "gitlab-ci"
    assert answers["replicas"] == 3
    assert answers["base_image"] == "scratch"  # a default, not locked: the service may change it
    assert (dest / ".gitlab-ci.yml").is_file() and not (dest / ".github").exists()


@pytest.mark.parametrize(
    ("flags", "named"),
    [
        (("--data", "ci_system=jenkins"), "ci_system"),
        (("--data", "image_registry=ghcr.io/elsewhere"), "image_registry"),
    ],
)
def test_a_locked_answer_given_differently_is_refused_naming_the_preset(
    template_repo: Path, preset: Path, tmp_path: Path, flags: tuple[str, str], named: str
) -> None:
    dest = tmp_path / "payments"

    refused = gosvc(*_new(template_repo, dest, "--preset", str(preset), *flags))

    assert_one_line_error(refused, named, "locked", str(preset))
    assert not dest.exists()


def test_the_preset_comes_from_the_environment_too(template_repo: Path, preset: Path, tmp_path: Path) -> None:
    dest = tmp_path / "payments"
    env_run = gosvc(*_new(template_repo, dest, "--data", "ci_system=jenkins"), env={"GOSVC_PRESET": str(preset)})

    assert_one_line_error(env_run, "ci_system", "locked", str(preset))


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("defaults: {ci_system: gitlab-ci}\nlocks: [ci_system]\n", ("unknown key", "locks")),
        ("defaults: {ci_system: gitlab-ci}\nlocked: [image_registry]\n", ("image_registry", "no answer")),
        ("defaults: {registry: x}\n", ("unknown question", "registry")),
        ("defaults: {replicas: many}\n", ("replicas",)),
        ("defaults: [ci_system]\n", ("mapping",)),
        ("locked: ci_system\n", ("list",)),
        ("defaults: {ci_system: travis}\n", ("ci_system",)),
    ],
)
def test_a_bad_preset_is_one_line_naming_it(
    template_repo: Path, tmp_path: Path, content: str, words: tuple[str, ...]
) -> None:
    path = tmp_path / "preset.yml"
    path.write_text(content)

    refused = gosvc(*_new(template_repo, tmp_path / "svc", "--preset", str(path)))

    assert_one_line_error(refused, *words)
    assert not (tmp_path / "svc").exists()


def test_a_service_that_drifted_shows_in_check_and_fleet_status(
    template_repo: Path, preset: Path, tmp_path: Path
) -> None:
    fleet = tmp_path / "fleet"
    kept = fleet / "payments"
    assert gosvc(*_new(template_repo, kept, "--preset", str(preset))).returncode == 0
    drifted = fleet / "orders"  # made before the preset existed: GitHub Actions and ghcr.io
    assert gosvc(*_new(template_repo, drifted, "--data", "base_image=alpine")).returncode == 0

    checked = gosvc("check", str(drifted), "--only", "preset", "--preset", str(preset), "--json")
    clean = gosvc("check", str(kept), "--only", "preset", "--preset", str(preset), "--json")
    status = gosvc("fleet", "status", str(fleet), "--template", str(template_repo), "--preset", str(preset), "--json")
    table = gosvc("fleet", "status", str(fleet), "--template", str(template_repo), "--preset", str(preset))

    [row] = json.loads(checked.stdout)
    assert (checked.returncode, row["status"]) == (1, "fail")
    assert "ci_system is 'github-actions', but the preset" in row["output"]
    assert "image_registry is 'ghcr.io/example'" in row["output"]
    assert "replicas is 2 where the preset's default is 3 (allowed: not locked)" in row["output"]
    assert (clean.returncode, json.loads(clean.stdout)[0]["status"]) == (0, "pass")
    repos = {Path(repo["path"]).name: repo for repo in json.loads(status.stdout)["repos"]}
    assert repos["orders"]["drifted"] == ["ci_system", "image_registry"]
    assert repos["payments"]["drifted"] == []
    assert status.returncode == 1  # a drifted repository needs attention
    assert "drifted: ci_system, image_registry" in table.stdout


def test_without_a_preset_the_check_does_not_apply(template_repo: Path, tmp_path: Path) -> None:
    dest = tmp_path / "orders"
    assert gosvc(*_new(template_repo, dest)).returncode == 0

    checked = gosvc("check", str(dest), "--only", "preset", "--json", env={"GOSVC_PRESET": ""})

    assert json.loads(checked.stdout)[0]["status"] == "not-applicable"


def test_drift_compares_answers_whichever_side_is_typed(preset: Path) -> None:
    loaded = load_preset(preset)
    answers = {"image_registry": "registry.acme.example/services", "ci_system": "gitlab-ci", "replicas": "3"}

    found = drift(loaded, {**answers, "base_image": "alpine"})

    assert (found.locked, found.defaults) == ({}, {})
    assert with_preset(loaded, {"replicas": 5})[0]["ci_system"] == "gitlab-ci"
