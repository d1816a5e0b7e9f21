"""CPU seconds of `gosvc new` and `gosvc update`, compiling every template (an empty compiled-template cache, as
every run was before templates were kept) against rendering from the kept compiled code, in one run.

Each command runs `--runs` times per side, in a fresh process, with the compiled-template cache pointed at a
folder of its own: emptied before every run for the cold side, filled by one unmeasured run for the warm side.
CPU is gosvc's and its children's (git), from getrusage; wall seconds beside. Usage, from the repository root:

    python benchmarks/render_cost.py [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import os
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="measured runs per command and side (default: 5)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="gosvc-bench-") as scratch:
        work = Path(scratch)
        template = build_template_versions(work / "template")
        team = make_team_project(template, work / "team")
        counter = iter(range(1_000_000))

        def new() -> list[str]:
            return [GOSVC, "new", str(work / "new" / str(next(counter)) / "orders-api"), "--defaults", "--template",
                    str(template), "--vcs-ref", "v1.0.0"]  # fmt: skip

        def update() -> list[str]:
            project = copy_project(team, work / "update" / str(next(counter)) / "orders-api")
            return [GOSVC, "update", str(project), "--vcs-ref", "v2.0.0", "--json"]

        report = {
            name: _compare(command, args.runs, work / "cache" / name)
            for name, command in (("gosvc new", new), ("gosvc update", update))
        }
    print(json.dumps(report, indent=2))
    return 0


def _compare(command: Callable[[], list[str]], runs: int, cache: Path) -> dict[str, object]:
    cold = [_measure(command(), cache, empty=True) for _ in range(runs)]
    _measure(command(), cache, empty=False)  # fills the cache
    warm = [_measure(command(), cache, empty=False) for _ in range(runs)]
    cpu_cold = statistics.median(cpu for cpu, _ in cold)
    cpu_warm = statistics.median(cpu for cpu, _ in warm)
    return {
        "cold_cpu_s": round(cpu_cold, 2),
        "warm_cpu_s": round(cpu_warm, 2),
        "warm_over_cold_cpu": round(cpu_warm / cpu_cold, 2),
        "cold_wall_s": round(statistics.median(wall for _, wall in cold), 2),
        "warm_wall_s": round(statistics.median(wall for _, wall in warm), 2),
    }


def _measure(command: list[str], cache: Path, *, empty: bool) -> tuple[float, float]:
    if empty:
        shutil.rmtree(cache, ignore_errors=True)
    environment = {**os.environ, "XDG_CACHE_HOME": str(cache)}
    before, started = resource.getrusage(resource.RUSAGE_CHILDREN), time.monotonic()
    finished = subprocess.run(command, capture_output=True, text=True, env=environment, check=False)
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if finished.returncode not in (0, 3):  # 3: the team's edit conflicts with v2, as the fleet benchmark's does
        raise SystemExit(f"{' '.join(command[:2])} failed ({finished.returncode}): {finished.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, wall


if __name__ == "__main__":
    sys.exit(main())
