"""Servers loaded in turns by one load generator, and what each turn cost them: the shared part of the service
benchmarks.

Every request, HTTP or gRPC, comes from LOADGEN (below), so that the figures of two servers differ by the servers
alone. The servers run side by side and take turns: each round loads every server once, the order reversed every
other round, so that neither a warm-up nor a slow spell of the machine favours one side. A turn reports the rate,
the 99th percentile of latency, and the CPU the server spent per request (user and system time from
`/proc/PID/stat`, which the load generator sharing the cores moves less than it moves the rate).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import socket
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from generator.runtime.processes import free_port
from generator.template.render import new_project
from generator.tools import Toolbox

# Requests from concurrent workers, each a GET of -url or a unary call of -method on the gRPC server at -grpc
# with an empty message (a valid encoding of any request message); prints the rate and the 99th percentile.
# Its gRPC workers share one connection, as a gRPC client does; its HTTP workers keep one connection each.
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
	var firstErr atomic.Value
	var wg sync.WaitGroup
	started := time.Now()
	for range *c {
		wg.Go(func() {
			for i := next.Add(1) - 1; i < int64(*n); i = next.Add(1) - 1 {
				begin := time.Now()
				if err := call(); err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
				}
				latencies[i] = time.Since(begin)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(started)
	if failed.Load() > 0 {
		fmt.Fprintf(os.Stderr, "%d of %d requests failed, the first: %v\\n", failed.Load(), *n, firstErr.Load())
		os.Exit(1)
	}
	slices.Sort(latencies)
	p99 := latencies[len(latencies)*99/100]
	fmt.Printf(`{"requests_per_second": %f, "p99_seconds": %f}`, float64(*n)/elapsed.Seconds(), p99.Seconds())
}
"""

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Turn:
    """One turn of load on one server."""

    requests_per_second: float
    p99_seconds: float
    cpu_seconds_per_request: float


@dataclass(frozen=True)
class Target:
    """A running server and the load generator's arguments that reach it (`-url URL` or `-grpc ADDRESS`)."""

    pid: int
    arguments: tuple[str, ...]


@dataclass(frozen=True)
class Server:
    """A server to load: its binary, the API the load generator calls on it ("http": `GET /`; "grpc":
    SayHello), and what it starts with beyond free ports."""

    binary: Path
    api: str
    env: Mapping[str, str] = field(default_factory=dict)


Measure = Callable[[Path, argparse.Namespace], dict[str, object]]


def run_benchmark(description: str, title: str, measure: Measure) -> int:
    """The command of a service benchmark: parse its options, run `measure` in a scratch folder, print its report
    as JSON and, with --chart, draw its servers' figures under `title`."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--rounds", type=int, default=5, help="turns per server (default: 5)")
    parser.add_argument("--requests", type=int, default=20000, help="requests or calls per turn (default: 20000)")
    parser.add_argument("--concurrency", type=int, default=16, help="concurrent workers (default: 16)")
    parser.add_argument("--chart", type=Path, help="also draw the servers' figures into this PNG (needs matplotlib)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="gosvc-bench-") as scratch:
        report = measure(Path(scratch), args)
    report |= {"rounds": args.rounds, "requests_per_turn": args.requests, "concurrency": args.concurrency}
    print(json.dumps(report, indent=2))
    if args.chart:
        servers = report["servers"]
        assert isinstance(servers, dict)
        draw_chart(servers, f"{title} ({os.cpu_count()} cores, {datetime.date.today()})", args.chart)
    return 0


def load_servers(
    work: Path,
    loadgen: Path,
    servers: Mapping[str, Server],
    args: argparse.Namespace,
    bystanders: Mapping[str, int] | None = None,
) -> tuple[dict[str, list[Turn]], dict[str, float]]:
    """Start every server on free ports, load them in turns (load_in_turns) as `args` say, stop them."""
    processes: list[subprocess.Popen[bytes]] = []
    try:
        targets = {}
        for index, (name, server) in enumerate(servers.items()):
            port = free_port()
            env = {"HTTP_PORT": str(free_port()), "GRPC_PORT": str(free_port()), "METRICS_PORT": str(free_port())}
            env |= {f"{server.api.upper()}_PORT": str(port), "SECRETS_DIR": str(work / "no-secrets"), **server.env}
            process = start(server.binary, work / f"run-{index}", env, port)
            processes.append(process)
            address = f"http://127.0.0.1:{port}/" if server.api == "http" else f"127.0.0.1:{port}"
            targets[name] = Target(process.pid, ("-url" if server.api == "http" else "-grpc", address))
        return load_in_turns(loadgen, targets, args.rounds, args.requests, args.concurrency, bystanders)
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=30)


def go_build(folder: Path, package: str, binary: Path | None = None) -> Path:
    """`go build` of `package` in the module at `folder`; the binary's path."""
    binary = binary or folder / "server"
    subprocess.run([str(Toolbox.default().find("go")), "build", "-o", str(binary), package], cwd=folder, check=True)
    return binary


