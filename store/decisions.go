package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"postern/internal/jsonenc"
	"postern/internal/model"
)

// decisionsPerInsert is how many rows one INSERT statement writes: 9
// parameters each, well under SQLite's limit of 32,766.
const decisionsPerInsert = 128

// insertDecisions is the INSERT of n decisions. On PostgreSQL the same
// statement adds their device keys to decision_devices_recent (a
// data-modifying WITH). SQLite has no such statement: it adds them once a
// batch, the keys of the ids above the largest before the batch
// (recentSince), which are the batch's own since writes run one at a time
// (on PostgreSQL too, under the write lock).
func (e *engine) insertDecisions(n int) string {
	insert := e.insertOrFail + ` decisions (at, device_id, hostname, matched_by, matched_key, result, checks_set, token_id, source) VALUES ` +
		strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, ?, ?, ?, ?, ?), ", n), ", ")
	if e == sqliteEngine {
		return insert
	}
	return `WITH ins AS (` + insert + ` RETURNING id, device_id, at)
		INSERT INTO decision_devices_recent (decision_id, device_id, at) SELECT id, device_id, at FROM ins WHERE device_id <> ''`
}

// recentSince adds to decision_devices_recent the device keys of the
// decisions after the bound id.
const recentSince = `INSERT OR FAIL INTO decision_devices_recent (decision_id, device_id, at)
	SELECT id, device_id, at FROM decisions WHERE id > ? AND device_id <> ''`

