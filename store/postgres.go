package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
)

// Advisory lock keys, fixed for every Postern sharing a database. The
// high bytes spell "postern".
const (
	// lockMigrate is held (session level) while one replica applies
	// migrations: replicas started together apply each one once.
	lockMigrate int64 = 0x706f737465726e01
	// lockWrite is taken by every write transaction (transaction level):
	// writes are serialized as SQLite's BEGIN IMMEDIATE serializes them,
	// across every replica, so the store's read-then-write transactions
	// keep the guarantees they were written for.
	lockWrite int64 = 0x706f737465726e02
)

// pgMaxConns bounds the pool: reads run in parallel, writes queue on
// lockWrite.
var pgMaxConns = max(8, 2*runtime.NumCPU())

// pgConnectTimeout bounds the first connection when the URL does not
// (connect_timeout): an unreachable host stops the start instead of
// hanging it.
const pgConnectTimeout = 10 * time.Second

// IsPostgresURL reports whether url names a PostgreSQL database
// (postgres:// or postgresql://).
func IsPostgresURL(url string) bool {
	u := strings.ToLower(url)
	return strings.HasPrefix(u, "postgres://") || strings.HasPrefix(u, "postgresql://")
}

// openPostgres connects to the PostgreSQL database at url and applies
// pending migrations. Errors name the host, port, database and user and
// the driver's reason, never the password.
func openPostgres(ctx context.Context, url string, opts Options) (*Store, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("store: the database URL is not a valid PostgreSQL URL: %s", redactedReason(err, passwordOf(url)))
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = pgConnectTimeout
	}
	liveness(cfg)
	where := fmt.Sprintf("PostgreSQL at %s, database %q as %q", net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port))), cfg.Database, cfg.User)
	db := sql.OpenDB(rebindConnector{stdlib.GetConnector(*cfg)})
	db.SetMaxOpenConns(pgMaxConns)
	db.SetMaxIdleConns(pgMaxConns)
	db.SetConnMaxIdleTime(5 * time.Minute)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: cannot connect to %s: %s", where, redactedReason(err, cfg.Password, passwordOf(url)))
	}
	s := &Store{where: where, eng: postgresEngine, write: db, read: db, replica: opts.Replica, now: func() time.Time { return opts.Now().UTC() },
		sets: newCheckSets()}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("%w (%s)", err, where)
	}
	return s, nil
}

// sessionDefaults bound how long a replica that froze or lost its
// network keeps what its session holds. A transaction left open ends
// after idleInTransaction (it holds the write lock every replica queues
// on, and a term's fence); the server drops a session whose client stops
// answering TCP keepalives after about 25 s. A URL's own settings win.
var sessionDefaults = map[string]string{
	"idle_in_transaction_session_timeout": "15s",
	"tcp_keepalives_idle":                 "10",
	"tcp_keepalives_interval":             "5",
	"tcp_keepalives_count":                "3",
}

// liveness applies sessionDefaults and has the client probe its side of
// the connection as often, so that a server that vanished is noticed too.
func liveness(cfg *pgx.ConnConfig) {
	for k, v := range sessionDefaults {
		if _, ok := cfg.RuntimeParams[k]; !ok {
			cfg.RuntimeParams[k] = v
		}
	}
	d := &net.Dialer{KeepAliveConfig: net.KeepAliveConfig{Enable: true, Idle: 10 * time.Second, Interval: 5 * time.Second, Count: 3}}
	cfg.DialFunc = d.DialContext
}

// redactedReason is the driver's reason for err, without the connection
// details it may repeat and without password.
func redactedReason(err error, passwords ...string) string {
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) && ce.Unwrap() != nil {
		err = ce.Unwrap()
	}
	msg := err.Error()
	for _, pw := range passwords {
		if pw != "" {
			msg = strings.ReplaceAll(msg, pw, "********")
		}
	}
	return msg
}

// passwordOf is the password in url as written (percent-encoded or not),
// found without parsing it, so that a URL that fails to parse cannot leak
// it either.
func passwordOf(url string) string {
	_, rest, ok := strings.Cut(url, "://")
	if !ok {
		return ""
	}
	if at := strings.LastIndex(rest, "@"); at >= 0 {
		if _, pw, ok := strings.Cut(rest[:at], ":"); ok {
			return pw
		}
	}
	return ""
}

// lockWriteTx queues tx behind every other write, on every replica
// (lockWrite); the lock ends with the transaction.
func lockWriteTx(ctx context.Context, tx *sql.Tx) error {
	_, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock(?)", lockWrite)
	return err
}

// lockMigrations holds lockMigrate on a connection of its own until the
// returned function releases it.
func (s *Store) lockMigrations(ctx context.Context) (func(), error) {
	conn, err := s.write.Conn(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock(?)", lockMigrate); err != nil {
		conn.Close()
		return nil, fmt.Errorf("store: wait for the migration lock: %w", err)
	}
	return func() {
		conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock(?)", lockMigrate)
		conn.Close()
	}, nil
}
