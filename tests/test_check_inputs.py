"""Each check's declared inputs are complete, so that a result kept under their hash is never a false answer.

For every check, on a repository where it applies: every file the check does not declare is garbled or deleted,
stray files are added beside them, and the check must give the result it gives on the repository untouched (a
pass: the pristine repositories pass every check, which test_checks proves). A check that reads a file it does not
declare fails here by name. Then each declared file, and each setting the check uses, is changed in turn and must
change the check's key: the result is computed again.

What this proves that no cheaper test does: the result cache's soundness. What it costs: one run of each check,
on the repository of test_checks it applies to first (the same renders, shared through the `pristine` fixture).
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest
import yaml

from generator import checks
from generator.checks.cache import answers_only, matching_files
from generator.servers.postgres import SharedPostgres
from tests.conftest import PRISTINE

GARBAGE = "\0garbled: {{ not yaml: [ nor Go } nor shell $( nor Dockerfile\n"
STRAYS = (
    "stray.txt",
    "stray.yaml",
    "stray.go",
    "stray.sh",
    "stray.json",
    "deploy/stray.yaml",
    "internal/stray.go",
    "prometheus/stray.yml",
    ".github/workflows/stray.yml",
    "cmd/stray/main.go",
)
"""Files a check may find by walking folders: each is added only where the check does not declare it."""
ADDED = {"shellcheck": ("scripts/hello.sh", '#!/bin/sh\nset -eu\necho "hello"\n')}
"""What a check that applies to no generated repository is given to read: a passing input of its own."""


def _copy_home(check: checks.Check, pristine: dict[str, Path], folder: Path) -> tuple[str, Path]:
    """A copy of the first pristine repository `check` applies to (with its ADDED file, if any), and its name."""
    repo = folder / "orders-api"
    for name in PRISTINE:
        shutil.copytree(pristine[name], repo, symlinks=True)
        if check.name in ADDED:
            relative, content = ADDED[check.name]
            (repo / relative).parent.mkdir(parents=True, exist_ok=True)
            (repo / relative).write_text(content)
        (folder / "preset.yml").write_text("defaults: {ci_system: github-actions}\nlocked: [ci_system]\n")
        if check.applies(_context(repo, check)):
            return name, repo
        shutil.rmtree(repo)
    raise AssertionError(f"{check.name} applies to no pristine repository")


def _context(repo: Path, check: checks.Check) -> checks.CheckContext:
    preset = repo.parent / "preset.yml" if "preset" in check.uses else None
    return checks.CheckContext.from_environment(repo, preset=preset)


def _garble_undeclared(repo: Path, check: checks.Check) -> list[str]:
    declared = set(matching_files(repo, check.reads))
    undeclared = sorted(set(matching_files(repo, ("**/*",))) - declared)
    for index, relative in enumerate(undeclared):
        path = repo / relative
        if index % 2:
            path.unlink()
        else:
            path.write_text(GARBAGE)
    for relative, names in answers_only(repo, check.reads).items():
        # What Copier keeps beside the answers (where the template was, at which commit), and every answer the
        # check does not say it reads.
        recorded = yaml.safe_load((repo / relative).read_text())
        recorded = {key: value if key in names else GARBAGE for key, value in recorded.items()}
        recorded.update({"_commit": "garbled", "_src_path": "/nowhere/garbled", "_garbled": GARBAGE})
        (repo / relative).write_text(yaml.safe_dump(recorded))
        undeclared.append(f"{relative} (all but {', '.join(sorted(names))})")
    strays = []
    for relative in STRAYS:
        path = repo / relative
        if path.exists():
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(GARBAGE)
        if relative in matching_files(repo, check.reads):
            path.unlink()
        else:
            strays.append(relative)
    return undeclared + strays


@pytest.mark.parametrize("name", [check.name for check in checks.CHECKS])
def test_a_file_a_check_does_not_declare_cannot_change_its_result(
    name: str, pristine: dict[str, Path], tmp_path: Path, control_planes: dict[str, Path], postgres: SharedPostgres
) -> None:
    check = {check.name: check for check in checks.CHECKS}[name]
    home, repo = _copy_home(check, pristine, tmp_path)

    changed = _garble_undeclared(repo, check)
    if not changed:
        # Complete by construction only when it says so: a check that reads every file (merge-leftovers) declares
        # "**"; globs that merely happen to cover this repository prove nothing.
        assert "**" in check.reads, f"{name} declares every file of the {home} repository: nothing to prove"
        assert set(matching_files(repo, ("**/*",))) <= set(matching_files(repo, check.reads))
        return
    context = dataclasses.replace(_context(repo, check), planes=control_planes, postgres=postgres)
    result = checks.run_checks(context, [name])[0]

    assert result.status == checks.PASS, (
        f"{name} reads a file it does not declare (of {len(changed)} garbled, deleted or added in the {home} "
        f"repository: {', '.join(changed[:12])}...):\n{result.output}"
    )


@pytest.mark.parametrize("name", [check.name for check in checks.CHECKS])
def test_a_change_to_a_declared_input_computes_the_result_again(
    name: str, pristine: dict[str, Path], tmp_path: Path
) -> None:
    check = {check.name: check for check in checks.CHECKS}[name]
    _, repo = _copy_home(check, pristine, tmp_path)
    context = _context(repo, check)
    before = checks.key_of(check, context)

    declared = matching_files(repo, check.reads)
    assert declared, f"{name} declares no file of the repository it applies to"
    partial = answers_only(repo, check.reads)
    for relative in declared:
        path = repo / relative
        original = path.read_bytes()
        if relative in partial:
            path.write_bytes(original + b"an_answer_no_check_reads: 1\n")
            assert checks.key_of(check, context) == before, f"{name}: an answer it does not read moves its key"
            recorded = yaml.safe_load(original)
            read = sorted(partial[relative] & set(recorded))
            assert read, f"{name} reads answers {relative} does not record"
            recorded[read[0]] = f"{recorded[read[0]]}-changed"
            path.write_text(yaml.safe_dump(recorded))
        else:
            path.write_bytes(original + b"\n")
        assert checks.key_of(check, context) != before, f"{name}: a change to {relative} keeps the key"
        path.write_bytes(original)
    assert checks.key_of(check, context) == before, "the same contents give the same key"
    for setting in check.uses:
        other = {
            "offline_standins": not context.offline_standins,
            "kube_context": context.kube_context + "-elsewhere",
            "preset": tmp_path / "other.yml",
        }[setting]
        (tmp_path / "other.yml").write_text("defaults: {}\nlocked: []\n")
        changed = dataclasses.replace(context, **{setting: other})
        assert checks.key_of(check, changed) != before, f"{name}: the setting {setting} is not in its key"


def test_garbled_files_break_what_reads_them(pristine: dict[str, Path], tmp_path: Path) -> None:
    """The garbling is strong enough to be seen: a check made to read everything fails on it."""
    repo = tmp_path / "orders-api"
    shutil.copytree(pristine["github-actions"], repo, symlinks=True)
    yamllint = {check.name: check for check in checks.CHECKS}["yamllint"]
    blind = dataclasses.replace(yamllint, reads=("Makefile",))

    _garble_undeclared(repo, blind)

    assert checks.run_checks(repo, ["yamllint"])[0].status == checks.FAIL
