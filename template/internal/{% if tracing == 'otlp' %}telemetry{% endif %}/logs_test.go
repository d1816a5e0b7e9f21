package telemetry

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

func TestLogHandlerAddsTheSpanIDs(t *testing.T) {
	var out bytes.Buffer
	logger := slog.New(LogHandler(slog.NewJSONHandler(&out, nil))).With(slog.String("component", "test"))
	provider := sdktrace.NewTracerProvider()
	ctx, span := provider.Tracer("test").Start(t.Context(), "work")
	defer span.End()

	logger.InfoContext(ctx, "in a span")
	var record map[string]any
	if err := json.Unmarshal(out.Bytes(), &record); err != nil {
		t.Fatal(err)
	}
	if got, want := record["trace_id"], span.SpanContext().TraceID().String(); got != want {
		t.Errorf("trace_id = %v, want %s", got, want)
	}
	if got, want := record["span_id"], span.SpanContext().SpanID().String(); got != want {
		t.Errorf("span_id = %v, want %s", got, want)
	}
	if record["component"] != "test" {
		t.Errorf("record lost the logger's attributes: %v", record)
	}

	out.Reset()
	logger.InfoContext(t.Context(), "outside any span")
	if bytes.Contains(out.Bytes(), []byte("trace_id")) {
		t.Errorf("record outside a span has a trace_id: %s", out.String())
	}
}
