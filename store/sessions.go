package store

import (
	"context"
	"database/sql"
	"time"
)

// Session is a server-side session row. IDHash is the SHA-256 of the cookie
// value; the value itself is never stored.
type Session struct {
	IDHash     []byte
	AdminID    int64 // 0 before sign-in
	Data       string
	CreatedAt  time.Time
	LastSeenAt time.Time
}

// Session returns the session whose id hashes to idHash.
func (s *Store) Session(ctx context.Context, idHash []byte) (Session, error) {
	var ss Session
	var admin sql.NullInt64
	var created, seen string
	err := s.read.QueryRowContext(ctx,
		"SELECT id_hash, admin_id, data, created_at, last_seen_at FROM sessions WHERE id_hash = ?", idHash).
		Scan(&ss.IDHash, &admin, &ss.Data, &created, &seen)
	if err != nil {
		return Session{}, mapErr(err, "Session")
	}
	ss.AdminID = admin.Int64
	if ss.CreatedAt, err = parseTime(created); err != nil {
		return Session{}, err
	}
	ss.LastSeenAt, err = parseTime(seen)
	return ss, err
}

// SaveSession inserts or replaces a session row.
func (s *Store) SaveSession(ctx context.Context, ss Session) error {
	var admin sql.NullInt64
	if ss.AdminID != 0 {
		admin = sql.NullInt64{Int64: ss.AdminID, Valid: true}
	}
	err := s.WithTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO sessions (id_hash, admin_id, data, created_at, last_seen_at)
			VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (id_hash) DO UPDATE SET admin_id = excluded.admin_id, data = excluded.data,
				last_seen_at = excluded.last_seen_at`,
			ss.IDHash, admin, ss.Data, formatTime(ss.CreatedAt), formatTime(ss.LastSeenAt))
		return err
	})
	return mapErr(err, "Session")
}

// DeleteSession revokes one session; deleting a missing one is not an error.
func (s *Store) DeleteSession(ctx context.Context, idHash []byte) error {
	err := s.WithTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, "DELETE FROM sessions WHERE id_hash = ?", idHash)
		return err
	})
	return mapErr(err, "Session")
}

// DeleteSessionsBefore removes sessions idle since before cutoff or created
// before absoluteCutoff; it keeps the table from growing without bound.
func (s *Store) DeleteSessionsBefore(ctx context.Context, idleCutoff, absoluteCutoff time.Time) (int64, error) {
	var n int64
	err := s.WithTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "DELETE FROM sessions WHERE last_seen_at < ? OR created_at < ?",
			formatTime(idleCutoff), formatTime(absoluteCutoff))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return n, mapErr(err, "Sessions")
}
