package server

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// dependency is a readiness check's dependency that a test takes down and
// brings back.
type dependency struct {
	down atomic.Bool
}

func (d *dependency) check(context.Context) error {
	if d.down.Load() {
		return errors.New("connection refused")
	}
	return nil
}

func TestReadinessZeroValueIsNotReady(t *testing.T) {
	var readiness Readiness
	if readiness.Ready() {
		t.Error("zero Readiness is ready, want not ready")
	}
}

func TestReadinessFollowsADependencyDownAndBackUp(t *testing.T) {
	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, nil))
	var readiness Readiness
	db := &dependency{}
	readiness.Add("database", time.Second, db.check)
	readiness.SetServing(true)
	if readiness.Ready() {
		t.Fatal("ready before the check ran, want not ready")
	}

	for _, step := range []struct {
		down bool
		want bool
	}{{down: false, want: true}, {down: true, want: false}, {down: false, want: true}} {
		db.down.Store(step.down)
		readiness.runChecks(t.Context(), logger)
		if got := readiness.Ready(); got != step.want {
			t.Fatalf("dependency down=%t: ready = %t, want %t", step.down, got, step.want)
		}
	}
	for _, want := range []string{`"msg":"readiness check failed","check":"database","error":"connection refused"`, `"msg":"readiness check passed again","check":"database"`} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %s:\n%s", want, logs.String())
		}
	}
}

func TestReadinessIsOnlyAsReadyAsItsServers(t *testing.T) {
	var readiness Readiness
	readiness.Add("database", time.Second, (&dependency{}).check)
	readiness.runChecks(t.Context(), slog.New(slog.DiscardHandler))
	if readiness.Ready() {
		t.Error("ready before the servers listen, want not ready")
	}
	readiness.SetServing(true)
	readiness.SetServing(false)
	if readiness.Ready() {
		t.Error("ready once shutdown started, want not ready")
	}
}

func TestReadinessCheckThatOutlastsItsTimeoutFails(t *testing.T) {
	var readiness Readiness
	readiness.Add("slow", 10*time.Millisecond, func(ctx context.Context) error {
		<-ctx.Done()
		return nil // a client that swallows its deadline
	})
	readiness.Add("panics", time.Second, func(context.Context) error { panic("nil map") })
	readiness.SetServing(true)
	readiness.runChecks(t.Context(), slog.New(slog.DiscardHandler))

	report := readiness.Report()
	if report.Ready {
		t.Fatal("ready, want not ready")
	}
	for i, want := range []string{"took longer than 10ms", "panic: nil map"} {
		if err := report.Checks[i].Err; err == nil || err.Error() != want {
			t.Errorf("check %s: error %v, want %q", report.Checks[i].Name, err, want)
		}
	}
}

func TestReadinessRunChecksAgainUntilStopped(t *testing.T) {
	var readiness Readiness
	db := &dependency{}
	db.down.Store(true)
	readiness.Add("database", time.Second, db.check)
	readiness.SetServing(true)
	ctx, stop := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		readiness.Run(ctx, time.Millisecond, slog.New(slog.DiscardHandler))
		close(done)
	}()

	db.down.Store(false)
	deadline := time.Now().Add(5 * time.Second)
	for !readiness.Ready() {
		if time.Now().After(deadline) {
			t.Fatal("still not ready 5s after the dependency came back")
		}
		time.Sleep(time.Millisecond)
	}
	stop()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after its context was canceled")
	}
}

// TestReadinessChecksAreMetrics: each named check's latest result is
// readiness_check_passed, which the alerts on a dependency read.
func TestReadinessChecksAreMetrics(t *testing.T) {
	var readiness Readiness
	db, cache := &dependency{}, &dependency{}
	readiness.Add("database", time.Second, db.check)
	readiness.Add("cache", time.Second, cache.check)
	db.down.Store(true)
	readiness.runChecks(t.Context(), slog.New(slog.DiscardHandler))

	registry := prometheus.NewRegistry()
	registry.MustRegister(&readiness)
	families, err := registry.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	got := map[string]float64{}
	for _, family := range families {
		if family.GetName() != "readiness_check_passed" {
			continue
		}
		for _, metric := range family.GetMetric() {
			got[metric.GetLabel()[0].GetValue()] = metric.GetGauge().GetValue()
		}
	}
	if want := map[string]float64{"database": 0, "cache": 1}; len(got) != len(want) || got["database"] != 0 || got["cache"] != 1 {
		t.Errorf("readiness_check_passed = %v, want %v", got, want)
	}
}
