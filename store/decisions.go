package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"

	"postern/internal/jsonenc"
	"postern/internal/model"
)

// decisionsPerInsert is how many rows one INSERT statement writes: 9
// parameters each, well under SQLite's limit of 32,766.
const decisionsPerInsert = 128

// insertDecisions is the INSERT of n decisions.
func (e *engine) insertDecisions(n int) string {
	return e.insertOrFail + ` decisions (at, device_id, hostname, matched_by, matched_key, result, checks, token_id, source) VALUES ` +
		strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, ?, ?, ?, ?, ?), ", n), ", ")
}

// AppendDecisions writes a batch of recorded enforcement decisions in one
// transaction (the decision log's flusher calls it, never a request),
// many rows per statement, prepared once per batch: the flusher shares
// the machine's CPUs with the requests it records.
func (s *Store) AppendDecisions(ctx context.Context, ds []model.Decision) error {
	if len(ds) == 0 {
		return nil
	}
	err := s.withTx(ctx, func(tx *sql.Tx) error {
		var full *sql.Stmt
		if len(ds) >= decisionsPerInsert {
			st, err := tx.PrepareContext(ctx, s.eng.insertDecisions(decisionsPerInsert))
			if err != nil {
				return err
			}
			defer st.Close()
			full = st
		}
		args := make([]any, 0, 9*decisionsPerInsert)
		var js []byte
		for len(ds) > 0 {
			chunk := ds[:min(len(ds), decisionsPerInsert)]
			ds = ds[len(chunk):]
			args = args[:0]
			for _, d := range chunk {
				js = appendDecisionChecks(js[:0], d.Checks)
				args = append(args, formatTime(d.At), d.DeviceID, d.Hostname, d.MatchedBy, d.MatchedKey, d.Result,
					string(js), d.TokenID, d.Source)
			}
			var err error
			if len(chunk) == decisionsPerInsert {
				_, err = full.ExecContext(ctx, args...)
			} else {
				_, err = tx.ExecContext(ctx, s.eng.insertDecisions(len(chunk)), args...)
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	return mapErr(err, "Decision log")
}

// appendDecisionChecks appends the checks column of a decision: cs as
// encoding/json encodes it, byte for byte, with [] for none
// (TestDecisionChecksMatchEncodingJSON). Reflection took a quarter of the
// flusher's time.
func appendDecisionChecks(b []byte, cs []model.DecisionCheck) []byte {
	b = append(b, '[')
	for i := range cs {
		c := &cs[i]
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"id":`...)
		b = strconv.AppendInt(b, c.ID, 10)
		b = append(b, `,"name":`...)
		b = jsonenc.AppendString(b, c.Name)
		b = append(b, `,"mode":`...)
		b = jsonenc.AppendString(b, c.Mode)
		b = append(b, `,"result":`...)
		b = jsonenc.AppendString(b, c.Result)
		if len(c.Reasons) > 0 {
			b = append(b, `,"reasons":[`...)
			for j, r := range c.Reasons {
				if j > 0 {
					b = append(b, ',')
				}
				b = jsonenc.AppendString(b, r)
			}
			b = append(b, ']')
		}
		b = append(b, '}')
	}
	return append(b, ']')
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
		where, args = append(where, "d.hostname "+s.eng.like+" ? ESCAPE '\\'"), append(args, likePrefix(f.Hostname))
	}
	if f.CheckID != 0 {
		where = append(where, s.eng.jsonArrayHasID("d.checks"))
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
	var lim any = limit
	if limit <= 0 {
		lim = s.eng.noLimit
	}
	out, err := collect(ctx, s.read, "Decision log", `SELECT d.id, d.at, d.device_id, d.hostname, d.matched_by, d.matched_key,
		d.result, d.checks, d.token_id, COALESCE(t.name, ''), d.source
		FROM decisions d LEFT JOIN api_tokens t ON t.id = d.token_id`+cond+
		" ORDER BY d.at DESC, d.id DESC LIMIT ? OFFSET ?", append(args, lim, f.Offset), scanDecision)
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
// the oldest first, and returns how many.
func (s *Store) PruneDecisions(ctx context.Context, cutoff time.Time, batch int) (int, error) {
	var n int64
	err := s.withTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM decisions WHERE id IN
			(SELECT id FROM decisions WHERE at < ? ORDER BY at LIMIT ?)`, formatTime(cutoff), batch)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return int(n), mapErr(err, "Decision log")
}

// DecisionsOverCap returns the id of the newest decision beyond the newest
// keep (0 when the log holds keep or fewer): every decision up to it goes.
// Ids only grow, so the answer stays right while new decisions come in.
func (s *Store) DecisionsOverCap(ctx context.Context, keep int) (int64, error) {
	var id int64
	err := s.read.QueryRowContext(ctx, "SELECT id FROM decisions ORDER BY id DESC LIMIT 1 OFFSET ?", keep).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return id, mapErr(err, "Decision log")
}

// PruneDecisionsThrough deletes up to batch recorded decisions whose id is
// at most last, the oldest first, and returns how many.
func (s *Store) PruneDecisionsThrough(ctx context.Context, last int64, batch int) (int, error) {
	var n int64
	err := s.withTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM decisions WHERE id IN
			(SELECT id FROM decisions WHERE id <= ? ORDER BY id LIMIT ?)`, last, batch)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return int(n), mapErr(err, "Decision log")
}
