package telemetry

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/propagation"
)

const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

func env(vars map[string]string) func(string) string {
	return func(name string) string { return vars[name] }
}

func TestReadSettingsRefusesWhatItCannotHonor(t *testing.T) {
	tests := []struct {
		name, value string
	}{
		{"OTEL_SDK_DISABLED", "maybe"},
		{"OTEL_TRACES_EXPORTER", "jaeger"},
		{"OTEL_TRACES_EXPORTER", "otlp,console"},
		{"OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"},
		{"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/json"},
		{"OTEL_TRACES_SAMPLER", "sometimes"},
		{"OTEL_TRACES_EXPORTER", "otlp"}, // and no endpoint
	}
	for _, tt := range tests {
		_, err := readSettings(env(map[string]string{tt.name: tt.value}))
		if err == nil || !strings.Contains(err.Error(), tt.name) {
			t.Errorf("%s=%s: error = %v, want one naming %s", tt.name, tt.value, err, tt.name)
		}
	}
	for _, arg := range []string{"1.5", "-0.1", "half"} {
		vars := map[string]string{"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": arg}
		if _, err := readSettings(env(vars)); err == nil || !strings.Contains(err.Error(), "OTEL_TRACES_SAMPLER_ARG") {
			t.Errorf("OTEL_TRACES_SAMPLER_ARG=%s: error = %v, want one naming it", arg, err)
		}
	}
}

func TestReadSettingsSampler(t *testing.T) {
	tests := []struct {
		vars map[string]string
		want string
	}{
		{map[string]string{}, "ParentBased{root:TraceIDRatioBased{0.1}"},
		{map[string]string{"OTEL_TRACES_SAMPLER": "always_off"}, "AlwaysOffSampler"},
		{map[string]string{"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.25"}, "TraceIDRatioBased{0.25}"},
		{
			map[string]string{"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.1"},
			"ParentBased{root:TraceIDRatioBased{0.1}",
		},
		// The argument of a sampler that takes none is ignored, as the SDK does.
		{map[string]string{"OTEL_TRACES_SAMPLER": "always_on", "OTEL_TRACES_SAMPLER_ARG": "half"}, "AlwaysOnSampler"},
	}
	for _, tt := range tests {
		s, err := readSettings(env(tt.vars))
		if err != nil {
			t.Errorf("%v: %v", tt.vars, err)
			continue
		}
		if got := s.sampler.Description(); !strings.HasPrefix(got, tt.want) {
			t.Errorf("%v: sampler = %s, want %s", tt.vars, got, tt.want)
		}
	}
}

func TestReadSettingsExportsOnlyToANamedCollector(t *testing.T) {
	tests := []struct {
		vars map[string]string
		want bool
	}{
		{map[string]string{}, false},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, true},
		{map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, true},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318", "OTEL_TRACES_EXPORTER": "none"}, false},
	}
	for _, tt := range tests {
		s, err := readSettings(env(tt.vars))
		if err != nil {
			t.Errorf("%v: %v", tt.vars, err)
			continue
		}
		if s.export != tt.want {
			t.Errorf("%v: export = %t, want %t", tt.vars, s.export, tt.want)
		}
	}
}

func TestStartWithoutExporterStillTraces(t *testing.T) {
	tracing, flush, err := Start(t.Context(), env(map[string]string{"OTEL_TRACES_EXPORTER": "none", "OTEL_TRACES_SAMPLER": "always_on"}), "svc", "1.0.0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = flush(context.Background()) })
	_, span := tracing.Provider.Tracer("test").Start(t.Context(), "work")
	defer span.End()
	if !span.IsRecording() || !span.SpanContext().IsValid() {
		t.Error("OTEL_TRACES_EXPORTER=none: span is not recorded, want spans with IDs for the logs")
	}
}

func TestDisabledSDKStillPropagates(t *testing.T) {
	tracing, flush, err := Start(t.Context(), env(map[string]string{"OTEL_SDK_DISABLED": "true"}), "svc", "1.0.0")
	if err != nil {
		t.Fatal(err)
	}
	if err := flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	header := http.Header{"Traceparent": []string{traceparent}}
	ctx := tracing.Propagator.Extract(t.Context(), propagation.HeaderCarrier(header))
	_, span := tracing.Provider.Tracer("test").Start(ctx, "work")
	defer span.End()
	if span.IsRecording() {
		t.Error("OTEL_SDK_DISABLED=true: span is recorded")
	}
	if got := span.SpanContext().TraceID().String(); got != "4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Errorf("trace ID = %s, want the incoming traceparent's", got)
	}
}
