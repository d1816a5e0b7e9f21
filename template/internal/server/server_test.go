package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func newTestServer(t *testing.T) (http.Handler, *Readiness) {
	t.Helper()
	readiness := &Readiness{}
	readiness.SetReady(true)
	return NewServer(slog.New(slog.DiscardHandler), "1.2.3", readiness), readiness
}

func do(t *testing.T, h http.Handler, method, target string) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequestWithContext(t.Context(), method, target, nil))
	return rec
}

func TestHealthz(t *testing.T) {
	h, readiness := newTestServer(t)
	for _, ready := range []bool{true, false} {
		readiness.SetReady(ready)
		rec := do(t, h, http.MethodGet, "/healthz")
		if rec.Code != http.StatusOK || rec.Body.String() != "ok\n" {
			t.Errorf("ready=%t: GET /healthz = %d %q, want 200 \"ok\\n\"", ready, rec.Code, rec.Body)
		}
	}
}

func TestReadyz(t *testing.T) {
	h, readiness := newTestServer(t)

	rec := do(t, h, http.MethodGet, "/readyz")
	if rec.Code != http.StatusOK || rec.Body.String() != "ok\n" {
		t.Errorf("ready: GET /readyz = %d %q, want 200 \"ok\\n\"", rec.Code, rec.Body)
	}

	readiness.SetReady(false)
	rec = do(t, h, http.MethodGet, "/readyz")
	if rec.Code != http.StatusServiceUnavailable || rec.Body.String() != "not ready\n" {
		t.Errorf("not ready: GET /readyz = %d %q, want 503 \"not ready\\n\"", rec.Code, rec.Body)
	}
	if got := rec.Header().Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", got)
	}
}

func TestReadinessZeroValueIsNotReady(t *testing.T) {
	var readiness Readiness
	if readiness.Ready() {
		t.Error("zero Readiness is ready, want not ready")
	}
}

func TestHello(t *testing.T) {
	h, _ := newTestServer(t)
	rec := do(t, h, http.MethodGet, "/")
	if rec.Code != http.StatusOK {
		t.Fatalf("GET / = %d, want 200", rec.Code)
	}
	var body struct {
		Message string `json:"message"`
	}
	if err := json.NewDecoder(rec.Body).Decode(&body); err != nil || body.Message == "" {
		t.Errorf("GET / body = %+v (decode error %v), want a message", body, err)
	}
}

func TestMetrics(t *testing.T) {
	h, _ := newTestServer(t)
	do(t, h, http.MethodGet, "/")
	do(t, h, http.MethodGet, "/")
	do(t, h, http.MethodGet, "/healthz")
	do(t, h, http.MethodGet, "/nope/123")
	do(t, h, http.MethodPost, "/healthz")
	do(t, h, "BREW", "/")

	rec := do(t, h, http.MethodGet, "/metrics")
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /metrics = %d, want 200", rec.Code)
	}
	metrics := rec.Body.String()
	for _, want := range []string{
		`http_requests_total{code="200",method="GET",route="/"} 2`,
		`http_requests_total{code="200",method="GET",route="/healthz"} 1`,
		`http_requests_total{code="404",method="GET",route="unmatched"} 1`,
		`http_requests_total{code="405",method="POST",route="unmatched"} 1`,
		`http_requests_total{code="405",method="other",route="unmatched"} 1`,
		`# TYPE http_request_duration_seconds histogram`,
		`http_request_duration_seconds_count{code="200",method="GET",route="/"} 2`,
		`http_request_duration_seconds_bucket{code="404",method="GET",route="unmatched",le="+Inf"} 1`,
		`build_info{version="1.2.3"} 1`,
		`go_build_info{`,
		`go_goroutines `,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	for _, unwanted := range []string{"/nope", "BREW"} {
		if strings.Contains(metrics, unwanted) {
			t.Errorf("metrics contain %q from a request: label values must not come from clients", unwanted)
		}
	}
}