def build_loadgen(module: Path, work: Path) -> Path:
    """LOADGEN, built against the go.mod and go.sum of `module` (a generated service with a gRPC API), so that it
    speaks the gRPC and protobuf versions the service does."""
    folder = work / "loadgen"
    folder.mkdir()
    (folder / "main.go").write_text(LOADGEN)
    lines = (module / "go.mod").read_text().splitlines()
    (folder / "go.mod").write_text(
        "\n".join("module loadgen" if line.startswith("module ") else line for line in lines)
    )
    (folder / "go.sum").write_text((module / "go.sum").read_text())
    subprocess.run([str(Toolbox.default().find("go")), "mod", "tidy"], cwd=folder, check=True, capture_output=True)
    return go_build(folder, "./")


def start(binary: Path, folder: Path, env: Mapping[str, str], port: int) -> subprocess.Popen[bytes]:
    """`binary` started in `folder` with `env` added to this environment, once it accepts connections on `port`.
    Its logs go to a file, as a container runtime writes them: a log line costs what it costs in a pod."""
    folder.mkdir(parents=True)
    with (folder / "log").open("wb") as log:
        process = subprocess.Popen([str(binary)], env={**os.environ, **env}, stdout=log, stderr=log, cwd=folder)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process
        except OSError:
            if process.poll() is not None:
                break
            time.sleep(0.05)
    process.kill()
    raise SystemExit(f"{binary} did not accept connections on port {port}; its log: {folder / 'log'}")


