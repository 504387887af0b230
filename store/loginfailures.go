package store

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// The login limiter's failures (login_failures) live in the database so
// that every replica counts them: a second replica buys an attacker no
// fresh attempts, and a lock-out on one is a lock-out on all. Keys arrive
// hashed (auth.Limiter); the store never sees an email or an address.
//
// Each method is one write transaction, and write transactions are
// serialized: SQLite's BEGIN IMMEDIATE on the one writer, PostgreSQL's
// transaction-level advisory lock (lockWrite) that every replica's writes
// queue on. So counting and recording an attempt is atomic across
// processes: parallel attempts, on any replicas, cannot all slip under the
// limit.

// LoginAttempt forgets every failure at or before since (the table holds
// one window), then, when max > 0, looks for a key that already has max
// failures after since: if one does, it records nothing and returns the
// failure that holds the limit (of the keys', the latest max-th most
// recent), after which the key is free again once the window has passed.
// Otherwise, when record, it counts a failure at now against every key and
// returns the zero time.
func (s *Store) LoginAttempt(ctx context.Context, keys [][]byte, max int, since, now time.Time, record bool) (time.Time, error) {
	var held time.Time
	err := s.withTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, "DELETE FROM login_failures WHERE at <= ?", formatTime(since)); err != nil {
			return err
		}
		for _, k := range keys {
			if max <= 0 {
				break
			}
			var at string
			err := tx.QueryRowContext(ctx, "SELECT at FROM login_failures WHERE key_hash = ? ORDER BY at DESC, id DESC LIMIT 1 OFFSET ?",
				k, max-1).Scan(&at)
			if errors.Is(err, sql.ErrNoRows) {
				continue
			}
			if err != nil {
				return err
			}
			t, err := parseTime(at)
			if err != nil {
				return err
			}
			if t.After(held) {
				held = t
			}
		}
		if !held.IsZero() || !record {
			return nil
		}
		for _, k := range keys {
			if _, err := tx.ExecContext(ctx, "INSERT INTO login_failures (key_hash, at) VALUES (?, ?)", k, formatTime(now)); err != nil {
				return err
			}
		}
		return nil
	})
	return held, mapErr(err, "Login failures")
}

// RefundLoginFailure takes back the most recent failure of each key.
func (s *Store) RefundLoginFailure(ctx context.Context, keys [][]byte) error {
	return mapErr(s.withTx(ctx, func(tx *sql.Tx) error {
		for _, k := range keys {
			if _, err := tx.ExecContext(ctx, `DELETE FROM login_failures WHERE id =
				(SELECT id FROM login_failures WHERE key_hash = ? ORDER BY at DESC, id DESC LIMIT 1)`, k); err != nil {
				return err
			}
		}
		return nil
	}), "Login failures")
}

// ResetLoginFailures forgets every failure of key.
func (s *Store) ResetLoginFailures(ctx context.Context, key []byte) error {
	return mapErr(s.withTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, "DELETE FROM login_failures WHERE key_hash = ?", key)
		return err
	}), "Login failures")
}
