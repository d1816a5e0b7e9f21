"""What the service options cost: requests per second and p99 latency of the generated service with tracing off
and on, each against a bare `net/http` handler measured in the same run.

Tracing on runs twice: with every trace kept (`OTEL_TRACES_SAMPLER=always_on`) and with the sampling the
generated ConfigMap sets (`parentbased_traceidratio`, 10% of new traces). Spans are exported over OTLP/HTTP to a
sink on loopback that reads and drops them, so that the batch processor and the exporter do their real work;
the report says how many exports and bytes the sink received. `hey` loads every server in turns, with the same
bounded load each time. Usage, from the repository root, after `gosvc tools install`:

    python benchmarks/service_options.py [--rounds 5] [--requests 20000] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.service_throughput import build_bare, build_service, go_build, load_in_turns  # noqa: E402
from generator.processes import free_port  # noqa: E402
from tests.conftest import snapshot_template  # noqa: E402

# The OTLP/HTTP trace endpoint of a collector that keeps nothing but counts: exports received, bytes read.
OTLP_SINK = """package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"sync/atomic"
)

func main() {
	var exports, bytes atomic.Int64
	http.HandleFunc("POST /v1/traces", func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		exports.Add(1)
		bytes.Add(n)
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.WriteHeader(http.StatusOK)
	})
	http.HandleFunc("GET /stats", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, `{"exports": %d, "bytes": %d}`, exports.Load(), bytes.Load())
	})
	_ = http.ListenAndServe("127.0.0.1:"+os.Getenv("PORT"), nil)
}
"""

DEFAULT_SAMPLING = {"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.1"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="turns per server (default: 5)")
    parser.add_argument("--requests", type=int, default=20000, help="requests per turn (default: 20000)")
    parser.add_argument("--concurrency", type=int, default=16, help="concurrent clients (default: 16)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="gosvc-bench-") as scratch:
        work = Path(scratch)
        template = snapshot_template(work / "template")
        sink_port = free_port()
        sink = _start_sink(work, sink_port)
        endpoint = {"OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{sink_port}"}
        traced = build_service(template, work / "traced", {"tracing": "otlp"})
        servers = {
            "bare net/http": (build_bare(work), {}),
            "tracing off": (build_service(template, work / "untraced"), {}),
            "tracing always_on": (traced, {**endpoint, "OTEL_TRACES_SAMPLER": "always_on"}),
            "tracing default sampling": (traced, {**endpoint, **DEFAULT_SAMPLING}),
        }
        try:
            report = load_in_turns(work, servers, args.rounds, args.requests, args.concurrency)
        finally:
            with urllib.request.urlopen(f"http://127.0.0.1:{sink_port}/stats", timeout=5) as response:
                exported = json.load(response)
            sink.terminate()
            sink.wait(timeout=30)
    bare = report["bare net/http"]
    summary = {
        "rounds": args.rounds,
        "requests_per_round": args.requests,
        "concurrency": args.concurrency,
        "servers": {
            name: {
                "requests_per_second": round(load.requests_per_second),
                "throughput_ratio_to_bare": round(load.requests_per_second / bare.requests_per_second, 3),
                "p99_ms": round(load.p99_seconds * 1000, 2),
                "p99_ratio_to_bare": round(load.p99_seconds / bare.p99_seconds, 2),
            }
            for name, load in report.items()
        },
        "otlp_sink_received": exported,
    }
    print(json.dumps(summary, indent=2))
    return 0


def _start_sink(work: Path, port: int) -> subprocess.Popen[bytes]:
    folder = work / "sink"
    folder.mkdir()
    (folder / "main.go").write_text(OTLP_SINK)
    (folder / "go.mod").write_text("module sink\n\ngo 1.25\n")
    binary = go_build(folder, "./")
    return subprocess.Popen([str(binary)], env={"PORT": str(port)})


if __name__ == "__main__":
    sys.exit(main())
