package store

import (
	"context"
	"database/sql"

	"postern/internal/model"
)

// changeTx is withTx for a write that changes what the replicas serve
// from memory: on PostgreSQL it notifies the others of kind in the same
// transaction, so that the notification goes out when, and only if, the
// change commits. On SQLite, one process, there is no one to tell.
func (s *Store) changeTx(ctx context.Context, kind string, fn func(tx *sql.Tx) error) error {
	return s.withTx(ctx, func(tx *sql.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		return s.notifyTx(ctx, tx, kind)
	})
}

// notifyTx queues a notification of kind, sent when tx commits.
func (s *Store) notifyTx(ctx context.Context, tx *sql.Tx, kind string) error {
	if s.eng != postgresEngine {
		return nil
	}
	_, err := tx.ExecContext(ctx, notifySQL, model.ChangesChannel, s.change(kind))
	return err
}

// notifySQL sends a notification on a channel with a payload.
const notifySQL = "SELECT pg_notify(?, ?)"

// change is the payload of this replica's change of kind.
func (s *Store) change(kind string) string {
	return model.Change{Kind: kind, Replica: s.replica}.Payload()
}

// Notify tells the other replicas of a change that wrote nothing shared,
// such as an admin's Sync now on a replica that does not run the sync.
func (s *Store) Notify(ctx context.Context, kind string) error {
	if s.eng != postgresEngine {
		return nil
	}
	_, err := s.write.ExecContext(ctx, notifySQL, model.ChangesChannel, s.change(kind))
	return mapErr(err, "Notification")
}

// NotifyEveryReplica is Notify from a command rather than a replica: the
// change names no replica, so every replica handles it, the one that
// shares this command's replica name (on the same host) included.
func (s *Store) NotifyEveryReplica(ctx context.Context, kind string) error {
	if s.eng != postgresEngine {
		return nil
	}
	_, err := s.write.ExecContext(ctx, notifySQL, model.ChangesChannel, model.Change{Kind: kind}.Payload())
	return mapErr(err, "Notification")
}
