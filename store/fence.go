package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"postern/internal/apperr"
	"postern/internal/model"
)

// ErrFenced refuses a write made for a sync leader whose term ended:
// another replica was elected since (see WithFence).
var ErrFenced = apperr.New(apperr.Conflict, "This replica is no longer the sync leader; another replica took over, so its write was refused.")

type fenceKey struct{}

// WithFence marks the writes made under ctx as the sync leader's of term
// epoch (the sync_leader row's epoch when it was elected). On PostgreSQL
// each such write transaction reads the row FOR SHARE after taking the
// write lock and is refused with ErrFenced when the epoch moved on. The
// share lock makes the two orders safe: a new leader's election waits for
// a write of the old term in flight, and a write that starts after the
// election sees the new epoch. A leader that froze and was replaced
// therefore cannot commit what it was doing. On SQLite, one process, the
// fence is not checked.
func WithFence(ctx context.Context, epoch int64) context.Context {
	return context.WithValue(ctx, fenceKey{}, epoch)
}

// checkFenceTx refuses tx when ctx carries a fence the database's leader
// row no longer matches.
func checkFenceTx(ctx context.Context, tx *sql.Tx) error {
	epoch, ok := ctx.Value(fenceKey{}).(int64)
	if !ok {
		return nil
	}
	var current int64
	err := tx.QueryRowContext(ctx, "SELECT epoch FROM sync_leader WHERE id = 1 FOR SHARE").Scan(&current)
	if errors.Is(err, sql.ErrNoRows) {
		return ErrFenced
	}
	if err != nil {
		return fmt.Errorf("store: read the sync leader's term: %w", err)
	}
	if current != epoch {
		return ErrFenced
	}
	return nil
}

// SyncLeader reads the sync leader's term as last elected; found is false
// before any election (and always on SQLite).
func (s *Store) SyncLeader(ctx context.Context) (l model.SyncLeader, found bool, err error) {
	var at string
	err = s.read.QueryRowContext(ctx, "SELECT replica, epoch, elected_at FROM sync_leader WHERE id = 1").Scan(&l.Replica, &l.Epoch, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return l, false, nil
	}
	if err != nil {
		return l, false, mapErr(err, "Sync leader")
	}
	l.ElectedAt, err = parseTime(at)
	return l, err == nil, err
}
