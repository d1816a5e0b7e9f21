// Package telemetry sets up OpenTelemetry tracing from the standard OTEL_*
// environment variables, and puts the IDs of the current span in the logs.
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// Tracing is what the server needs to trace requests: where spans go, and how
// trace context crosses process boundaries.
type Tracing struct {
	Provider   trace.TracerProvider
	Propagator propagation.TextMapPropagator
}

// Propagator is the W3C Trace Context and Baggage propagator: an incoming
// traceparent header continues the caller's trace.
func Propagator() propagation.TextMapPropagator {
	return propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
}

// Start returns the service's Tracing and the function that exports the spans
// not yet sent and stops the exporter, which the shutdown calls within its
// deadline.
//
// Everything is configured through the standard OTEL_* variables:
// OTEL_SDK_DISABLED, OTEL_TRACES_EXPORTER (otlp or none), OTEL_TRACES_SAMPLER
// and OTEL_TRACES_SAMPLER_ARG are read with getenv, and refused with an error
// naming them when this service cannot honor them. Spans are exported only to
// a collector named by OTEL_EXPORTER_OTLP_ENDPOINT (or its _TRACES_ form): a
// local run with none set traces for the logs and sends nothing, where the
// SDK would send to https://localhost:4318 and log each failed batch. The
// OTLP exporter speaks HTTP/protobuf and reads its own variables (the
// endpoint, _HEADERS, _TIMEOUT, _COMPRESSION and their _TRACES_ forms), and
// the resource reads OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES, from the
// process environment.
func Start(ctx context.Context, getenv func(string) string, service, version string) (Tracing, func(context.Context) error, error) {
	settings, err := readSettings(getenv)
	if err != nil {
		return Tracing{}, nil, err
	}
	noFlush := func(context.Context) error { return nil }
	if settings.disabled {
		// No spans, but the trace context of incoming requests still reaches
		// the logs and the calls the service makes.
		return Tracing{Provider: noop.NewTracerProvider(), Propagator: Propagator()}, noFlush, nil
	}

	res, err := resource.New(ctx,
		resource.WithAttributes(semconv.ServiceName(service), semconv.ServiceVersion(version)),
		resource.WithFromEnv(),
		resource.WithTelemetrySDK(),
	)
	if err != nil {
		return Tracing{}, nil, fmt.Errorf("tracing resource (OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES): %w", err)
	}
	options := []sdktrace.TracerProviderOption{sdktrace.WithResource(res), sdktrace.WithSampler(settings.sampler)}
	if settings.export {
		// The exporter connects lazily: a collector that is not up yet costs
		// spans, not the start of the service.
		exporter, err := otlptracehttp.New(ctx)
		if err != nil {
			return Tracing{}, nil, fmt.Errorf("OTLP trace exporter: %w", err)
		}
		options = append(options, sdktrace.WithBatcher(exporter))
	}
	provider := sdktrace.NewTracerProvider(options...)
	return Tracing{Provider: provider, Propagator: Propagator()}, provider.Shutdown, nil
}

type settings struct {
	disabled bool
	export   bool
	sampler  sdktrace.Sampler
}

// readSettings reads the OTEL_* variables that choose what is traced and
// where it goes. The SDK would replace a bad value by its default with no more
// than a log line; a service that silently traces differently than its
// configuration says is worse than one that refuses to start.
func readSettings(getenv func(string) string) (settings, error) {
	endpoint := firstSet(getenv, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
	s := settings{export: endpoint != "", sampler: defaultSampler()}
	var errs []error
	if v := getenv("OTEL_SDK_DISABLED"); v != "" {
		disabled, err := strconv.ParseBool(v)
		if err != nil {
			errs = append(errs, invalid("OTEL_SDK_DISABLED", v, "want true or false"))
		}
		s.disabled = disabled
	}
	switch v := strings.TrimSpace(getenv("OTEL_TRACES_EXPORTER")); v {
	case "":
	case "otlp":
		if endpoint == "" {
			errs = append(errs, fmt.Errorf("OTEL_TRACES_EXPORTER=otlp needs a collector: set OTEL_EXPORTER_OTLP_ENDPOINT"))
		}
	case "none":
		s.export = false
	default:
		errs = append(errs, invalid("OTEL_TRACES_EXPORTER", v, "want otlp or none"))
	}
	for _, name := range []string{"OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"} {
		if v := strings.TrimSpace(getenv(name)); v != "" && v != "http/protobuf" {
			errs = append(errs, invalid(name, v, "this service exports over http/protobuf only"))
		}
	}
	sampler, err := readSampler(getenv)
	if err != nil {
		errs = append(errs, err)
	}
	if sampler != nil {
		s.sampler = sampler
	}
	return s, errors.Join(errs...)
}

// DefaultSampleRatio is the share of new traces kept when OTEL_TRACES_SAMPLER
// is not set: the ratio the manifests deploy, so that a run without them
// costs what production costs. A caller's decision, carried by its
// traceparent header, is followed.
const DefaultSampleRatio = 0.1

func defaultSampler() sdktrace.Sampler {
	return sdktrace.ParentBased(sdktrace.TraceIDRatioBased(DefaultSampleRatio))
}

func firstSet(getenv func(string) string, names ...string) string {
	for _, name := range names {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			return v
		}
	}
	return ""
}

// readSampler returns the sampler OTEL_TRACES_SAMPLER and
// OTEL_TRACES_SAMPLER_ARG name, or nil for the default (defaultSampler).
func readSampler(getenv func(string) string) (sdktrace.Sampler, error) {
	name := strings.ToLower(strings.TrimSpace(getenv("OTEL_TRACES_SAMPLER")))
	ratio := 1.0
	if arg := strings.TrimSpace(getenv("OTEL_TRACES_SAMPLER_ARG")); arg != "" && strings.HasSuffix(name, "traceidratio") {
		r, err := strconv.ParseFloat(arg, 64)
		if err != nil || r < 0 || r > 1 {
			return nil, invalid("OTEL_TRACES_SAMPLER_ARG", arg, "want a ratio from 0 to 1")
		}
		ratio = r
	}
	switch name {
	case "":
		return nil, nil
	case "always_on":
		return sdktrace.AlwaysSample(), nil
	case "always_off":
		return sdktrace.NeverSample(), nil
	case "traceidratio":
		return sdktrace.TraceIDRatioBased(ratio), nil
	case "parentbased_always_on":
		return sdktrace.ParentBased(sdktrace.AlwaysSample()), nil
	case "parentbased_always_off":
		return sdktrace.ParentBased(sdktrace.NeverSample()), nil
	case "parentbased_traceidratio":
		return sdktrace.ParentBased(sdktrace.TraceIDRatioBased(ratio)), nil
	}
	return nil, invalid("OTEL_TRACES_SAMPLER", name,
		"want always_on, always_off, traceidratio or their parentbased_ forms")
}

func invalid(name, value, want string) error {
	return fmt.Errorf("invalid %s %q: %s", name, value, want)
}
