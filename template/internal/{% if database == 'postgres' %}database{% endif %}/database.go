// Package database opens the service's PostgreSQL pool, exports its
// statistics as metrics, and runs the migrations in migrations/ (see
// Migrate).
package database

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
)

// PingTimeout bounds the readiness check's ping: a database slower than
// this to answer makes the service unready.
const PingTimeout = 2 * time.Second

// connsPerCPU is how many connections the pool opens per CPU the Go runtime
// uses (GOMAXPROCS, which follows the container's CPU limit): a connection
// is held only while a query runs, so a few per CPU keep the CPUs busy
// without queueing in PostgreSQL. A pool_max_conns parameter in the DSN
// overrides it.
const connsPerCPU = 2

// minConns and maxConns bound the connections the pool opens, whatever the
// CPUs: maxConns is PostgreSQL's default max_connections, which the pools of
// every replica share.
const (
	minConns = 4
	maxConns = 100
)

// Open returns a pool of connections to the database at dsn, with its
// statistics registered on metrics. It connects lazily: a database that is
// down does not stop the service from starting (its readiness check fails
// until the database answers). Every query must run under a context with a
// deadline: one that does not is counted in
// database_queries_without_deadline_total and logged at ERROR, since it can
// hold a connection for as long as the database takes.
func Open(ctx context.Context, dsn string, logger *slog.Logger, metrics prometheus.Registerer) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgx's error can quote the DSN, password included: say only where.
		return nil, fmt.Errorf("parse the database URL: %w", redacted(err, dsn))
	}
	if !strings.Contains(dsn, "pool_max_conns") {
		conns := max(minConns, connsPerCPU*runtime.GOMAXPROCS(0))
		if conns > maxConns {
			conns = maxConns
		}
		cfg.MaxConns = int32(conns)
	}
	withoutDeadline := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "database_queries_without_deadline_total",
		Help: "Queries run under a context without a deadline (each is a bug: it can hold a connection indefinitely).",
	})
	cfg.ConnConfig.Tracer = deadlineTracer{logger: logger, counter: withoutDeadline}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open the database pool: %w", redacted(err, dsn))
	}
	if err := metrics.Register(withoutDeadline); err != nil {
		pool.Close()
		return nil, fmt.Errorf("register the database metrics: %w", err)
	}
	if err := metrics.Register(poolCollector{pool: pool}); err != nil {
		pool.Close()
		return nil, fmt.Errorf("register the database metrics: %w", err)
	}
	return pool, nil
}

// redacted is err with dsn's password, if it has one, replaced.
func redacted(err error, dsn string) error {
	cfg, parseErr := pgx.ParseConfig(dsn)
	if parseErr != nil || cfg.Password == "" {
		return fmt.Errorf("%s", strings.ReplaceAll(err.Error(), dsn, "(the database URL)"))
	}
	return fmt.Errorf("%s", strings.ReplaceAll(err.Error(), cfg.Password, "xxxxx"))
}

// deadlineTracer reports queries run without a deadline.
type deadlineTracer struct {
	logger  *slog.Logger
	counter prometheus.Counter
}

func (t deadlineTracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	if _, ok := ctx.Deadline(); !ok {
		t.counter.Inc()
		t.logger.ErrorContext(ctx, "database query without a deadline: run it under the request's context, or one from context.WithTimeout",
			slog.String("sql", firstLine(data.SQL)))
	}
	return ctx
}

func (deadlineTracer) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func firstLine(sql string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(sql), "\n")
	return line
}

// poolCollector exports the pool's statistics, read when Prometheus
// scrapes.
type poolCollector struct {
	pool *pgxpool.Pool
}

var (
	connectionsDesc = prometheus.NewDesc("database_pool_connections",
		"Connections of the pool, by state: idle, acquired (running a query) or constructing.", []string{"state"}, nil)
	maxConnectionsDesc = prometheus.NewDesc("database_pool_max_connections",
		"Most connections the pool opens.", nil, nil)
	acquiresDesc = prometheus.NewDesc("database_pool_acquires_total",
		"Connections acquired from the pool.", nil, nil)
	emptyAcquiresDesc = prometheus.NewDesc("database_pool_empty_acquires_total",
		"Acquires that waited, because no connection was idle.", nil, nil)
	emptyAcquireWaitDesc = prometheus.NewDesc("database_pool_empty_acquire_wait_seconds_total",
		"Time acquires spent waiting for a connection, because none was idle.", nil, nil)
	canceledAcquiresDesc = prometheus.NewDesc("database_pool_canceled_acquires_total",
		"Acquires given up because their context ended first.", nil, nil)
)

func (poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, desc := range []*prometheus.Desc{
		connectionsDesc, maxConnectionsDesc, acquiresDesc, emptyAcquiresDesc, emptyAcquireWaitDesc, canceledAcquiresDesc,
	} {
		ch <- desc
	}
}

func (c poolCollector) Collect(ch chan<- prometheus.Metric) {
	stat := c.pool.Stat()
	ch <- prometheus.MustNewConstMetric(connectionsDesc, prometheus.GaugeValue, float64(stat.IdleConns()), "idle")
	ch <- prometheus.MustNewConstMetric(connectionsDesc, prometheus.GaugeValue, float64(stat.AcquiredConns()), "acquired")
	ch <- prometheus.MustNewConstMetric(connectionsDesc, prometheus.GaugeValue, float64(stat.ConstructingConns()), "constructing")
	ch <- prometheus.MustNewConstMetric(maxConnectionsDesc, prometheus.GaugeValue, float64(stat.MaxConns()))
	ch <- prometheus.MustNewConstMetric(acquiresDesc, prometheus.CounterValue, float64(stat.AcquireCount()))
	ch <- prometheus.MustNewConstMetric(emptyAcquiresDesc, prometheus.CounterValue, float64(stat.EmptyAcquireCount()))
	ch <- prometheus.MustNewConstMetric(emptyAcquireWaitDesc, prometheus.CounterValue, stat.EmptyAcquireWaitTime().Seconds())
	ch <- prometheus.MustNewConstMetric(canceledAcquiresDesc, prometheus.CounterValue, float64(stat.CanceledAcquireCount()))
}
