"""What the service options cost: requests per second and p99 latency of the generated service with tracing off
and on, and of its example call over HTTP and over gRPC, each against a bare `net/http` handler measured in the
same run.

Tracing on runs twice: with every trace kept (`OTEL_TRACES_SAMPLER=always_on`) and with the sampling the
generated ConfigMap sets (`parentbased_traceidratio`, 10% of new traces). Spans are exported over OTLP/HTTP to a
sink on loopback that reads and drops them, so that the batch processor and the exporter do their real work;
the report says how many exports and bytes the sink received. The service generated with `api: both` answers
the same greeting as `GET /` and as `hello.v1.HelloService/SayHello`.

One load generator (LOADGEN, below) sends every request, HTTP or gRPC, so that the figures differ by the
servers alone: `-n` requests from `-c` workers, in turns per server, the same bounded load each time. Its gRPC
workers share one connection, as a gRPC client does; its HTTP workers keep one connection each. Usage, from the
repository root:

    python benchmarks/service_options.py [--rounds 5] [--requests 20000] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.service_throughput import Load, build_bare, build_service, go_build, start  # noqa: E402
from generator.runtime.processes import free_port  # noqa: E402
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

# Requests from concurrent workers, each a GET of -url or a unary call of -method on the gRPC server at -grpc
# with an empty message (a valid encoding of any request message); prints the rate and the 99th percentile.
LOADGEN = """package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/emptypb"
)

func main() {
	url := flag.String("url", "", "URL to GET")
	addr := flag.String("grpc", "", "address of a gRPC server")
	method := flag.String("method", "/hello.v1.HelloService/SayHello", "gRPC method to call")
	n := flag.Int("n", 20000, "requests")
	c := flag.Int("c", 16, "concurrent workers")
	flag.Parse()

	ctx := context.Background()
	var call func() error
	if *addr != "" {
		conn, err := grpc.NewClient(*addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			panic(err)
		}
		call = func() error { return conn.Invoke(ctx, *method, &emptypb.Empty{}, &emptypb.Empty{}) }
	} else {
		client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: *c}}
		call = func() error {
			resp, err := client.Get(*url)
			if err != nil {
				return err
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("status %d", resp.StatusCode)
			}
			return nil
		}
	}
	latencies := make([]time.Duration, *n)
	var next, failed atomic.Int64
	var wg sync.WaitGroup
	started := time.Now()
	for range *c {
		wg.Go(func() {
			for i := next.Add(1) - 1; i < int64(*n); i = next.Add(1) - 1 {
				begin := time.Now()
				if call() != nil {
					failed.Add(1)
				}
				latencies[i] = time.Since(begin)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(started)
	if failed.Load() > 0 {
		fmt.Fprintf(os.Stderr, "%d of %d requests failed\\n", failed.Load(), *n)
		os.Exit(1)
	}
	slices.Sort(latencies)
	p99 := latencies[len(latencies)*99/100]
	fmt.Printf(`{"requests_per_second": %f, "p99_seconds": %f}`, float64(*n)/elapsed.Seconds(), p99.Seconds())
}
"""

DEFAULT_SAMPLING = {"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.1"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="turns per server (default: 5)")
    parser.add_argument("--requests", type=int, default=20000, help="requests per turn (default: 20000)")
    parser.add_argument("--concurrency", type=int, default=16, help="concurrent workers (default: 16)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="gosvc-bench-") as scratch:
        work = Path(scratch)
        template = snapshot_template(work / "template")
        sink_port = free_port()
        sink = _start_sink(work, sink_port)
        try:
            results, exported = _measure(work, template, sink_port, args.rounds, args.requests, args.concurrency)
        finally:
            sink.terminate()
            sink.wait(timeout=30)
    report = {
        name: Load(
            statistics.median(load.requests_per_second for load in loads),
            statistics.median(load.p99_seconds for load in loads),
        )
        for name, loads in results.items()
    }
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


def _measure(
    work: Path, template: Path, sink_port: int, rounds: int, requests: int, concurrency: int
) -> tuple[dict[str, list[Load]], dict[str, int]]:
    """Every server loaded in turns for `rounds` rounds: the loads of each, and what the OTLP sink received."""
    endpoint = {"OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{sink_port}"}
    traced = build_service(template, work / "traced", {"tracing": "otlp"})
    both = build_service(template, work / "both", {"api": "both"})
    grpc_port = free_port()
    servers = {
        "bare net/http": (build_bare(work), {}),
        "tracing off": (build_service(template, work / "untraced"), {}),
        "tracing always_on": (traced, {**endpoint, "OTEL_TRACES_SAMPLER": "always_on"}),
        "tracing default sampling": (traced, {**endpoint, **DEFAULT_SAMPLING}),
        "api both, HTTP GET /": (both, {"GRPC_PORT": str(grpc_port)}),
    }
    loadgen = _build_loadgen(work / "both" / "orders-api", work)
    processes = {name: start(binary, work / f"run-{i}", env) for i, (name, (binary, env)) in enumerate(servers.items())}
    targets = {name: ["-url", url] for name, (_, url) in processes.items()}
    targets["api both, gRPC SayHello"] = ["-grpc", f"127.0.0.1:{grpc_port}"]
    results: dict[str, list[Load]] = {name: [] for name in targets}
    try:
        for _ in range(rounds):
            for name, target in targets.items():
                results[name].append(_load(loadgen, target, requests, concurrency))
    finally:
        for process, _ in processes.values():
            process.terminate()
            process.wait(timeout=30)
    with urllib.request.urlopen(f"http://127.0.0.1:{sink_port}/stats", timeout=5) as response:
        exported: dict[str, int] = json.load(response)
    return results, exported


def _build_loadgen(service: Path, work: Path) -> Path:
    """LOADGEN, built with the gRPC and protobuf modules the generated service requires (its go.mod and go.sum)."""
    folder = work / "loadgen"
    folder.mkdir()
    (folder / "main.go").write_text(LOADGEN)
    module = (
        (service / "go.mod")
        .read_text()
        .replace(
            next(line for line in (service / "go.mod").read_text().splitlines() if line.startswith("module ")),
            "module loadgen",
        )
    )
    (folder / "go.mod").write_text(module)
    (folder / "go.sum").write_text((service / "go.sum").read_text())
    subprocess.run(["go", "mod", "tidy"], cwd=folder, check=True)
    return go_build(folder, "./")


def _load(loadgen: Path, target: list[str], requests: int, concurrency: int) -> Load:
    output = subprocess.run(
        [str(loadgen), *target, "-n", str(requests), "-c", str(concurrency)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    measured = json.loads(output)
    return Load(measured["requests_per_second"], measured["p99_seconds"])


def _start_sink(work: Path, port: int) -> subprocess.Popen[bytes]:
    folder = work / "sink"
    folder.mkdir()
    (folder / "main.go").write_text(OTLP_SINK)
    (folder / "go.mod").write_text("module sink\n\ngo 1.25\n")
    binary = go_build(folder, "./")
    return subprocess.Popen(
        [str(binary)], env={"PORT": str(port)}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


if __name__ == "__main__":
    sys.exit(main())
