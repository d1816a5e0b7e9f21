"""Every set of Go modules a repository can require is tidy and provides every package its code imports.

The variant matrix covers each pair of answers, not each set of dependencies (a Go version crossed with every
feature that imports modules): this renders one repository per set. It loads every package with its tests but
compiles none: the matrix compiles, vets and lints its variants, and each set's versions share a module graph
checked here.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.go_modules import INCLUDES, render, variants

pytestmark = pytest.mark.slow

SETS = list(variants())


def _go(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["go", *args], cwd=repo, capture_output=True, text=True, check=False)


def test_every_dependency_set_has_its_files() -> None:
    names = {name for name, _ in SETS}
    assert {path.stem for path in (INCLUDES / "gomod").glob("*.mod")} == names
    assert {path.stem for path in (INCLUDES / "gosum").glob("*.sum")} == names


@pytest.mark.parametrize(("name", "answers"), SETS, ids=[name for name, _ in SETS])
def test_dependency_set_is_tidy_and_complete(
    name: str, answers: dict[str, Any], template_repo: Path, tmp_path: Path
) -> None:
    repo = render(template_repo, tmp_path / "orders-api", answers)
    assert (repo / "go.mod").read_text().endswith((INCLUDES / "gomod" / f"{name}.mod").read_text())

    tidy = _go(repo, "mod", "tidy", "-diff")
    assert tidy.returncode == 0, (
        f"{name}: go.mod or go.sum is not tidy (python -m tests.go_modules rewrites them):\n{tidy.stdout}{tidy.stderr}"
    )
    listed = _go(repo, "list", "-deps", "-test", "./...")
    assert listed.returncode == 0, f"{name}: go list -deps -test ./...:\n{listed.stderr}"
