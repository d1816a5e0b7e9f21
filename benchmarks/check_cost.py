"""What the checks cost, and what the result cache and the declared inputs save, measured in one run.

1. `gosvc check --json` on a default repository, three times with one empty result cache of its own: the first
   run computes every check; the second, on the unchanged repository, is answered from the cache; the third
   follows an edit of one Go file, and must run again exactly the checks that read Go files. Wall seconds and
   the CPU seconds of gosvc and everything it started, per run, and the ratio of the second to the first.
2. The mutation tests of tests/test_checks.py: for each mutation, how many checks the old selection ran (every
   check on the same side of the Go/non-Go divide, as before the declarations) and how many the declared inputs
   now select; and, per check, how many mutations it is shown to catch under each selection (a check catches a
   mutation when the mutation names it and the selection runs it). No check may catch fewer.

Usage, from the repository root, with the tools installed (`gosvc tools install`):

    python benchmarks/check_cost.py [--only NAME,...] [--skip-runs]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from generator import checks  # noqa: E402 - needs the root on sys.path
from generator.checks.cache import CACHE_ENV_VAR, matching_files  # noqa: E402
from tests.conftest import render_pristine, snapshot_template  # noqa: E402
from tests.test_checks import GO_CHECKS, MUTATIONS, SLOW_CHECKS, _changed  # noqa: E402

GO_EDIT = "internal/api/hello.go"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="the checks of part 1 (default: all)")
    parser.add_argument("--skip-runs", action="store_true", help="part 2 only: no check is run")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="gosvc-bench-") as scratch:
        work = Path(scratch)
        template = snapshot_template(work / "template")
        repos = render_pristine(work / "pristine", template)
        report: dict[str, Any] = {}
        if not args.skip_runs:
            report["cache"] = _cache_runs(repos["github-actions"], work / "results", args.only)
        report["mutations"] = _selections(repos, work / "mutated")
    print(json.dumps(report, indent=2))
    return 0


def _cache_runs(repo: Path, results: Path, only: str | None) -> dict[str, Any]:
    argv = ["gosvc", "check", str(repo), "--json", *(["--only", only] if only else [])]
    env = {**os.environ, CACHE_ENV_VAR: str(results)}
    runs = {"first": _timed(argv, env), "unchanged": _timed(argv, env)}
    path = repo / GO_EDIT
    path.write_text(path.read_text() + "\n// An edit of one Go file.\n")
    runs["after a Go edit"] = _timed(argv, env)
    go_readers = _go_readers(repo)
    ran_again = set(runs["after a Go edit"].pop("ran"))
    for run in runs.values():
        run.pop("ran", None)
    return {
        **runs,
        "unchanged / first, wall": round(runs["unchanged"]["wall_s"] / runs["first"]["wall_s"], 3),
        "ran again after a Go edit": sorted(ran_again),
        "checks that read Go files": sorted(go_readers),
        "ran again exactly the Go readers": ran_again == go_readers & set(runs["first"]["applied"]),
    }


def _go_readers(repo: Path) -> set[str]:
    return {check.name for check in checks.CHECKS if GO_EDIT in matching_files(repo, check.reads)}


def _timed(argv: list[str], env: dict[str, str]) -> dict[str, Any]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    done = subprocess.run(argv, capture_output=True, text=True, check=False, env=env)
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    rows = json.loads(done.stdout)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    applied = [row["check"] for row in rows if row["status"] != checks.NOT_APPLICABLE]
    return {
        "exit": done.returncode,
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu, 2),
        "cached": sum(row["cached"] for row in rows),
        "applied": applied,
        "ran": [row["check"] for row in rows if row["check"] in applied and not row["cached"]],
    }


def _selections(repos: dict[str, Path], folder: Path) -> dict[str, Any]:
    before_runs, after_runs = 0, 0
    caught_before: Counter[str] = Counter()
    caught_after: Counter[str] = Counter()
    for index, case in enumerate(MUTATIONS):
        repo = folder / str(index) / "orders-api"
        shutil.copytree(repos[case.repo], repo, symlinks=True)
        case.mutate(repo)
        # The selection before the declarations: every check on the Go side of a Go mutation, or on the other.
        old = {c.name for c in checks.CHECKS if (c.name in GO_CHECKS) == bool(case.fails & GO_CHECKS)}
        old |= {"kubernetes-consistency"} if case.fails & GO_CHECKS else set()
        old = {name for name in old if name not in SLOW_CHECKS or name in case.fails | case.passes} | case.fails
        new = set(checks.concerned(_changed(repos[case.repo], repo), repos[case.repo], repo))
        new |= {c.name for c in checks.CHECKS if case.preset and "preset" in c.uses}
        new = {name for name in new if name not in SLOW_CHECKS or name in case.fails | case.passes} | case.passes
        before_runs, after_runs = before_runs + len(old), after_runs + len(new)
        caught_before.update(case.fails & old)
        caught_after.update(case.fails & new)
        shutil.rmtree(repo.parent)
    per_check = {
        check.name: {"before": caught_before[check.name], "after": caught_after[check.name]} for check in checks.CHECKS
    }
    return {
        "mutations": len(MUTATIONS),
        "check runs before": before_runs,
        "check runs after": after_runs,
        "after / before": round(after_runs / before_runs, 3),
        "checks that catch fewer": sorted(name for name, n in per_check.items() if n["after"] < n["before"]),
        "caught per check": per_check,
    }


if __name__ == "__main__":
    sys.exit(main())
