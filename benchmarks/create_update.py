"""What creating and updating a service costs with gosvc, against Copier doing the same.

- `gosvc new` against `copier copy --trust` of the same template version with the same answers (gosvc also
  checks the answers and makes the first commit);
- `gosvc update` of a team's edited repository against `copier update` of an identical copy (gosvc also checks
  the answers, guards the team's work and reports what it did);
- `gosvc fleet update` of fleets of such repositories with the default jobs: seconds per repository at each size,
  which must stay flat as the fleet grows.

Each pair runs in turns, the order swapped every other run, after one unmeasured run of each; the report gives
medians with their spread, wall and CPU (the command's and its children's, from getrusage). The template is the
throwaway release pair of tests/template_versions.py: v1, and v2 crossing two migrations. Usage, from the
repository root:

    python benchmarks/create_update.py [--runs 7] [--fleets 10,50,200]
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.template_versions import build_template_versions, copy_project, make_team_project  # noqa: E402 - needs the root on sys.path

GOSVC = str(Path(sys.executable).parent / "gosvc")
TARGET = "v2.0.0"
ANSWERS = ["--data", "service_name=orders-api"]
# The targets: gosvc's median wall time over Copier's, and seconds per repository of a fleet update.
TARGET_RATIO = 1.0
TARGET_FLEET_SECONDS_PER_REPO = 1.5


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="measured runs of each command (default: 7)")
    parser.add_argument("--fleets", default="10,50,200", help="fleet sizes, comma-separated (default: 10,50,200)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="gosvc-bench-") as scratch:
        work = Path(scratch)
        template = build_template_versions(work / "template")
        team = make_team_project(template, work / "team")
        counter = iter(range(1_000_000))

        def fresh(kind: str) -> Path:
            return work / kind / str(next(counter)) / "orders-api"

        def copied() -> Path:
            return copy_project(team, fresh("update"))

        pairs: dict[str, tuple[Callable[[], list[str]], Callable[[], list[str]]]] = {
            "new": (
                lambda: [GOSVC, "new", str(fresh("new")), "--defaults", "--template", str(template),
                         "--vcs-ref", TARGET, *ANSWERS],
                lambda: ["copier", "copy", "--trust", "--defaults", "--quiet", "--vcs-ref", TARGET, *ANSWERS,
                         str(template), str(fresh("copy"))],
            ),
            "update": (
                lambda: [GOSVC, "update", str(copied()), "--vcs-ref", TARGET, "--json"],
                lambda: ["copier", "update", "--trust", "--defaults", "--quiet", "--vcs-ref", TARGET, str(copied())],
            ),
        }  # fmt: skip
        report: dict[str, object] = {"runs": args.runs}
        for name, (gosvc, copier) in pairs.items():
            report[name] = _pair(gosvc, copier, args.runs)
        report["fleet_update"] = {
            str(size): _fleet(team, template, work / f"fleet-{size}", size)
            for size in (int(size) for size in args.fleets.split(","))
        }
    print(json.dumps(report, indent=2))
    return 0


def _pair(gosvc: Callable[[], list[str]], copier: Callable[[], list[str]], runs: int) -> dict[str, object]:
    _run(gosvc())
    _run(copier())
    measured: dict[str, list[tuple[float, float]]] = {"gosvc": [], "copier": []}
    for run in range(runs):
        order = (("gosvc", gosvc), ("copier", copier)) if run % 2 == 0 else (("copier", copier), ("gosvc", gosvc))
        for side, command in order:
            measured[side].append(_run(command()))
    figures = {side: _figures(times) for side, times in measured.items()}
    return figures | {
        "wall_ratio": round(_median_wall(measured["gosvc"]) / _median_wall(measured["copier"]), 3),
        "cpu_ratio": round(
            statistics.median(cpu for cpu, _ in measured["gosvc"])
            / statistics.median(cpu for cpu, _ in measured["copier"]),
            3,
        ),
        "target_wall_ratio": f"at most {TARGET_RATIO}",
    }


def _fleet(team: Path, template: Path, root: Path, size: int) -> dict[str, object]:
    for number in range(1, size + 1):
        copy_project(team, root / f"service-{number:03}")
    command = [GOSVC, "fleet", "update", str(root), "--vcs-ref", TARGET, "--template", str(template), "--json"]
    cpu, wall = _run(command)
    shutil.rmtree(root)
    return {
        "wall_s": round(wall, 1),
        "cpu_s": round(cpu, 1),
        "seconds_per_repo": round(wall / size, 2),
        "target_seconds_per_repo": f"at most {TARGET_FLEET_SECONDS_PER_REPO}",
    }


def _run(command: list[str]) -> tuple[float, float]:
    """CPU and wall seconds of `command`, which must succeed (gosvc's 3: an update left conflicts to resolve, as
    the team's edit of the fleet's repositories does with v2)."""
    before, started = resource.getrusage(resource.RUSAGE_CHILDREN), time.monotonic()
    finished = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if finished.returncode not in (0, 3):
        raise SystemExit(f"{' '.join(command[:3])} failed ({finished.returncode}): {finished.stderr[-2000:]}")
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), wall


def _figures(times: list[tuple[float, float]]) -> dict[str, object]:
    walls, cpus = [wall for _, wall in times], [cpu for cpu, _ in times]
    return {
        "wall_s": round(statistics.median(walls), 2),
        "wall_s_spread": [round(min(walls), 2), round(max(walls), 2)],
        "cpu_s": round(statistics.median(cpus), 2),
    }


def _median_wall(times: list[tuple[float, float]]) -> float:
    return statistics.median(wall for _, wall in times)


if __name__ == "__main__":
    sys.exit(main())
