package server

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// unmatchedRoute is the route label of requests that matched no pattern.
const unmatchedRoute = "unmatched"

type metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// newMetrics registers the runtime, process and build collectors and the
// HTTP request metrics on registry.
func newMetrics(registry *prometheus.Registry, version string) *metrics {
	registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewBuildInfoCollector(),
	)
	factory := promauto.With(registry)
	factory.NewGauge(prometheus.GaugeOpts{
		Name:        "build_info",
		Help:        "Always 1, labeled with the version of the running binary.",
		ConstLabels: prometheus.Labels{"version": version},
	}).Set(1)

	labels := []string{"code", "method", "route"}
	return &metrics{
		requests: factory.NewCounterVec(prometheus.CounterOpts{
			Name: "http_requests_total",
			Help: "HTTP requests served, by status code, method and route.",
		}, labels),
		duration: factory.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "http_request_duration_seconds",
			Help:    "Time to serve HTTP requests, by status code, method and route.",
			Buckets: prometheus.DefBuckets,
		}, labels),
	}
}

// instrument counts and times every request that next serves.
func (m *metrics) instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)

		labels := prometheus.Labels{
			"code":   strconv.Itoa(rec.Status()),
			"method": methodLabel(r.Method),
			"route":  routeLabel(r.Pattern),
		}
		m.requests.With(labels).Inc()
		m.duration.With(labels).Observe(time.Since(start).Seconds())
	})
}

// routeLabel turns the ServeMux pattern that matched a request into its
// route label: the pattern's path without method or host, so that
// "GET /orders/{id}" becomes "/orders/{id}". The {$} that anchors a pattern
// to the end of the path is dropped: "GET /{$}" becomes "/". Requests that
// matched no pattern (404 and 405 from the mux) share the route "unmatched",
// so that clients cannot create a time series per path they make up.
func routeLabel(pattern string) string {
	if pattern == "" {
		return unmatchedRoute
	}
	if i := strings.IndexAny(pattern, " \t"); i >= 0 {
		pattern = strings.TrimLeft(pattern[i:], " \t")
	}
	if i := strings.IndexByte(pattern, '/'); i > 0 {
		pattern = pattern[i:]
	}
	return strings.TrimSuffix(pattern, "{$}")
}

// methodLabel keeps the method label bounded: net/http accepts any token as
// a method, so methods outside RFC 9110 are counted as "other".
func methodLabel(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodConnect, http.MethodOptions, http.MethodTrace:
		return method
	}
	return "other"
}
