"""Hand-written servers the generated service is measured against: what a careful engineer would write for the
same call without the template.

Each is built inside a generated repository (as `cmd/anchor`), so that it compiles against exactly the modules
(gRPC, OpenTelemetry, the generated protobuf code) the service it is compared with uses, plus the OpenTelemetry
instrumentation library it traces with (INSTRUMENTATION), which the generated service does without. All serve what the
generated example serves: `GET /` answers `{"message": "Hello from orders-api"}`, and
`hello.v1.HelloService/SayHello` answers "Hello from orders-api".
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from benchmarks.loading import go_build
from generator.tools import Toolbox

# The instrumentation libraries the anchors trace with, at the version that requires the OpenTelemetry SDK the
# generated go.mod (Go 1.26) requires.
INSTRUMENTATION = {
    "go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp": "v0.72.0",
    "go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc": "v0.72.0",
}

# net/http with nothing but the handler.
BARE_HTTP = """package main

import (
	"encoding/json"
	"net/http"
	"os"
)

func main() {
	http.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"message": "Hello from orders-api"})
	})
	_ = http.ListenAndServe("127.0.0.1:"+os.Getenv("HTTP_PORT"), nil)
}
"""

# The same handler traced as OpenTelemetry's own examples trace one: otelhttp around the mux, the SDK's batch
# exporter over OTLP/HTTP, the sampler from OTEL_TRACES_SAMPLER (which the SDK reads), W3C propagation.
TRACED_HTTP = """package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

func main() {
	ctx := context.Background()
	exporter, err := otlptracehttp.New(ctx)
	if err != nil {
		panic(err)
	}
	provider := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exporter))
	defer func() { _ = provider.Shutdown(ctx) }()

	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"message": "Hello from orders-api"})
	})
	handler := otelhttp.NewHandler(mux, "",
		otelhttp.WithTracerProvider(provider),
		otelhttp.WithPropagators(propagation.TraceContext{}),
	)
	_ = http.ListenAndServe("127.0.0.1:"+os.Getenv("HTTP_PORT"), handler)
}
"""

# grpc-go with the generated service's proto, the standard health service, and no interceptors: the gRPC
# examples' server. With OTEL_EXPORTER_OTLP_ENDPOINT set, otelgrpc's stats handler traces every call, with the
# SDK set up as TRACED_HTTP sets it up.
GRPC = """package main

import (
	"context"
	"net"
	"os"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	hellov1 "MODULE/internal/gen/hello/v1"
)

type hello struct {
	hellov1.UnimplementedHelloServiceServer
}

func (hello) SayHello(_ context.Context, req *hellov1.SayHelloRequest) (*hellov1.SayHelloResponse, error) {
	if name := req.GetName(); name != "" {
		return &hellov1.SayHelloResponse{Message: "Hello " + name + ", from orders-api"}, nil
	}
	return &hellov1.SayHelloResponse{Message: "Hello from orders-api"}, nil
}

func main() {
	ctx := context.Background()
	var options []grpc.ServerOption
	if os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" {
		exporter, err := otlptracehttp.New(ctx)
		if err != nil {
			panic(err)
		}
		provider := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exporter))
		defer func() { _ = provider.Shutdown(ctx) }()
		options = append(options, grpc.StatsHandler(otelgrpc.NewServerHandler(
			otelgrpc.WithTracerProvider(provider),
			otelgrpc.WithPropagators(propagation.TraceContext{}),
		)))
	}
	listener, err := net.Listen("tcp", "127.0.0.1:"+os.Getenv("GRPC_PORT"))
	if err != nil {
		panic(err)
	}
	server := grpc.NewServer(options...)
	hellov1.RegisterHelloServiceServer(server, hello{})
	healthpb.RegisterHealthServer(server, health.NewServer())
	_ = server.Serve(listener)
}
"""


def build_anchor(repository: Path, source: str, name: str) -> Path:
    """`source` built as `cmd/<name>` of the generated `repository`, against its go.mod: the binary's path."""
    module = next(line for line in (repository / "go.mod").read_text().splitlines() if line.startswith("module "))
    folder = repository / "cmd" / name
    folder.mkdir(parents=True)
    (folder / "main.go").write_text(source.replace("MODULE/", module.removeprefix("module ").strip() + "/"))
    imported = [f"{path}@{version}" for path, version in INSTRUMENTATION.items() if f'"{path}"' in source]
    if imported:
        go = str(Toolbox.default().find("go"))
        subprocess.run([go, "get", *imported], cwd=repository, check=True, capture_output=True)
    return go_build(repository, f"./cmd/{name}", repository / name)
