package database

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// migrations are the SQL migrations the binary carries, applied in the order
// of their version prefix. Each file holds both directions, between
// "-- +goose Up" and "-- +goose Down", and runs in a transaction of its own.
//
//go:embed migrations/*.sql
var migrations embed.FS

// Migration commands, the arguments of the migrate command.
const (
	MigrateUp     = "up"     // apply every pending migration
	MigrateDown   = "down"   // revert the newest applied migration
	MigrateStatus = "status" // list each migration and whether it is applied
)

// lockPollSeconds and lockAttempts bound the wait for the migration lock:
// replicas starting at once each run the migrations, one at a time, and
// those that come after find nothing left to do.
const (
	lockPollSeconds = 1
	lockAttempts    = 300
)

// Migrate runs a migration command on the database at dsn and writes what it
// did to out. It holds a PostgreSQL advisory lock while it works, so that
// several processes running it at once apply each migration once.
func Migrate(ctx context.Context, dsn, command string, out io.Writer) error {
	if command != MigrateUp && command != MigrateDown && command != MigrateStatus {
		return fmt.Errorf("unknown migrate command %q: want %s, %s or %s", command, MigrateUp, MigrateDown, MigrateStatus)
	}
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return fmt.Errorf("parse the database URL: %w", redacted(err, dsn))
	}
	db := stdlib.OpenDB(*cfg)
	defer db.Close()
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockTimeout(lockPollSeconds, lockAttempts))
	if err != nil {
		return fmt.Errorf("migration lock: %w", err)
	}
	files, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	provider, err := goose.NewProvider(goose.DialectPostgres, db, files, goose.WithSessionLocker(locker))
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	switch command {
	case MigrateUp:
		results, err := provider.Up(ctx)
		for _, result := range results {
			fmt.Fprintln(out, result)
		}
		if len(results) == 0 && err == nil {
			fmt.Fprintln(out, "no migration pending")
		}
		return migrationError(err)
	case MigrateDown:
		result, err := provider.Down(ctx)
		if result != nil {
			fmt.Fprintln(out, result)
		}
		if errors.Is(err, goose.ErrNoNextVersion) {
			return errors.New("migrate down: no migration is applied")
		}
		return migrationError(err)
	default:
		statuses, err := provider.Status(ctx)
		if err != nil {
			return migrationError(err)
		}
		for _, status := range statuses {
			applied := ""
			if status.State == goose.StateApplied {
				applied = status.AppliedAt.UTC().Format("2006-01-02 15:04:05Z")
			}
			fmt.Fprintf(out, "%-8s %-20s %s\n", status.State, applied, path.Base(status.Source.Path))
		}
		return nil
	}
}

// migrationError names the migration that failed, which goose's
// PartialError carries beside the database's error.
func migrationError(err error) error {
	var partial *goose.PartialError
	if errors.As(err, &partial) && partial.Failed != nil {
		return fmt.Errorf("migration %s failed: %w", path.Base(partial.Failed.Source.Path), partial.Err)
	}
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	return nil
}
