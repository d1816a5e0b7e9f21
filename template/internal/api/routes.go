// Package api is the service's own HTTP API.
package api

import (
	"log/slog"
	"net/http"
)

// AddRoutes registers the API's routes on mux. The server calls it once at
// startup, next to its own /healthz, /readyz and /metrics routes.
//
// Every route registered here is logged and counted in the
// http_requests_total and http_request_duration_seconds metrics, labeled
// with the path of its pattern. Use wildcards for variable segments, as in
// "GET /orders/{id}", so that the label stays one value per route.
func AddRoutes(mux *http.ServeMux, logger *slog.Logger) {
	mux.Handle("GET /{$}", handleHello(logger))
}
