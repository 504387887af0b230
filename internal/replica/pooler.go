package replica

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// ErrTransactionPooler refuses a database URL that reaches PostgreSQL
// through a pooler in transaction or statement mode (PgBouncer's
// pool_mode=transaction): it hands each transaction to any server
// connection, so the sync leader's session lock and the replicas' LISTEN
// would silently stop meaning anything.
var ErrTransactionPooler = errors.New("the database URL goes through a connection pooler in transaction or statement mode " +
	"(such as PgBouncer's pool_mode=transaction): replicas need PostgreSQL sessions of their own for the sync leader's lock " +
	"and for change notifications; point --database-url at PostgreSQL itself, or at a pooler in session mode")

// CheckSessions refuses, with ErrTransactionPooler, a URL whose client
// connections do not each keep one server session. Two client connections
// open at once always have two server processes, each the same for every
// statement; behind a transaction pooler an idle pool hands the second
// client the first one's server process, or a client gets another
// process for its next statement.
func CheckSessions(ctx context.Context, url string) error {
	a, err := connect(ctx, url, nil)
	if err != nil {
		return err
	}
	defer a.Close(context.WithoutCancel(ctx))
	b, err := connect(ctx, url, nil)
	if err != nil {
		return err
	}
	defer b.Close(context.WithoutCancel(ctx))
	var pids [3]uint32
	for i, c := range []*pgx.Conn{a, b, a} {
		if err := c.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&pids[i]); err != nil {
			return fmt.Errorf("replica: check the database sessions: %w", err)
		}
	}
	if pooled(pids[0], pids[1], pids[2]) {
		return ErrTransactionPooler
	}
	return nil
}

// pooled reports whether the server processes that answered a first
// client (a, then again), and a second client open at the same time (b)
// betray a transaction pooler.
func pooled(a, b, again uint32) bool { return a == b || a != again }
