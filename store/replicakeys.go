package store

import (
	"context"
	"database/sql"
	"strings"

	"postern/internal/model"
)

// ReportKeys records the master key ids this replica holds, for
// postern activate-key to see that every live replica has a new key
// before it seals under it. Ids only, never key material.
func (s *Store) ReportKeys(ctx context.Context, active string, ids []string) error {
	return mapErr(s.withTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO replica_keys (replica, active_key, key_ids, seen_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (replica) DO UPDATE SET active_key = EXCLUDED.active_key, key_ids = EXCLUDED.key_ids, seen_at = EXCLUDED.seen_at`,
			s.replica, active, strings.Join(ids, " "), formatTime(s.now()))
		return err
	}), "Replica keys")
}

// ReplicaKeys lists what each replica last reported of its keyring, by
// replica name; the caller decides, by SeenAt, which are live.
func (s *Store) ReplicaKeys(ctx context.Context) ([]model.ReplicaKeys, error) {
	rows, err := s.read.QueryContext(ctx, "SELECT replica, active_key, key_ids, seen_at FROM replica_keys ORDER BY replica")
	if err != nil {
		return nil, mapErr(err, "Replica keys")
	}
	defer rows.Close()
	var out []model.ReplicaKeys
	for rows.Next() {
		var r model.ReplicaKeys
		var ids, at string
		if err := rows.Scan(&r.Replica, &r.Active, &ids, &at); err != nil {
			return nil, mapErr(err, "Replica keys")
		}
		r.KeyIDs = strings.Fields(ids)
		if r.SeenAt, err = parseTime(at); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, mapErr(rows.Err(), "Replica keys")
}
