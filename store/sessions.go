package store

import (
	"context"
	"database/sql"
	"time"

	"postern/internal/audit"
	"postern/internal/model"
)

// Session returns the session whose id hashes to idHash.
func (s *Store) Session(ctx context.Context, idHash []byte) (model.Session, error) {
	var ss model.Session
	var admin sql.NullInt64
	var created, seen string
	err := s.read.QueryRowContext(ctx,
		"SELECT id_hash, admin_id, data, created_at, last_seen_at FROM sessions WHERE id_hash = ?", idHash).
		Scan(&ss.IDHash, &admin, &ss.Data, &created, &seen)
	if err != nil {
		return model.Session{}, mapErr(err, "model.Session")
	}
	ss.AdminID = admin.Int64
	if ss.CreatedAt, err = parseTime(created); err != nil {
		return model.Session{}, err
	}
	ss.LastSeenAt, err = parseTime(seen)
	return ss, err
}

// InsertSession stores a new session row.
func (s *Store) InsertSession(ctx context.Context, ss model.Session) error {
	err := s.withTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO sessions (id_hash, admin_id, data, created_at, last_seen_at)
			VALUES (?, ?, ?, ?, ?)`,
			ss.IDHash, nullAdmin(ss.AdminID), ss.Data, formatTime(ss.CreatedAt), formatTime(ss.LastSeenAt))
		return err
	})
	return mapErr(err, "model.Session")
}

// UpdateSession rewrites an existing session's data and last activity. It
// never creates a row: a session revoked meanwhile (sign-out, password
// change) stays revoked, and UpdateSession reports NotFound.
func (s *Store) UpdateSession(ctx context.Context, ss model.Session) error {
	err := s.withTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "UPDATE sessions SET admin_id = ?, data = ?, last_seen_at = ? WHERE id_hash = ?",
			nullAdmin(ss.AdminID), ss.Data, formatTime(ss.LastSeenAt), ss.IDHash)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return sql.ErrNoRows
		}
		return nil
	})
	return mapErr(err, "model.Session")
}

// TouchSession records activity on a session without changing its data.
func (s *Store) TouchSession(ctx context.Context, idHash []byte, at time.Time) error {
	err := s.withTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, "UPDATE sessions SET last_seen_at = ? WHERE id_hash = ?", formatTime(at), idHash)
		return err
	})
	return mapErr(err, "model.Session")
}

func nullAdmin(id int64) sql.NullInt64 {
	return sql.NullInt64{Int64: id, Valid: id != 0}
}

// DeleteSession revokes one session; deleting a missing one is not an error.
func (s *Store) DeleteSession(ctx context.Context, idHash []byte) error {
	err := s.withTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, "DELETE FROM sessions WHERE id_hash = ?", idHash)
		return err
	})
	return mapErr(err, "model.Session")
}

// DeleteSessionsBefore removes sessions idle since before cutoff or created
// before absoluteCutoff; it keeps the table from growing without bound.
func (s *Store) DeleteSessionsBefore(ctx context.Context, idleCutoff, absoluteCutoff time.Time) (int64, error) {
	var n int64
	err := s.withTx(ctx, func(tx *sql.Tx) error {
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

// AdminSessions lists the signed-in sessions of admin id, the most
// recently seen first.
func (s *Store) AdminSessions(ctx context.Context, adminID int64) ([]model.Session, error) {
	return collect(ctx, s.read, "model.Session",
		"SELECT id_hash, admin_id, data, created_at, last_seen_at FROM sessions WHERE admin_id = ? ORDER BY last_seen_at DESC",
		[]any{adminID}, func(r scanner) (model.Session, error) {
			var ss model.Session
			var admin sql.NullInt64
			var created, seen string
			if err := r.Scan(&ss.IDHash, &admin, &ss.Data, &created, &seen); err != nil {
				return ss, err
			}
			ss.AdminID = admin.Int64
			var err error
			if ss.CreatedAt, err = parseTime(created); err != nil {
				return ss, err
			}
			ss.LastSeenAt, err = parseTime(seen)
			return ss, err
		})
}

// EndAdminSessions deletes the sessions of admin adminID whose id hashes
// are in idHashes (nil: all of them) and records e, in one transaction.
// Only that admin's sessions are ever deleted: a hash of another admin's
// session matches nothing. It returns how many ended.
func (s *Store) EndAdminSessions(ctx context.Context, adminID int64, idHashes [][]byte, e audit.Entry) (int, error) {
	n := 0
	err := s.withTx(ctx, func(tx *sql.Tx) error {
		if idHashes == nil {
			res, err := tx.ExecContext(ctx, "DELETE FROM sessions WHERE admin_id = ?", adminID)
			if err != nil {
				return err
			}
			k, _ := res.RowsAffected()
			n = int(k)
		}
		for _, h := range idHashes {
			res, err := tx.ExecContext(ctx, "DELETE FROM sessions WHERE admin_id = ? AND id_hash = ?", adminID, h)
			if err != nil {
				return err
			}
			k, _ := res.RowsAffected()
			n += int(k)
		}
		return appendAuditTx(ctx, tx, e, s.now())
	})
	return n, mapErr(err, "model.Session")
}
