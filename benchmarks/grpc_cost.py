"""What the generated gRPC server costs over a hand-written grpc-go server doing the same call.

Both serve `hello.v1.HelloService/SayHello` from the same generated protobuf code, with the standard health
service: the anchor (benchmarks/anchors.py) with no interceptors, as grpc-go's examples serve; the generated
service (`api: grpc`, tracing off) with everything it adds to a call: Prometheus metrics per method, call logs
(of server errors only, by default), panic recovery, keepalive enforcement and message limits. `api: both` runs
as a third row: the same gRPC server beside the HTTP one. One Go client (LOADGEN in benchmarks/loading.py) makes
every call over one connection from concurrent workers. Usage, from the repository root, after
`gosvc tools install`:

    python benchmarks/grpc_cost.py [--rounds 5] [--requests 20000] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks import anchors  # noqa: E402 - needs the root on sys.path
from benchmarks.loading import Server, build_loadgen, build_service, generate, load_servers, run_benchmark, summary  # noqa: E402 - needs the root on sys.path
from tests.conftest import snapshot_template  # noqa: E402 - needs the root on sys.path

ANCHOR = "bare grpc-go"
# The targets for the generated service against the anchor: each ratio's bound, and whether the ratio
# must stay at or above it (rate) or at or below it (latency, CPU).
TARGETS = {"requests_per_second": (0.9, "at least"), "p99": (1.2, "at most"), "cpu_per_request": (1.15, "at most")}


def main() -> int:
    return run_benchmark(__doc__.splitlines()[0], "gRPC: generated service vs bare grpc-go", measure)


def measure(work: Path, args: argparse.Namespace) -> dict[str, object]:
    template = snapshot_template(work / "template")
    grpc = generate(template, work / "grpc", {"api": "grpc"})
    both = generate(template, work / "both", {"api": "both"})
    # The anchor can trace calls too (benchmarks/tracing_cost.py), so it is built where the tracing modules are.
    traced = generate(template, work / "traced", {"api": "grpc", "tracing": "otlp"})
    servers = {
        ANCHOR: Server(anchors.build_anchor(traced, anchors.GRPC, "anchor"), "grpc"),
        "template api=grpc": Server(build_service(grpc), "grpc"),
        "template api=both": Server(build_service(both), "grpc"),
    }
    turns, _ = load_servers(work, build_loadgen(grpc, work), servers, args)
    report = summary(turns, ANCHOR)
    ratios = report["template api=grpc"][f"ratio_to_{ANCHOR}"]
    assert isinstance(ratios, dict)
    return {
        "servers": report,
        "targets": {
            f"template api=grpc / {ANCHOR}, {figure}": {"measured": ratios[figure], "target": f"{side} {bound}"}
            for figure, (bound, side) in TARGETS.items()
        },
    }


if __name__ == "__main__":
    sys.exit(main())
