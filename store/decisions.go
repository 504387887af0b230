package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"strings"
	"time"

	"postern/internal/model"
)

// AppendDecisions writes a batch of recorded enforcement decisions in one
// transaction (the decision log's flusher calls it, never a request).
func (s *Store) AppendDecisions(ctx context.Context, ds []model.Decision) error {
	if len(ds) == 0 {
		return nil
	}
	err := s.withTx(ctx, func(tx *sql.Tx) error {
		ins, err := tx.PrepareContext(ctx, `INSERT INTO decisions (at, device_id, hostname, matched_by, matched_key, result,
			checks, token_id, source) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer ins.Close()
		chk, err := tx.PrepareContext(ctx, "INSERT OR IGNORE INTO decision_checks (check_id, decision_id) VALUES (?, ?)")
		if err != nil {
			return err
		}
		defer chk.Close()
		for _, d := range ds {
			checks := d.Checks
			if checks == nil {
				checks = []model.DecisionCheck{}
			}
			js, err := json.Marshal(checks)
			if err != nil {
				return err
			}
			res, err := ins.ExecContext(ctx, formatTime(d.At), d.DeviceID, d.Hostname, d.MatchedBy, d.MatchedKey, d.Result,
				string(js), d.TokenID, d.Source)
			if err != nil {
				return err
			}
			id, err := res.LastInsertId()
			if err != nil {
				return err
			}
			for _, c := range d.Checks {
				if _, err := chk.ExecContext(ctx, c.ID, id); err != nil {
					return err
				}
			}
		}
		return nil
	})
	return mapErr(err, "Decision log")
}

// Decisions returns the recorded decisions f selects, newest first, and
// how many match.
func (s *Store) Decisions(ctx context.Context, f model.DecisionFilter) ([]model.Decision, int, error) {
	var where []string
	var args []any
	if f.DeviceID != "" {
		where, args = append(where, "d.device_id = ?"), append(args, f.DeviceID)
	}
	if f.Hostname != "" {
		where, args = append(where, "d.hostname LIKE ? ESCAPE '\\'"), append(args, likePrefix(f.Hostname))
	}
	if f.CheckID != 0 {
		where = append(where, "d.id IN (SELECT decision_id FROM decision_checks WHERE check_id = ?)")
		args = append(args, f.CheckID)
	}
	if f.Result != "" {
		where, args = append(where, "d.result = ?"), append(args, f.Result)
	}
	if f.TokenID != 0 {
		where, args = append(where, "d.token_id = ?"), append(args, f.TokenID)
	}
	if !f.Since.IsZero() {
		where, args = append(where, "d.at >= ?"), append(args, formatTime(f.Since))
	}
	if !f.Until.IsZero() {
		where, args = append(where, "d.at < ?"), append(args, formatTime(f.Until))
	}
	cond := ""
	if len(where) > 0 {
		cond = " WHERE " + strings.Join(where, " AND ")
	}
	var total int
	if err := s.read.QueryRowContext(ctx, "SELECT COUNT(*) FROM decisions d"+cond, args...).Scan(&total); err != nil {
		return nil, 0, mapErr(err, "Decision log")
	}
	limit := f.Limit
	if limit <= 0 {
		limit = -1
	}
	out, err := collect(ctx, s.read, "Decision log", `SELECT d.id, d.at, d.device_id, d.hostname, d.matched_by, d.matched_key,
		d.result, d.checks, d.token_id, COALESCE(t.name, ''), d.source
		FROM decisions d LEFT JOIN api_tokens t ON t.id = d.token_id`+cond+
		" ORDER BY d.at DESC, d.id DESC LIMIT ? OFFSET ?", append(args, limit, f.Offset), scanDecision)
	return out, total, err
}

func scanDecision(r scanner) (model.Decision, error) {
	var d model.Decision
	var at, checks string
	err := r.Scan(&d.ID, &at, &d.DeviceID, &d.Hostname, &d.MatchedBy, &d.MatchedKey, &d.Result, &checks,
		&d.TokenID, &d.TokenName, &d.Source)
	if err == nil {
		d.At, err = parseTime(at)
	}
	if err == nil {
		err = json.Unmarshal([]byte(checks), &d.Checks)
	}
	return d, err
}

// PruneDecisions deletes up to batch recorded decisions older than cutoff,
// the oldest first, with their check index rows, and returns how many.
func (s *Store) PruneDecisions(ctx context.Context, cutoff time.Time, batch int) (int, error) {
	var n int64
	err := s.withTx(ctx, func(tx *sql.Tx) error {
		before := formatTime(cutoff)
		if _, err := tx.ExecContext(ctx, `DELETE FROM decision_checks WHERE decision_id IN
			(SELECT id FROM decisions WHERE at < ? ORDER BY at LIMIT ?)`, before, batch); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM decisions WHERE id IN
			(SELECT id FROM decisions WHERE at < ? ORDER BY at LIMIT ?)`, before, batch)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return int(n), mapErr(err, "Decision log")
}
