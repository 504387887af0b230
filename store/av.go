package store

import (
	"context"
	"database/sql"
	"fmt"
	"slices"

	"postern/internal/model"
)

const avColumns = `machine_id, av_mode, signature_version, signature_up_to_date, signature_published_at,
	engine_version, engine_up_to_date, platform_version, platform_up_to_date, quick_scan_at, quick_scan_result,
	full_scan_at, full_scan_result, refreshed_at, content_hash`

// ApplyAV records what sync run res.RunID got from Defender's antivirus
// health report, in one transaction. When res.OK, rows is the report's
// latest row per machine: a row is written only when its Hash differs from
// the stored one, and the rows of machines the report no longer lists are
// deleted, so a steady fleet costs a read of the hashes and no writes. When
// not, the stored rows stay as they were and res.Error says why the run's
// antivirus signals are unknown. It returns res with Written set.
func (s *Store) ApplyAV(ctx context.Context, res model.AVRun, rows []model.DeviceAV) (model.AVRun, error) {
	err := s.changeTx(ctx, model.ChangeSnapshot, func(tx *sql.Tx) error {
		res.Written = 0
		if res.OK {
			n, err := s.applyAVRowsTx(ctx, tx, res.RunID, rows)
			if err != nil {
				return err
			}
			res.Written = n
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO sync_run_av (run_id, ok, machines, written, error, error_code)
			VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (run_id) DO UPDATE SET ok = excluded.ok, machines = excluded.machines,
			written = excluded.written, error = excluded.error, error_code = excluded.error_code`,
			res.RunID, res.OK, res.Machines, res.Written, res.Error, res.ErrorCode)
		return err
	})
	return res, mapErr(err, "Antivirus health")
}

func (s *Store) applyAVRowsTx(ctx context.Context, tx *sql.Tx, runID int64, rows []model.DeviceAV) (int, error) {
	stored := make(map[string]int64)
	err := eachRow(ctx, tx, "Antivirus health", "SELECT machine_id, content_hash FROM device_av", nil, func(r scanner) error {
		var id string
		var h int64
		if err := r.Scan(&id, &h); err != nil {
			return err
		}
		stored[id] = h
		return nil
	})
	if err != nil {
		return 0, err
	}
	var changed []*model.DeviceAV
	for i := range rows {
		a := &rows[i]
		h, ok := stored[a.MachineID]
		delete(stored, a.MachineID)
		if !ok || h != a.Hash {
			changed = append(changed, a)
		}
	}
	if err := s.writeAVTx(ctx, tx, runID, changed); err != nil {
		return 0, err
	}
	written := len(changed)
	for id := range stored { // no longer in the report
		if _, err := tx.ExecContext(ctx, "DELETE FROM device_av WHERE machine_id = ?", id); err != nil {
			return 0, err
		}
		written++
	}
	return written, nil
}

// avBatch is how many rows one INSERT of writeAVTx writes: the first fill
// of a 100,000-device tenant is one trip through the driver per 64 rows.
const avBatch = 64

// writeAVTx inserts or replaces rows, avBatch to a statement.
func (s *Store) writeAVTx(ctx context.Context, tx *sql.Tx, runID int64, rows []*model.DeviceAV) error {
	var stmts [avBatch + 1]*sql.Stmt // by rows per statement
	defer func() {
		for _, st := range stmts {
			if st != nil {
				st.Close()
			}
		}
	}()
	args := make([]any, 0, avBatch*avInsertColumns)
	for batch := range slices.Chunk(rows, avBatch) {
		st := stmts[len(batch)]
		if st == nil {
			var err error
			if st, err = tx.PrepareContext(ctx, s.eng.avInsert(len(batch))); err != nil {
				return err
			}
			stmts[len(batch)] = st
		}
		args = args[:0]
		for _, a := range batch {
			args = append(args, a.MachineID, a.Mode, a.SignatureVersion, a.SignatureUpToDate,
				timeOrNil(a.SignaturePublishedAt), a.EngineVersion, a.EngineUpToDate, a.PlatformVersion, a.PlatformUpToDate,
				timeOrNil(a.QuickScanAt), a.QuickScanResult, timeOrNil(a.FullScanAt), a.FullScanResult,
				timeOrNil(a.RefreshedAt), a.Hash, runID)
		}
		if _, err := st.ExecContext(ctx, args...); err != nil {
			return fmt.Errorf("write antivirus health: %w", err)
		}
	}
	return nil
}

// avInsertColumns is how many values one row of avInsert binds: avColumns
// and changed_run_id.
const avInsertColumns = 16

// avInsert is the INSERT (or replace) of rows report rows.
func (e *engine) avInsert(rows int) string {
	return e.replaceRows("device_av", avColumns+", changed_run_id", "machine_id", rows)
}

// DeviceAV returns one machine's antivirus health, or NotFound when the
// report has never listed it.
func (s *Store) DeviceAV(ctx context.Context, machineID string) (model.DeviceAV, error) {
	a, err := scanAV(s.read.QueryRowContext(ctx, "SELECT "+avColumns+" FROM device_av WHERE machine_id = ?", machineID))
	return a, mapErr(err, "Antivirus health")
}

// EachDeviceAV calls fn with every stored row (building the snapshot).
func (s *Store) EachDeviceAV(ctx context.Context, fn func(model.DeviceAV) error) error {
	return eachRow(ctx, s.read, "Antivirus health", "SELECT "+avColumns+" FROM device_av", nil, func(r scanner) error {
		a, err := scanAV(r)
		if err != nil {
			return err
		}
		return fn(a)
	})
}

// AVRunOf is what run runID got from the antivirus health report, or
// NotFound when it did not ask (a failed run, or one from before).
func (s *Store) AVRunOf(ctx context.Context, runID int64) (model.AVRun, error) {
	r := model.AVRun{RunID: runID}
	err := s.read.QueryRowContext(ctx, "SELECT ok, machines, written, error, error_code FROM sync_run_av WHERE run_id = ?", runID).
		Scan(&r.OK, &r.Machines, &r.Written, &r.Error, &r.ErrorCode)
	return r, mapErr(err, "Antivirus health")
}

func scanAV(r scanner) (model.DeviceAV, error) {
	var a model.DeviceAV
	var sig, quick, full, refreshed sql.NullString
	if err := r.Scan(&a.MachineID, &a.Mode, &a.SignatureVersion, &a.SignatureUpToDate, &sig, &a.EngineVersion,
		&a.EngineUpToDate, &a.PlatformVersion, &a.PlatformUpToDate, &quick, &a.QuickScanResult, &full,
		&a.FullScanResult, &refreshed, &a.Hash); err != nil {
		return a, err
	}
	var err error
	if a.SignaturePublishedAt, err = nullTime(sig); err != nil {
		return a, err
	}
	if a.QuickScanAt, err = nullTime(quick); err != nil {
		return a, err
	}
	if a.FullScanAt, err = nullTime(full); err != nil {
		return a, err
	}
	a.RefreshedAt, err = nullTime(refreshed)
	return a, err
}
