package syncer_test

import (
	"database/sql"
	"strings"
	"testing"

	"postern/internal/model"
	"postern/internal/syncer"
	"postern/store"
)

// TestSyncApplyFailureIsRecorded: when the apply transaction itself fails
// (disk full, I/O error, SQLITE_BUSY past busy_timeout — simulated with a
// trigger that aborts every update of devices), the devices and snapshot
// stay as they were and the run is still recorded as failed, with its error,
// its audit row and no staged rows left (docs/design.md#sync,
// docs/security.md#item-26 and docs/security.md#item-33).
// Before run.go recorded the failed run in a second FinishRun, the row stayed
// 'running' until the next process start.
func TestSyncApplyFailureIsRecorded(t *testing.T) {
	e := newEnv(t, envOptions{machines: 20})
	if first := e.sync(syncer.TriggerManual); first.Outcome != model.RunSuccess {
		t.Fatalf("first run %s", first.Outcome)
	}
	e.change()
	before := e.state()
	w, err := sql.Open("sqlite", store.DSN(e.dbPath, true))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := w.Exec(`CREATE TRIGGER apply_fails BEFORE UPDATE ON devices BEGIN SELECT RAISE(ABORT, 'simulated I/O error'); END`); err != nil {
		t.Fatal(err)
	}

	run := e.sync(syncer.TriggerManual)
	if run.Outcome != model.RunFailed {
		t.Fatalf("status outcome %q, want failed", run.Outcome)
	}
	e.assertUnchanged(before) // holds: the apply was rolled back

	stored := e.storedRun(run.ID)
	if stored.Outcome != model.RunFailed || stored.FinishedAt == nil || strings.TrimSpace(stored.Error) == "" {
		t.Errorf("sync_runs row of a run whose apply failed: outcome %q, finished %v, error %q; want failed, finished, with the error",
			stored.Outcome, stored.FinishedAt, stored.Error)
	}
	if run.ErrorCode == "" {
		t.Errorf("the failed run has no error code")
	}
	if n := e.count(`SELECT COUNT(*) FROM audit_log WHERE action = 'sync.run'`); n != 2 {
		t.Errorf("sync.run audit rows = %d, want 2 (one per run)", n)
	}
}
