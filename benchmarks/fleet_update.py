"""Wall time of `gosvc fleet update` over many repositories, next to one plain `copier update`.

Every repository starts the same way: generated from template v1 and edited by
its team (tests/template_versions.py), then updated to v2, which crosses two
migrations (a moved file, a renamed question). Usage, from the repository root:

    python benchmarks/fleet_update.py [--repos 50] [--jobs 2]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.template_versions import build_template_versions, copy_project, make_team_project  # noqa: E402 - needs the root on sys.path

TARGET = "v2.0.0"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repos", type=int, default=50, help="repositories in the fleet (default: 50)")
    parser.add_argument("--jobs", type=int, default=2, help="updates at once (default: 2)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="gosvc-bench-") as scratch:
        work = Path(scratch)
        template = build_template_versions(work / "template")
        seed = make_team_project(template, work / "seed")
        for number in range(1, args.repos + 1):
            copy_project(seed, work / "fleet" / f"service-{number:02}")

        copier_seconds = _median(
            ["copier", "update", "--trust", "--defaults", "--quiet", "--vcs-ref", TARGET], seed, work / "copier"
        )
        gosvc_seconds = _median(
            [sys.executable, "-m", "generator", "update", "--vcs-ref", TARGET], seed, work / "gosvc"
        )

        command = [sys.executable, "-m", "generator", "fleet", "update", str(work / "fleet")]
        command += ["--jobs", str(args.jobs), "--vcs-ref", TARGET, "--template", str(template), "--json"]
        started = time.monotonic()
        finished = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
        fleet_seconds = time.monotonic() - started
        outcomes = [result["outcome"] for result in json.loads(finished.stdout)]
        shutil.rmtree(work / "fleet")

    report = {
        "repos": args.repos,
        "jobs": args.jobs,
        "updated": outcomes.count("updated"),
        "fleet_update_seconds": round(fleet_seconds, 1),
        "fleet_seconds_per_repo": round(fleet_seconds / args.repos, 2),
        "plain_copier_update_seconds_median": round(copier_seconds, 2),
        "single_gosvc_update_seconds_median": round(gosvc_seconds, 2),
    }
    print(json.dumps(report, indent=2))
    return 0 if report["updated"] == args.repos else 1


def _median(command: list[str], seed: Path, scratch: Path, samples: int = 3) -> float:
    """Median wall time of `command DEST` over fresh copies of `seed`."""
    times = []
    for sample in range(samples):
        project = copy_project(seed, scratch / str(sample))
        started = time.monotonic()
        subprocess.run([*command, str(project)], cwd=ROOT, capture_output=True, check=True)
        times.append(time.monotonic() - started)
    return statistics.median(times)


if __name__ == "__main__":
    sys.exit(main())
