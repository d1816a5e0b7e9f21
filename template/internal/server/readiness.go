package server

import (
	"io"
	"net/http"
	"sync/atomic"
)

// Readiness records whether the service should receive traffic. It is safe
// for concurrent use. The zero value is not ready.
type Readiness struct {
	ready atomic.Bool
}

// SetReady marks the service ready or not ready.
func (r *Readiness) SetReady(ready bool) {
	r.ready.Store(ready)
}

// Ready reports whether the service is ready.
func (r *Readiness) Ready() bool {
	return r.ready.Load()
}

// handleHealthz answers liveness probes: the process is alive as long as it
// serves HTTP, including while it shuts down.
func handleHealthz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeText(w, http.StatusOK, "ok\n")
	})
}

// handleReadyz answers readiness probes: 503 until the server listens, and
// again from the moment shutdown starts. A pod that fails readiness while it
// runs is taken out of the Service's endpoints; a terminating pod is taken out
// by Kubernetes itself, whatever its readiness, and the drain delay is there
// for the load balancers that learn of that late.
func handleReadyz(readiness *Readiness) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if !readiness.Ready() {
			writeText(w, http.StatusServiceUnavailable, "not ready\n")
			return
		}
		writeText(w, http.StatusOK, "ok\n")
	})
}

// writeText writes a plain-text response. The status code goes out before
// the body: writing the body first would commit an implicit 200.
func writeText(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}