func TestMetricsAreNotShared(t *testing.T) {
	first, _ := newTestServer(t)
	second, _ := newTestServer(t)
	do(t, first, http.MethodGet, "/")

	metrics := do(t, second, http.MethodGet, "/metrics").Body.String()
	if strings.Contains(metrics, `route="/"`) {
		t.Error("a request to one server shows in the metrics of another")
	}
}

func TestRouteLabel(t *testing.T) {
	tests := map[string]string{
		"":                           "unmatched",
		"GET /{$}":                   "/",
		"GET /healthz":               "/healthz",
		"/static/":                   "/static/",
		"POST /orders/{id}/items":    "/orders/{id}/items",
		"DELETE \t/orders/{id...}":   "/orders/{id...}",
		"GET api.example.com/status": "/status",
		"api.example.com/v1/{$}":     "/v1/",
	}
	for pattern, want := range tests {
		if got := routeLabel(pattern); got != want {
			t.Errorf("routeLabel(%q) = %q, want %q", pattern, got, want)
		}
	}
}

func TestLogRequests(t *testing.T) {
	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h := NewServer(logger, "1.2.3", &Readiness{})

	do(t, h, http.MethodGet, "/")
	do(t, h, http.MethodGet, "/readyz")

	type record struct {
		Level  string `json:"level"`
		Msg    string `json:"msg"`
		Method string `json:"method"`
		Path   string `json:"path"`
		Route  string `json:"route"`
		Status int    `json:"status"`
	}
	want := []record{
		{Level: "INFO", Msg: "request", Method: "GET", Path: "/", Route: "/", Status: http.StatusOK},
		{Level: "DEBUG", Msg: "request", Method: "GET", Path: "/readyz", Route: "/readyz", Status: http.StatusServiceUnavailable},
	}
	dec := json.NewDecoder(&logs)
	for i, w := range want {
		var got record
		if err := dec.Decode(&got); err != nil {
			t.Fatalf("log record %d: %v", i, err)
		}
		if got != w {
			t.Errorf("log record %d = %+v, want %+v", i, got, w)
		}
	}
}

func TestRecoverPanics(t *testing.T) {
	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, nil))
	h := recoverPanics(logger, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic("boom")
	}))

	rec := do(t, h, http.MethodGet, "/")
	if rec.Code != http.StatusInternalServerError {
		t.Errorf("status = %d, want 500", rec.Code)
	}
	if !strings.Contains(logs.String(), `"panic":"boom"`) {
		t.Errorf("logs lack the panic value: %s", logs.String())
	}
}

func TestRecoverPanicsPassesOnAbort(t *testing.T) {
	h := recoverPanics(slog.New(slog.DiscardHandler), http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic(http.ErrAbortHandler)
	}))
	defer func() {
		if v, _ := recover().(error); !errors.Is(v, http.ErrAbortHandler) {
			t.Errorf("recovered %v, want http.ErrAbortHandler", v)
		}
	}()
	do(t, h, http.MethodGet, "/")
}

func TestStatusRecorder(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
		want    int
	}{
		{"nothing written", func(http.ResponseWriter, *http.Request) {}, http.StatusOK},
		{"body only", func(w http.ResponseWriter, _ *http.Request) {
			_, _ = io.WriteString(w, "hi")
		}, http.StatusOK},
		{"status before body", func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusTeapot)
			_, _ = io.WriteString(w, "hi")
		}, http.StatusTeapot},
		{"informational first", func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusEarlyHints)
			w.WriteHeader(http.StatusCreated)
		}, http.StatusCreated},
		{"flush", func(w http.ResponseWriter, _ *http.Request) {
			w.(http.Flusher).Flush()
		}, http.StatusOK},
		{"response controller", func(w http.ResponseWriter, _ *http.Request) {
			if err := http.NewResponseController(w).Flush(); err != nil {
				t.Errorf("flush through ResponseController: %v", err)
			}
		}, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &statusRecorder{ResponseWriter: httptest.NewRecorder()}
			tt.handler(rec, httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/", nil))
			if got := rec.Status(); got != tt.want {
				t.Errorf("Status() = %d, want %d", got, tt.want)
			}
		})
	}
}
