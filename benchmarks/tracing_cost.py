"""What tracing costs the generated service, against the same service untraced and against hand-written servers
with the same OpenTelemetry setup.

Rows, for `GET /` over HTTP (otelhttp) and for `hello.v1.HelloService/SayHello` over gRPC (otelgrpc): the
generated service with tracing off; with tracing on at the generated ConfigMap's sampling
(`parentbased_traceidratio`, 10% of new traces) and with every trace kept (`always_on`); and a hand-written server
(benchmarks/anchors.py) with the same SDK setup (batch exporter over OTLP/HTTP, the same sampler) at each
sampling. Spans go to a sink on loopback that reads and drops them, so that the batch processor and the exporter
do their real work; the sink's CPU per request is reported apart from the servers'. Usage, from the repository
root, after `gosvc tools install`:

    python benchmarks/tracing_cost.py [--rounds 5] [--requests 20000] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks import anchors  # noqa: E402 - needs the root on sys.path
from benchmarks.loading import (  # noqa: E402 - needs the root on sys.path
    Server,
    build_loadgen,
    build_service,
    generate,
    go_build,
    load_servers,
    run_benchmark,
    start,
    summary,
)
from generator.runtime.processes import free_port  # noqa: E402 - needs the root on sys.path
from tests.conftest import snapshot_template  # noqa: E402 - needs the root on sys.path

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

SAMPLINGS = {
    "10%": {"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.1"},
    "always_on": {"OTEL_TRACES_SAMPLER": "always_on"},
}

# The targets: CPU per request of the ratio's numerator over its denominator, at most this.
TARGETS = {
    ("http template 10%", "http tracing off"): 1.15,
    ("http template 10%", "http hand-written 10%"): 1.05,
    ("grpc template 10%", "grpc tracing off"): 1.15,
    ("grpc template 10%", "grpc hand-written 10%"): 1.05,
}


def main() -> int:
    return run_benchmark(__doc__.splitlines()[0], "Tracing: generated vs hand-written otelhttp/otelgrpc", measure)


def measure(work: Path, args: argparse.Namespace) -> dict[str, object]:
    template = snapshot_template(work / "template")
    repositories = {
        "http": generate(template, work / "http"),
        "http traced": generate(template, work / "http-traced", {"tracing": "otlp"}),
        "grpc": generate(template, work / "grpc", {"api": "grpc"}),
        "grpc traced": generate(template, work / "grpc-traced", {"api": "grpc", "tracing": "otlp"}),
    }
    binaries = {name: build_service(repository) for name, repository in repositories.items()}
    http_anchor = anchors.build_anchor(repositories["http traced"], anchors.TRACED_HTTP, "anchor")
    grpc_anchor = anchors.build_anchor(repositories["grpc traced"], anchors.GRPC, "anchor")
    loadgen = build_loadgen(repositories["grpc"], work)

    sink_port = free_port()
    sink_binary = go_build(_module(work / "sink", OTLP_SINK), "./")
    sink = start(sink_binary, work / "sink-run", {"PORT": str(sink_port)}, sink_port)
    exporting = {"OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{sink_port}"}
    servers = {
        "http tracing off": Server(binaries["http"], "http"),
        "grpc tracing off": Server(binaries["grpc"], "grpc"),
    }
    for label, sampling in SAMPLINGS.items():
        servers[f"http template {label}"] = Server(binaries["http traced"], "http", exporting | sampling)
        servers[f"http hand-written {label}"] = Server(http_anchor, "http", exporting | sampling)
        servers[f"grpc template {label}"] = Server(binaries["grpc traced"], "grpc", exporting | sampling)
        servers[f"grpc hand-written {label}"] = Server(grpc_anchor, "grpc", exporting | sampling)
    try:
        turns, sink_cpu = load_servers(work, loadgen, servers, args, {"otlp sink": sink.pid})
        received = _sink_stats(sink_port)
    finally:
        sink.terminate()
        sink.wait(timeout=30)
    report = summary(turns, "http tracing off")
    return {
        "servers": report,
        "targets": {
            f"{a} / {b}, CPU per request": {"measured": round(_cpu(report, a) / _cpu(report, b), 3), "target": limit}
            for (a, b), limit in TARGETS.items()
        },
        "otlp_sink": {"cpu_us_per_request_of_every_server": round(sink_cpu["otlp sink"] * 1e6, 2), **received},
    }


def _cpu(report: dict[str, dict[str, object]], name: str) -> float:
    figure = report[name]["cpu_us_per_request"]
    assert isinstance(figure, dict)
    median: float = figure["median"]
    return median


def _module(folder: Path, source: str) -> Path:
    folder.mkdir()
    (folder / "main.go").write_text(source)
    (folder / "go.mod").write_text(f"module {folder.name}\n\ngo 1.25\n")
    return folder


def _sink_stats(port: int) -> dict[str, int]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/stats", timeout=5) as response:
        stats: dict[str, int] = json.load(response)
    return stats


if __name__ == "__main__":
    sys.exit(main())
