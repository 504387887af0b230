package store

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
)

// migrations/NNNN_name.sql are SQLite's, migrations/postgres/NNNN_name.sql
// PostgreSQL's: the same changes under the same numbers (a test holds them
// to it), so a database of either engine at version N has the same schema.
//
//go:embed migrations/*.sql migrations/postgres/*.sql
var migrationFiles embed.FS

// migrationDir is where e's migrations are.
func (e *engine) migrationDir() string {
	if e == postgresEngine {
		return "migrations/postgres"
	}
	return "migrations"
}

type migration struct {
	version int
	name    string
	sql     string
}

// migrations returns the embedded migrations of dir in order. Names are
// NNNN_description.sql; numbers are unique and never reused.
func migrations(dir string) ([]migration, error) {
	entries, err := fs.ReadDir(migrationFiles, dir)
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		num, name, ok := strings.Cut(strings.TrimSuffix(e.Name(), ".sql"), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("store: migration file %q is not named NNNN_name.sql", e.Name())
		}
		body, err := migrationFiles.ReadFile(dir + "/" + e.Name())
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: v, name: name, sql: string(body)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	for i := 1; i < len(out); i++ {
		if out[i].version == out[i-1].version {
			return nil, fmt.Errorf("store: two migrations numbered %d", out[i].version)
		}
	}
	return out, nil
}

// SchemaVersion is the newest migration this binary knows.
func SchemaVersion() int {
	ms, err := migrations(sqliteEngine.migrationDir())
	if err != nil || len(ms) == 0 {
		return 0
	}
	return ms[len(ms)-1].version
}

// migrate applies each pending migration in its own transaction. It refuses
// a database migrated by a newer binary instead of guessing at its schema.
// On PostgreSQL it holds the migration lock throughout, so that replicas
// started together (a rolling upgrade) apply each migration once: the
// others wait, then find nothing left to do.
func (s *Store) migrate(ctx context.Context) error {
	ms, err := migrations(s.eng.migrationDir())
	if err != nil {
		return err
	}
	if s.eng == postgresEngine {
		unlock, err := s.lockMigrations(ctx)
		if err != nil {
			return err
		}
		defer unlock()
	}
	if _, err := s.write.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY,
		name TEXT NOT NULL,
		applied_at TEXT NOT NULL)`); err != nil {
		return fmt.Errorf("store: create schema_migrations: %w", err)
	}
	var current int
	if err := s.write.QueryRowContext(ctx, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations").Scan(&current); err != nil {
		return fmt.Errorf("store: read schema version: %w", err)
	}
	if known := SchemaVersion(); current > known {
		return fmt.Errorf("store: the database %s has schema version %d, newer than this Postern (%d); run the newer release or restore a backup made by this one", s.where, current, known)
	}
	for _, m := range ms {
		if m.version <= current {
			continue
		}
		err := s.withTx(ctx, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, m.sql); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
				m.version, m.name, formatTime(s.now()))
			return err
		})
		if err != nil {
			return fmt.Errorf("store: migration %04d_%s: %w", m.version, m.name, err)
		}
	}
	return nil
}
