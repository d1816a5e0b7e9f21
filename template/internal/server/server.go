// Package server assembles the service's HTTP handler: the platform routes
// (health, readiness, metrics), the API routes from package api, and the
// middleware that logs and instruments every request.
package server

import (
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
)

// NewServer returns the service's HTTP handler. version is reported by the
// build_info metric; readiness decides what GET /readyz answers.
//
// Every call builds its own Prometheus registry, so handlers created in
// tests never share metrics.
func NewServer(logger *slog.Logger, version string, readiness *Readiness) http.Handler {
	registry := prometheus.NewRegistry()
	metrics := newMetrics(registry, version)

	mux := http.NewServeMux()
	addRoutes(mux, logger, registry, readiness)

	// The middleware must hand the same *http.Request to the mux: it reads
	// the matched pattern from r.Pattern, which the mux sets on the request.
	var handler http.Handler = mux
	handler = recoverPanics(logger, handler)
	handler = metrics.instrument(handler)
	handler = logRequests(logger, handler)
	return handler
}
