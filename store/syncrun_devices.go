package store

import (
	"context"

	"postern/internal/model"
)

// SyncRun returns one run, or NotFound.
func (s *Store) SyncRun(ctx context.Context, id int64) (model.SyncRun, error) {
	run, err := scanRun(s.read.QueryRowContext(ctx, "SELECT "+runColumns+" FROM sync_runs WHERE id = ?", id))
	return run, mapErr(err, "Sync run")
}

// RunChanges are the devices a sync run changed, as far as the devices
// still show it: a device's row keeps only its latest change, so one that a
// later run changed again is listed under that run.
type RunChanges struct {
	Added, Changed, Removed []model.Device
}

// RunDevices returns what run changed, at most limit devices of each kind,
// by host name: added and changed devices by their changed_run_id (index
// devices_changed_run), removed ones by the time they were marked removed,
// within the run (index devices_list, which leads with removed_at).
func (s *Store) RunDevices(ctx context.Context, run model.SyncRun, limit int) (RunChanges, error) {
	var out RunChanges
	err := eachRow(ctx, s.read, "Sync run", "SELECT "+listColumns+", first_synced_at = changed_at FROM devices "+
		"WHERE changed_run_id = ? ORDER BY host_lower, id", []any{run.ID}, func(r scanner) error {
		var added bool
		d, err := scanDevice(extraScan{r, &added}, false)
		switch {
		case err != nil:
			return err
		case added && len(out.Added) < limit:
			out.Added = append(out.Added, d)
		case !added && len(out.Changed) < limit:
			out.Changed = append(out.Changed, d)
		}
		return nil
	})
	if err != nil || run.FinishedAt == nil {
		return out, err
	}
	// A held run removed what it removed when an admin accepted it.
	from, to := run.StartedAt, *run.FinishedAt
	if run.Outcome == model.RunHeld {
		if run.AcceptedAt == nil {
			return out, nil
		}
		from, to = *run.AcceptedAt, *run.AcceptedAt
	}
	out.Removed, err = collect(ctx, s.read, "Sync run", "SELECT "+listColumns+" FROM devices"+s.eng.indexed("devices_list")+
		" WHERE removed_at >= ? AND removed_at <= ? ORDER BY host_lower, id LIMIT ?",
		[]any{formatTime(from), formatTime(to), limit}, func(r scanner) (model.Device, error) {
			return scanDevice(r, false)
		})
	return out, err
}

// extraScan scans a row whose last column is one more than scanDevice
// reads into extra.
type extraScan struct {
	r     scanner
	extra *bool
}

func (e extraScan) Scan(dest ...any) error { return e.r.Scan(append(dest, e.extra)...) }
