package store

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"

	"postern/internal/model"
)

// The staging table holds the pages of the run in progress until the apply.
// It is a TEMP table of the one writer connection: with temp_store=MEMORY it
// lives in memory, so staging costs no WAL writes and no page cache of the
// database, and a crash or restart leaves nothing behind. Every statement
// that touches it runs on the writer inside withTx, and creates it first.
// Should database/sql ever replace the writer connection in the middle of a
// run, the apply finds fewer (or no) staged rows than were fetched and the
// run fails without changing anything.

// deviceColumnNames are deviceColumns one by one.
var deviceColumnNames = strings.Fields(strings.ReplaceAll(deviceColumns, ",", " "))

// stagedColumnNames are the staging table's columns, in stageInsert's
// order: run_id, the device columns and raw.
var stagedColumnNames = append(append([]string{"run_id"}, deviceColumnNames...), "raw")

// stagedColumns is how many values a staged row binds.
var stagedColumns = len(stagedColumnNames)

// stagingDDL creates the staging table with the device columns as the
// devices table declares them (as migrated, read from the database), so
// the two cannot drift apart: run_id first and the raw machine last.
func stagingDDL(ctx context.Context, db *sql.DB) (string, error) {
	rows, err := db.QueryContext(ctx, `SELECT name, type, "notnull" FROM pragma_table_info('devices')`)
	if err != nil {
		return "", fmt.Errorf("store: read the devices table: %w", err)
	}
	defer rows.Close()
	types := map[string]string{}
	for rows.Next() {
		var name, typ string
		var notNull bool
		if err := rows.Scan(&name, &typ, &notNull); err != nil {
			return "", err
		}
		if notNull {
			typ += " NOT NULL"
		}
		types[name] = typ
	}
	if err := rows.Err(); err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString("CREATE TEMP TABLE IF NOT EXISTS staged_devices (run_id INTEGER NOT NULL")
	for _, c := range deviceColumnNames {
		typ, ok := types[c]
		if !ok {
			return "", fmt.Errorf("store: the devices table has no column %s", c)
		}
		b.WriteString(", " + c + " " + typ)
	}
	b.WriteString(", raw BLOB NOT NULL, UNIQUE (run_id, id))")
	return b.String(), nil
}

// stagingTx creates the staging table on the writer, if needed (SQLite;
// PostgreSQL's is in the schema, migration 0007).
func (s *Store) stagingTx(ctx context.Context, tx *sql.Tx) error {
	if s.staging == "" {
		return nil
	}
	_, err := tx.ExecContext(ctx, s.staging)
	return err
}

// clearStagingTx empties the staging table: one run stages at a time, and
// a DELETE without WHERE drops every page at once, not row by row.
func (s *Store) clearStagingTx(ctx context.Context, tx *sql.Tx) error {
	if err := s.stagingTx(ctx, tx); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, "DELETE FROM staged_devices")
	return err
}

// ClearStaging drops pages left by an abandoned run.
func (s *Store) ClearStaging(ctx context.Context) error {
	return mapErr(s.withTx(ctx, func(tx *sql.Tx) error { return s.clearStagingTx(ctx, tx) }), "Staging")
}

// StagedCount is the number of staged rows, of any run.
func (s *Store) StagedCount(ctx context.Context) (int, error) {
	var n int
	err := s.withTx(ctx, func(tx *sql.Tx) error {
		if err := s.stagingTx(ctx, tx); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM staged_devices").Scan(&n)
	})
	return n, mapErr(err, "Staging")
}

// StageDevices writes one page of a run in its own transaction. Staging a
// device twice in a run keeps the later copy.
func (s *Store) StageDevices(ctx context.Context, runID int64, page []model.Device) error {
	if s.eng == postgresEngine {
		return mapErr(s.stageCopy(ctx, runID, page), "Staged devices")
	}
	err := s.withTx(ctx, func(tx *sql.Tx) error {
		if err := s.stagingTx(ctx, tx); err != nil {
			return err
		}
		return s.stageInsertTx(ctx, tx, runID, page)
	})
	return mapErr(err, "Staged devices")
}

// stageInsertTx stages page with INSERT (or replace) statements of
// stageBatch rows.
func (s *Store) stageInsertTx(ctx context.Context, tx *sql.Tx, runID int64, page []model.Device) error {
	var stmts [stageBatch + 1]*sql.Stmt // by rows per statement
	defer func() {
		for _, st := range stmts {
			if st != nil {
				st.Close()
			}
		}
	}()
	raws := make([][]byte, stageBatch) // reused: the driver copies what it binds
	args := make([]any, 0, stageBatch*stagedColumns)
	for batch := range slices.Chunk(page, stageBatch) {
		st := stmts[len(batch)]
		if st == nil {
			var err error
			if st, err = tx.PrepareContext(ctx, s.eng.stageInsert(len(batch))); err != nil {
				return err
			}
			stmts[len(batch)] = st
		}
		args = args[:0]
		for i, d := range batch {
			cols, err := deviceArgs(d)
			if err != nil {
				return err
			}
			raws[i] = appendPackedRaw(raws[i][:0], d.Raw)
			args = append(append(append(args, runID), cols...), raws[i])
		}
		if _, err := st.ExecContext(ctx, args...); err != nil {
			return err
		}
	}
	return nil
}

// stageBatch is how many devices one INSERT stages: one trip through
// database/sql and the driver per 64 rows instead of per row.
const stageBatch = 64

// stageInsert is the INSERT (or replace) of rows staged devices.
func (e *engine) stageInsert(rows int) string {
	return e.replaceRows("staged_devices", "run_id, "+deviceColumns+", raw", "run_id, id", rows)
}

// lastOfEach is page with only the last copy of each device, in order.
func lastOfEach(page []model.Device) []model.Device {
	last := make(map[string]int, len(page))
	for i, d := range page {
		last[d.ID] = i
	}
	if len(last) == len(page) {
		return page
	}
	out := make([]model.Device, 0, len(last))
	for i, d := range page {
		if last[d.ID] == i {
			out = append(out, d)
		}
	}
	return out
}
