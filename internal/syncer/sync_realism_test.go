package syncer_test

import (
	"strings"
	"testing"

	"postern/internal/defender"
	"postern/internal/emulator"
	"postern/internal/model"
	"postern/internal/syncer"
)

// Two syncs answered by a proxy's HTML 404 once left no device active:
// each was read as "complete, no machines". Now each fails in plain
// words, nothing is marked missing, and the snapshot (the enforcement
// answers) stays the one of the last good run.
func TestSyncHTML404TwiceKeepsTheFleet(t *testing.T) {
	e := newEnv(t, envOptions{machines: 30, list: defender.ListOptions{PageSize: 10}})
	if run := e.sync(syncer.TriggerManual); run.Outcome != model.RunSuccess || run.Seen != 30 {
		t.Fatalf("first run %s seen %d", run.Outcome, run.Seen)
	}
	before := e.state()
	e.setFaults(emulator.Faults{Realism: emulator.Realism{HTML404: true}})
	for i := 0; i < 2; i++ {
		run := e.sync(syncer.TriggerSchedule)
		if run.Outcome != model.RunFailed || run.ErrorCode != "404 HTML" ||
			!strings.Contains(run.Error, "Microsoft answered 404 Not Found with an HTML page: check the API region and any proxy") {
			t.Fatalf("run %d: %s %q %q", i+1, run.Outcome, run.ErrorCode, run.Error)
		}
		e.assertUnchanged(before)
	}
	if n := e.count("SELECT COUNT(*) FROM devices WHERE removed_at IS NULL AND missed_runs = 0"); n != 30 {
		t.Errorf("%d of 30 devices active and never missed after two HTML 404s", n)
	}
}

// Defender's own JSON 404 on the first page is a tenant that has never
// used Defender: the run succeeds with no machines.
func TestSyncEmptyTenantJSON404IsNoMachines(t *testing.T) {
	e := newEnv(t, envOptions{machines: -1})
	e.setFaults(emulator.Faults{Realism: emulator.Realism{EmptyTenant: true}})
	run := e.sync(syncer.TriggerManual)
	if run.Outcome != model.RunSuccess || run.Seen != 0 || run.Pages != 1 {
		t.Fatalf("run %s seen %d pages %d: %s %s", run.Outcome, run.Seen, run.Pages, run.ErrorCode, run.Error)
	}
}

// rbacGroupId sent as a string, as Microsoft documents it, reads as the
// number; nothing is unreadable.
func TestSyncStringRBACGroup(t *testing.T) {
	e := newEnv(t, envOptions{machines: 25, list: defender.ListOptions{PageSize: 10}})
	e.setFaults(emulator.Faults{Realism: emulator.Realism{StringRBACGroup: true}})
	run := e.sync(syncer.TriggerManual)
	if run.Outcome != model.RunSuccess || run.Seen != 25 || run.Unreadable != 0 || run.Note != "" {
		t.Fatalf("run %s seen %d unreadable %d note %q", run.Outcome, run.Seen, run.Unreadable, run.Note)
	}
}

// A machine that cannot be read is skipped and counted, the run says so,
// and its device, already known, is kept as it was: not updated, not
// counted as gone however many runs it stays unreadable.
func TestSyncUnreadableMachinesAreCountedAndKept(t *testing.T) {
	e := newEnv(t, envOptions{machines: 60, list: defender.ListOptions{PageSize: 20}})
	if run := e.sync(syncer.TriggerManual); run.Outcome != model.RunSuccess || run.Seen != 60 {
		t.Fatalf("first run %s seen %d", run.Outcome, run.Seen)
	}
	e.setFaults(emulator.Faults{Realism: emulator.Realism{UnreadableEvery: 7}})
	var run model.SyncRun
	for i := 0; i < 3; i++ {
		run = e.sync(syncer.TriggerManual)
		if run.Outcome != model.RunSuccess || run.Unreadable == 0 || run.Removed != 0 || run.Seen != 60 {
			t.Fatalf("run %d: %s unreadable %d removed %d seen %d: %s", i+1, run.Outcome, run.Unreadable, run.Removed, run.Seen, run.Error)
		}
	}
	stored := e.storedRun(run.ID)
	want := " machines could not be read: machine "
	if run.Unreadable == 1 {
		want = "1 machine could not be read: machine "
	}
	if stored.Unreadable != run.Unreadable || !strings.Contains(stored.Note, want) || !strings.Contains(stored.Note, "osBuild") {
		t.Errorf("recorded unreadable %d note %q", stored.Unreadable, stored.Note)
	}
	if n := e.count("SELECT COUNT(*) FROM devices WHERE removed_at IS NULL AND missed_runs = 0"); n != 60 {
		t.Errorf("%d of 60 devices active after three runs with unreadable machines", n)
	}
	if e.holder.Load().Len() != 60 {
		t.Errorf("snapshot has %d devices, want 60", e.holder.Load().Len())
	}
	e.assertSnapshotMatchesStore()
}
