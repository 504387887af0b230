package store

import (
	"context"
	"database/sql"

	"postern/internal/model"
)

// stageCopy stages page on PostgreSQL with COPY. COPY cannot replace a row,
// so a page that repeats a device staged by an earlier page of the run
// (the Defender client drops such repeats; the store keeps its promise
// anyway) is staged again with INSERT … ON CONFLICT, from a savepoint.
func (s *Store) stageCopy(ctx context.Context, runID int64, page []model.Device) error {
	// Neither COPY nor one INSERT … ON CONFLICT can write a key twice.
	page = lastOfEach(page)
	return s.withCopyTx(ctx, func(tx *sql.Tx, copyFrom copyFunc) error {
		if _, err := tx.ExecContext(ctx, "SAVEPOINT stage_copy"); err != nil {
			return err
		}
		err := copyFrom("staged_devices", stagedColumnNames, &stagedRows{runID: runID, page: page, i: -1})
		if !isUniqueViolation(err) {
			return err
		}
		if _, err := tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT stage_copy"); err != nil {
			return err
		}
		return s.stageInsertTx(ctx, tx, runID, page)
	})
}

// stagedRows hands a page's devices to COPY one row at a time, in
// stagedColumnNames' order. COPY encodes each row before asking for the
// next, so one row's values and packed raw are reused for all.
type stagedRows struct {
	runID int64
	page  []model.Device
	i     int
	vals  []any
	raw   []byte
}

func (r *stagedRows) Next() bool {
	r.i++
	return r.i < len(r.page)
}

func (r *stagedRows) Values() ([]any, error) {
	d := &r.page[r.i]
	cols, err := deviceArgs(*d)
	if err != nil {
		return nil, err
	}
	r.raw = appendPackedRaw(r.raw[:0], d.Raw)
	r.vals = append(append(append(r.vals[:0], r.runID), cols...), r.raw)
	return r.vals, nil
}

func (r *stagedRows) Err() error { return nil }
