"""Docker rebuild time after a code change, as a CI runner sees it: the layer cache is there, cache mounts
are not (a fresh runner restores layers from its registry or GitHub cache, never BuildKit's cache mounts).

Builds the generated repository of this working tree, and of an earlier release of the template (a commit
of this repository, by default the one before the module-download layer held the modules), then, for
each, rounds of: drop the builder's cache mounts, change a Go file, rebuild. Base images are pulled; on
a machine no registry answers, GOSVC_OFFLINE_STANDINS=1 builds on local stand-ins, as `gosvc check
--offline-standins` does. Usage, from the repository root, with a Docker engine running:

    [GOSVC_OFFLINE_STANDINS=1] python benchmarks/image_rebuild.py [--rounds 3] [--before COMMIT]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from generator.images.build import build_image  # noqa: E402
from generator.images.engine import Engine, find_engine  # noqa: E402 - needs the root on sys.path
from generator.images.standins import BaseImages, offline_standins  # noqa: E402
from generator.template.render import new_project  # noqa: E402
from tests.conftest import snapshot_commit, snapshot_template  # noqa: E402

BEFORE = "c9b12c834de6d50e411e3a074f7a83277a6b6dc0"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="rebuilds per Dockerfile (default: 3)")
    parser.add_argument("--before", default=BEFORE, help="the earlier release to compare with (a commit)")
    args = parser.parse_args()
    engine = find_engine()
    base_images = BaseImages(engine, standins=offline_standins())
    with tempfile.TemporaryDirectory(prefix="gosvc-bench-") as scratch:
        work = Path(scratch)
        templates = {"before": snapshot_commit(work / "before", args.before), "now": snapshot_template(work / "now")}
        report = {}
        for name, template in templates.items():
            dest = work / "services" / name / "orders-api"
            project = new_project(
                dest, {"service_name": "orders-api"}, defaults=True, template=str(template), quiet=True
            ).dest
            tag = f"gosvc-bench/orders-api:{name}"
            build_image(engine, project, tag, base_images=base_images)  # the layer cache a runner restores
            seconds = [_rebuild(engine, project, tag, base_images, round_) for round_ in range(args.rounds)]
            report[name] = {"rebuild_seconds": seconds, "median_seconds": round(statistics.median(seconds), 1)}
            engine.run("image", "rm", "--force", tag, check=False)
    report["speedup"] = round(report["before"]["median_seconds"] / report["now"]["median_seconds"], 2)
    print(json.dumps(report, indent=2))
    return 0


def _rebuild(engine: Engine, project: Path, tag: str, base_images: BaseImages, round_: int) -> float:
    engine.run("builder", "prune", "--force", "--filter", "type=exec.cachemount", timeout=120)
    handler = project / "internal" / "api" / "hello.go"
    handler.write_text(handler.read_text() + f"\n// change {round_}\n")
    return round(build_image(engine, project, tag, base_images=base_images).seconds, 1)


if __name__ == "__main__":
    sys.exit(main())