def process_cpu_seconds(pid: int) -> float:
    """User and system CPU seconds process `pid` has used so far (its threads included, its children not)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def load_in_turns(
    loadgen: Path,
    targets: Mapping[str, Target],
    rounds: int,
    requests: int,
    concurrency: int,
    bystanders: Mapping[str, int] | None = None,
) -> tuple[dict[str, list[Turn]], dict[str, float]]:
    """Load every target in turns for `rounds` rounds after a warm-up turn each: the turns of each target, and the
    CPU seconds per request (over every turn) of `bystanders`, processes that serve the targets (an OTLP sink)."""
    for target in targets.values():
        _turn(loadgen, target, max(requests // 5, 1), concurrency)
    bystanders = bystanders or {}
    spent_before = {name: process_cpu_seconds(pid) for name, pid in bystanders.items()}
    turns: dict[str, list[Turn]] = {name: [] for name in targets}
    for round_number in range(rounds):
        order = list(targets) if round_number % 2 == 0 else list(reversed(list(targets)))
        for name in order:
            turns[name].append(_turn(loadgen, targets[name], requests, concurrency))
    served = rounds * requests * len(targets)
    spent = {name: (process_cpu_seconds(pid) - spent_before[name]) / served for name, pid in bystanders.items()}
    return turns, spent


def _turn(loadgen: Path, target: Target, requests: int, concurrency: int) -> Turn:
    cpu_before = process_cpu_seconds(target.pid)
    completed = subprocess.run(
        [str(loadgen), *target.arguments, "-n", str(requests), "-c", str(concurrency)],
        capture_output=True,
        text=True,
    )
    cpu = process_cpu_seconds(target.pid) - cpu_before
    if completed.returncode != 0:
        raise SystemExit(f"the load generator failed on {' '.join(target.arguments)}: {completed.stderr.strip()}")
    measured = json.loads(completed.stdout)
    return Turn(measured["requests_per_second"], measured["p99_seconds"], cpu / requests)


def summary(turns: Mapping[str, list[Turn]], anchor: str) -> dict[str, dict[str, object]]:
    """Per target: the median of each figure with its spread (lowest and highest turn), and the ratios of its
    medians to those of `anchor`, a target measured in the same run."""
    base = turns[anchor]
    return {
        name: {
            "requests_per_second": _figure([t.requests_per_second for t in ts], 1, 0),
            "p99_ms": _figure([t.p99_seconds for t in ts], 1000, 2),
            "cpu_us_per_request": _figure([t.cpu_seconds_per_request for t in ts], 1e6, 1),
            f"ratio_to_{anchor}": {
                "requests_per_second": _ratio(ts, base, "requests_per_second"),
                "p99": _ratio(ts, base, "p99_seconds"),
                "cpu_per_request": _ratio(ts, base, "cpu_seconds_per_request"),
            },
        }
        for name, ts in turns.items()
    }


def _figure(values: list[float], scale: float, digits: int) -> dict[str, object]:
    return {
        "median": round(statistics.median(values) * scale, digits),
        "spread": [round(min(values) * scale, digits), round(max(values) * scale, digits)],
    }


def _ratio(turns: list[Turn], base: list[Turn], figure: str) -> float:
    def median(of: list[Turn]) -> float:
        return statistics.median(float(getattr(t, figure)) for t in of)

    return round(median(turns) / median(base), 3)


def generate(template: Path, folder: Path, answers: Mapping[str, str] | None = None) -> Path:
    """The service `orders-api` generated from `template` into `folder` with `answers`: its repository."""
    project = new_project(
        folder / "orders-api",
        {"service_name": "orders-api", **(answers or {})},
        defaults=True,
        template=str(template),
        quiet=True,
    )
    return project.dest


def build_service(repository: Path) -> Path:
    """The generated service's binary."""
    return go_build(repository, "./cmd/orders-api")


def draw_chart(servers: Mapping[str, Mapping[str, object]], title: str, path: Path) -> None:
    """A PNG at `path` of what `summary` reports: requests per second, p99 latency and CPU per request of each
    server, the median as a bar and the spread of the turns as a line through it. Needs matplotlib (the `bench`
    extra of gosvc)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    names = list(servers)
    figures = (("requests_per_second", "requests/s"), ("p99_ms", "p99 (ms)"), ("cpu_us_per_request", "CPU µs/request"))
    axes_row = pyplot.subplots(1, len(figures), figsize=(5 * len(figures), 0.45 * len(names) + 1.5), sharey=True)[1]
    for axes, (figure, label) in zip(axes_row, figures, strict=True):
        medians, lows, highs = [], [], []
        for name in names:
            value = servers[name][figure]
            assert isinstance(value, dict)
            medians.append(value["median"])
            lows.append(value["median"] - value["spread"][0])
            highs.append(value["spread"][1] - value["median"])
        axes.barh(names, medians, xerr=[lows, highs], color="#4c72b0", ecolor="#333333", capsize=3)
        axes.set_xlabel(label)
        axes.invert_yaxis()
    pyplot.suptitle(title)
    pyplot.tight_layout()
    pyplot.savefig(path, dpi=110)
    pyplot.close("all")
