package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"hash/maphash"
	"maps"
	"sync"
	"time"
)

// The decision log stores each distinct set of checks and reasons once, in
// decision_check_sets, and an entry names its set (migration 0034). The
// writer knows the sets it used lately, so a batch of a fleet denied for
// the same few reasons reads and writes no set at all.
//
// In the table a set is found by the SHA-256 of its JSON (digest), the
// same in every process. In memory it is found by a seeded maphash, seven
// times cheaper for 1.6 KB of checks and reasons (140 ns against 970 on
// this machine; SHA-256 was two fifths of the writer's time), and the JSON
// itself, compared on a hit: a hash two sets share only costs a lookup in
// the table.

// setMark is how often the writer moves forward the last_at of a set it
// keeps using: an entry is at most setMark newer than its set's last_at.
const setMark = 10 * time.Minute

// maxKnownSets bounds the writer's memory of sets (each holds its JSON);
// past it, it starts afresh (a set it forgets is found again by digest).
const maxKnownSets = 4096

// knownSet is a set the writer found or wrote: its JSON, its id, and when
// it last moved the set's last_at forward.
type knownSet struct {
	checks string
	id     int64
	marked time.Time
}

// checkSets is the writer's memory of sets, by the maphash of their JSON,
// shared by its batches. A batch learns into its own map and adds it here
// only once it committed: a set a rolled-back transaction wrote is not
// known.
type checkSets struct {
	seed  maphash.Seed
	mu    sync.Mutex
	known map[uint64]knownSet
}

func newCheckSets() *checkSets { return &checkSets{seed: maphash.MakeSeed()} }

func (c *checkSets) lookup(h uint64, checks []byte) (knownSet, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	k, ok := c.known[h]
	return k, ok && k.checks == string(checks)
}

func (c *checkSets) learn(batch map[uint64]knownSet) {
	if len(batch) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	added := 0
	for h := range batch {
		if _, ok := c.known[h]; !ok {
			added++
		}
	}
	if c.known == nil || len(c.known)+added > maxKnownSets {
		c.known = make(map[uint64]knownSet, len(batch))
	}
	maps.Copy(c.known, batch)
}

// upsertSet adds a set, or moves an existing one's last_at forward (never
// back: replicas' clocks differ), and returns its id.
const upsertSet = `INSERT INTO decision_check_sets (digest, checks, last_at) VALUES (?, ?, ?)
	ON CONFLICT (digest) DO UPDATE SET last_at = CASE WHEN excluded.last_at > decision_check_sets.last_at
		THEN excluded.last_at ELSE decision_check_sets.last_at END
	RETURNING id`

// setResolver finds the set ids of one batch's entries within its
// transaction.
type setResolver struct {
	tx    *sql.Tx
	sets  *checkSets
	now   time.Time
	batch map[uint64]knownSet // found or written by this batch
	stmt  *sql.Stmt
}

// id returns the id of the set whose JSON is checks, adding the set or
// moving its last_at forward when the writer has not done so for setMark.
func (r *setResolver) id(ctx context.Context, checks []byte) (int64, error) {
	h := maphash.Bytes(r.sets.seed, checks)
	if k, ok := r.batch[h]; ok && k.checks == string(checks) {
		return k.id, nil
	}
	if k, ok := r.sets.lookup(h, checks); ok && r.now.Sub(k.marked) < setMark {
		return k.id, nil
	}
	if r.stmt == nil {
		st, err := r.tx.PrepareContext(ctx, upsertSet)
		if err != nil {
			return 0, err
		}
		r.stmt = st
	}
	digest := sha256.Sum256(checks)
	k := knownSet{checks: string(checks), marked: r.now}
	if err := r.stmt.QueryRowContext(ctx, digest[:], k.checks, formatTime(r.now)).Scan(&k.id); err != nil {
		return 0, err
	}
	if r.batch == nil {
		r.batch = map[uint64]knownSet{}
	}
	r.batch[h] = k
	return k.id, nil
}

func (r *setResolver) close() {
	if r.stmt != nil {
		r.stmt.Close()
	}
}

// setsSlack is how far before the oldest entry left a set's last_at must
// be for PruneDecisionCheckSets to delete it: setMark, and hours more for
// replicas' clocks and a log whose cap keeps only minutes of entries. The
// sets are few; keeping each a day longer costs next to nothing.
const setsSlack = 24 * time.Hour

// PruneDecisionCheckSets deletes the sets of checks no entry of the
// decision log can name any more, and returns how many: those whose
// last_at is setsSlack before the oldest entry left (before now, when the
// log is empty). The retention worker calls it after pruning the entries.
// A writer moves the last_at of a set it uses forward at least every
// setMark, so a set it may still name is never that old.
func (s *Store) PruneDecisionCheckSets(ctx context.Context) (int, error) {
	var n int64
	err := s.withTx(ctx, func(tx *sql.Tx) error {
		oldest := s.now()
		var at string
		err := tx.QueryRowContext(ctx, "SELECT at FROM decisions ORDER BY at LIMIT 1").Scan(&at)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return err
		default:
			t, err := parseTime(at)
			if err != nil {
				return err
			}
			if t.Before(oldest) {
				oldest = t
			}
		}
		res, err := tx.ExecContext(ctx, "DELETE FROM decision_check_sets WHERE last_at < ?", formatTime(oldest.Add(-setsSlack)))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return int(n), mapErr(err, "Decision log")
}