// AppendDecisions writes a batch of recorded enforcement decisions in one
// transaction (the decision log's flusher calls it, never a request),
// many rows per statement, prepared once per batch: the flusher shares
// the machine's CPUs with the requests it records. Their device keys go
// to decision_devices_recent, in id order, for IndexDecisions to move into
// the device index; each names its set of checks (decision_sets.go).
func (s *Store) AppendDecisions(ctx context.Context, ds []model.Decision) error {
	if len(ds) == 0 {
		return nil
	}
	var learned map[uint64]knownSet
	err := s.withTx(ctx, func(tx *sql.Tx) error {
		var last int64
		if s.eng == sqliteEngine {
			if err := tx.QueryRowContext(ctx, "SELECT COALESCE(MAX(id), 0) FROM decisions").Scan(&last); err != nil {
				return err
			}
		}
		var full *sql.Stmt
		if len(ds) >= decisionsPerInsert {
			st, err := tx.PrepareContext(ctx, s.eng.insertDecisions(decisionsPerInsert))
			if err != nil {
				return err
			}
			defer st.Close()
			full = st
		}
		sets := setResolver{tx: tx, sets: s.sets, now: s.now()}
		defer sets.close()
		args := make([]any, 0, 9*decisionsPerInsert)
		var js []byte
		for len(ds) > 0 {
			chunk := ds[:min(len(ds), decisionsPerInsert)]
			ds = ds[len(chunk):]
			args = args[:0]
			for _, d := range chunk {
				js = appendDecisionChecks(js[:0], d.Checks)
				set, err := sets.id(ctx, js)
				if err != nil {
					return err
				}
				args = append(args, formatTime(d.At), d.DeviceID, d.Hostname, d.MatchedBy, d.MatchedKey, d.Result,
					set, d.TokenID, d.Source)
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
		if s.eng == sqliteEngine {
			if _, err := tx.ExecContext(ctx, recentSince, last); err != nil {
				return err
			}
		}
		learned = sets.batch
		return nil
	})
	if err == nil {
		s.sets.learn(learned)
	}
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

// decisionColumns are a decision's columns as scanDecision reads them,
// from decisions d and decisionJoins.
const decisionColumns = `d.id, d.at, d.device_id, d.hostname, d.matched_by, d.matched_key,
	d.result, COALESCE(c.checks, '[]'), d.token_id, COALESCE(t.name, ''), d.source`

// decisionJoins join to decisions d the set of checks each names (c) and
// its token (t), for decisionColumns.
const decisionJoins = ` LEFT JOIN decision_check_sets c ON c.id = d.checks_set
	LEFT JOIN api_tokens t ON t.id = d.token_id`

// Decisions returns the recorded decisions f selects, newest first, and
// how many match.
func (s *Store) Decisions(ctx context.Context, f model.DecisionFilter) ([]model.Decision, int, error) {
	var where []string
	var args []any
	if f.Hostname != "" {
		where, args = append(where, "d.hostname "+s.eng.like+" ? ESCAPE '\\'"), append(args, likePrefix(f.Hostname))
	}
	if f.CheckID != 0 {
		where = append(where, "d.checks_set IN (SELECT cs.id FROM decision_check_sets cs WHERE "+s.eng.jsonArrayHasID("cs.checks")+")")
		args = append(args, f.CheckID)
	}
	if f.Result != "" {
		where, args = append(where, "d.result = ?"), append(args, f.Result)
	}
	if f.TokenID != 0 {
		where, args = append(where, "d.token_id = ?"), append(args, f.TokenID)
	}
	if f.DeviceID != "" {
		return s.deviceDecisions(ctx, f, where, args)
	}
	if !f.Since.IsZero() {
		where, args = append(where, "d.at >= ?"), append(args, formatTime(f.Since))
	}
	if !f.Until.IsZero() {
		where, args = append(where, "d.at < ?"), append(args, formatTime(f.Until))
	}
	cond := whereAll(where)
	var total int
	if err := s.read.QueryRowContext(ctx, "SELECT COUNT(*) FROM decisions d"+cond, args...).Scan(&total); err != nil {
		return nil, 0, mapErr(err, "Decision log")
	}
	out, err := collect(ctx, s.read, "Decision log", `SELECT `+decisionColumns+`
		FROM decisions d`+decisionJoins+cond+`
		ORDER BY d.at DESC, d.id DESC LIMIT ? OFFSET ?`, append(args, s.limit(f.Limit), f.Offset), scanDecision)
	return out, total, err
}

// deviceDecisions is Decisions of one device: its keys in the device index
// and its recent keys not yet moved there, within f's times, as k, and the
// decisions' other columns (where) from d, joined on the keys' ids only
// when where filters. The index names no decision that is gone (see
// PruneDecisionIndex), so the count and the page's ids come from the keys
// alone, sorted on their own columns (k.at is d.at): sorting whole rows
// would read every one of a busy device's decisions. The page's rows are
// still held to the device: should a key outlive its decision and the id
// be used again (SQLite reuses the ids of an emptied table), it shows
// nothing of another device.
func (s *Store) deviceDecisions(ctx context.Context, f model.DecisionFilter, where []string, args []any) ([]model.Decision, int, error) {
	keyCond, keyArgs := "device_id = ?", []any{f.DeviceID}
	if !f.Since.IsZero() {
		keyCond, keyArgs = keyCond+" AND at >= ?", append(keyArgs, formatTime(f.Since))
	}
	if !f.Until.IsZero() {
		keyCond, keyArgs = keyCond+" AND at < ?", append(keyArgs, formatTime(f.Until))
	}
	keys := `(SELECT decision_id, at FROM decision_devices WHERE ` + keyCond + `
		UNION ALL SELECT decision_id, at FROM decision_devices_recent WHERE ` + keyCond + `) k`
	args = append(append(slices.Clip(keyArgs), keyArgs...), args...)
	if len(where) > 0 {
		keys += " " + s.eng.crossJoin + " decisions d ON d.id = k.decision_id" + whereAll(where)
	}
	var total int
	if err := s.read.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+keys, args...).Scan(&total); err != nil {
		return nil, 0, mapErr(err, "Decision log")
	}
	out, err := collect(ctx, s.read, "Decision log", `SELECT `+decisionColumns+`
		FROM (SELECT k.decision_id FROM `+keys+` ORDER BY k.at DESC, k.decision_id DESC LIMIT ? OFFSET ?) p
		`+s.eng.crossJoin+` decisions d ON d.id = p.decision_id AND d.device_id = ?
		`+decisionJoins+` ORDER BY d.at DESC, d.id DESC`,
		append(args, s.limit(f.Limit), f.Offset, f.DeviceID), scanDecision)
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

// indexChunk is how many device keys one IndexDecisions transaction moves
// at most: a minute of denials at thousands a second, in one transaction;
// a backlog (after downtime) in several, so that other writes get turns.
const indexChunk = 500_000

// IndexDecisions moves the device keys of the recent decisions into the
// device index, oldest first, in transactions of up to indexChunk sorted by
// the index's key, and returns how many it moved. The decision log's
// writer calls it once a minute.
func (s *Store) IndexDecisions(ctx context.Context) (int, error) {
	moved := 0
	for {
		n, err := s.indexDecisions(ctx, indexChunk)
		moved += n
		if err != nil || n < indexChunk {
			return moved, mapErr(err, "Decision log")
		}
	}
}

// indexDecisions moves up to limit device keys, the oldest. PostgreSQL
// moves in one statement exactly the rows it deletes (DELETE … RETURNING
// in a data-modifying WITH); SQLite inserts, then deletes the same ids.
func (s *Store) indexDecisions(ctx context.Context, limit int) (int, error) {
	var n int64
	err := s.withTx(ctx, func(tx *sql.Tx) error {
		last := int64(math.MaxInt64)
		err := tx.QueryRowContext(ctx, `SELECT decision_id FROM decision_devices_recent
			ORDER BY decision_id LIMIT 1 OFFSET ?`, limit-1).Scan(&last)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if s.eng == sqliteEngine {
			res, err := tx.ExecContext(ctx, `INSERT OR FAIL INTO decision_devices (device_id, at, decision_id)
				SELECT device_id, at, decision_id FROM decision_devices_recent WHERE decision_id <= ?
				ORDER BY device_id, at, decision_id`, last)
			if err == nil {
				n, err = res.RowsAffected()
			}
			if err == nil {
				_, err = tx.ExecContext(ctx, "DELETE FROM decision_devices_recent WHERE decision_id <= ?", last)
			}
			return err
		}
		res, err := tx.ExecContext(ctx, `WITH moved AS (DELETE FROM decision_devices_recent WHERE decision_id <= ?
				RETURNING device_id, at, decision_id)
			INSERT INTO decision_devices (device_id, at, decision_id) SELECT device_id, at, decision_id FROM moved
			ORDER BY device_id, at, decision_id`, last)
		if err == nil {
			n, err = res.RowsAffected()
		}
		return err
	})
	return int(n), err
}

// DecisionsBefore reports whether the log holds a decision older than
// before.
func (s *Store) DecisionsBefore(ctx context.Context, before time.Time) (bool, error) {
	var one int
	err := s.read.QueryRowContext(ctx, "SELECT 1 FROM decisions WHERE at < ? LIMIT 1", formatTime(before)).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, mapErr(err, "Decision log")
}

// PruneDecisionIndex deletes the device keys of the decisions that
// PruneDecisions(before) and PruneDecisionsThrough(through) delete (a zero
// before or through: none), over the devices after after, in key order,
// that hold about batch entries of the device index, and returns the last
// device it covered ("" when it reached the end) and how many keys it
// deleted. The call from "" deletes the recent keys as well. The retention
// worker calls it from "" to the end before it prunes the decisions, so
// that the index never names a decision that is gone and the device
// filter counts and pages on the index alone. A run of devices is a run
// of the index's pages: a batch writes few. The order holds because
// writes run one at a time (on PostgreSQL too, under the write lock): a
// batch of decisions is committed whole before or after each of these
// transactions, and one after has ids above through and times after
// before.
func (s *Store) PruneDecisionIndex(ctx context.Context, after string, batch int, before time.Time, through int64) (string, int, error) {
	var next string
	var n int64
	err := s.withTx(ctx, func(tx *sql.Tx) error {
		gone := []any{formatTime(before), through}
		if after == "" {
			res, err := tx.ExecContext(ctx, "DELETE FROM decision_devices_recent WHERE at < ? OR decision_id <= ?", gone...)
			if err != nil {
				return err
			}
			if n, err = res.RowsAffected(); err != nil {
				return err
			}
		}
		err := tx.QueryRowContext(ctx, `SELECT device_id FROM decision_devices WHERE device_id > ?
			ORDER BY device_id LIMIT 1 OFFSET ?`, after, max(batch-1, 0)).Scan(&next)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		cond, args := "device_id > ?", []any{after}
		if next != "" {
			cond, args = cond+" AND device_id <= ?", append(args, next)
		}
		res, err := tx.ExecContext(ctx, "DELETE FROM decision_devices WHERE "+cond+" AND (at < ? OR decision_id <= ?)",
			append(args, gone...)...)
		if err != nil {
			return err
		}
		deleted, err := res.RowsAffected()
		n += deleted
		return err
	})
	return next, int(n), mapErr(err, "Decision log")
}
