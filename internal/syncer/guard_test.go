package syncer_test

import (
	"context"
	"strings"
	"testing"

	"postern/internal/actor"
	"postern/internal/apperr"
	"postern/internal/audit"
	"postern/internal/emulator"
	"postern/internal/model"
	"postern/internal/syncer"
)

func TestDecideRemoval(t *testing.T) {
	for _, c := range []struct {
		name    string
		percent int
		r       model.Removal
		want    string
	}{
		{"nothing missing", 10, model.Removal{Missing: 0, Active: 40}, model.RemovalApply},
		{"first sync", 10, model.Removal{Missing: 0, Active: 0}, model.RemovalApply},
		{"exactly the share", 10, model.Removal{Missing: 4, Active: 40}, model.RemovalApply},
		{"just over the share", 10, model.Removal{Missing: 5, Active: 40}, model.RemovalHold},
		{"half, first time", 10, model.Removal{Missing: 20, Active: 40}, model.RemovalHold},
		{"half, second time", 10, model.Removal{Missing: 20, Active: 40, HeldBefore: 1}, model.RemovalHold},
		{"half, third time", 10, model.Removal{Missing: 20, Active: 40, HeldBefore: 2}, model.RemovalAccept},
		{"all, third time", 10, model.Removal{Missing: 40, Active: 40, HeldBefore: 2}, model.RemovalHold},
		{"all, tenth time", 100, model.Removal{Missing: 40, Active: 40, HeldBefore: 9}, model.RemovalHold},
		{"all but one at 100 %", 100, model.Removal{Missing: 39, Active: 40}, model.RemovalApply},
		{"one of one", 10, model.Removal{Missing: 1, Active: 1, HeldBefore: 5}, model.RemovalHold},
	} {
		got := syncer.DecideRemoval(c.percent, c.r)
		if got.Verdict != c.want {
			t.Errorf("%s: DecideRemoval(%d, %+v) = %s, want %s", c.name, c.percent, c.r, got.Verdict, c.want)
		}
		if (got.Verdict == model.RemovalHold) != (got.Note != "") {
			t.Errorf("%s: note %q with verdict %s", c.name, got.Note, got.Verdict)
		}
		if got.Verdict == model.RemovalAccept && got.By != actor.Sync.Email {
			t.Errorf("%s: accepted by %q, want %q", c.name, got.By, actor.Sync.Email)
		}
	}
	if n := syncer.HeldNote(10, 1500, 3000); !strings.Contains(n, "1,500 of 3,000 active devices missing (50 %)") {
		t.Errorf("held note = %q", n)
	}
}

// A page that already says a run was held shows its note without the
// "Held:" label, as a sentence; a note without the label is kept.
func TestHeldReason(t *testing.T) {
	for note, want := range map[string]string{
		syncer.HeldNote(10, 20, 40): "This sync would mark 20 of 40 active devices missing (50 %)",
		syncer.HeldNote(10, 40, 40): "Microsoft listed none of the 40 active devices.",
		"Held: ":                    "Held: ",
		"an older note":             "an older note",
	} {
		if got := syncer.HeldReason(note); !strings.HasPrefix(got, want) {
			t.Errorf("HeldReason(%q) = %q, want it to start %q", note, got, want)
		}
	}
}

// held syncs once with the fleet shrunk and asserts the run was held and
// changed nothing.
func (e *env) held(missing, active int) model.SyncRun {
	e.t.Helper()
	before := e.state()
	run := e.sync(syncer.TriggerManual)
	if run.Outcome != model.RunHeld || run.Missing != missing || run.Active != active || run.Removed != 0 || run.AcceptedBy != "" {
		e.t.Fatalf("run %s missing %d of %d removed %d accepted by %q, want held %d of %d, none removed",
			run.Outcome, run.Missing, run.Active, run.Removed, run.AcceptedBy, missing, active)
	}
	if !strings.HasPrefix(run.Error, "Held: ") {
		e.t.Errorf("held run's note = %q", run.Error)
	}
	e.assertUnchanged(before)
	return run
}

func (e *env) acceptEntries() []audit.Entry {
	e.t.Helper()
	action := audit.SyncRemovalAccepted
	entries, _, err := e.st.AuditEntries(context.Background(), audit.Filter{Action: &action, Limit: 10})
	if err != nil {
		e.t.Fatal(err)
	}
	return entries
}

func TestRemovalGuardHalfTheFleetAcceptedOnTheThirdRun(t *testing.T) {
	e := newEnv(t, envOptions{machines: 40})
	if run := e.sync(syncer.TriggerManual); run.Outcome != model.RunSuccess || run.Added != 40 {
		t.Fatalf("first run %s added %d", run.Outcome, run.Added)
	}
	e.setFaults(emulator.Faults{ShrinkFleet: 50})
	first := e.held(20, 40)
	if !strings.Contains(first.Error, "20 of 40 active devices missing (50 %)") {
		t.Errorf("note = %q", first.Error)
	}
	e.held(20, 40)
	if n := len(e.acceptEntries()); n != 0 {
		t.Fatalf("%d acceptances after two held runs, want 0", n)
	}

	run := e.sync(syncer.TriggerManual)
	if run.Outcome != model.RunSuccess || run.Removed != 20 || run.AcceptedBy != actor.Sync.Email || run.AcceptedAt == nil {
		t.Fatalf("third run %s removed %d accepted by %q, want success 20 by %q", run.Outcome, run.Removed, run.AcceptedBy, actor.Sync.Email)
	}
	if snap := e.holder.Load(); snap.Active != 20 || snap.Len() != 40 {
		t.Errorf("snapshot active %d of %d, want 20 of 40", snap.Active, snap.Len())
	}
	if n := e.count("SELECT COUNT(*) FROM devices WHERE removed_at IS NOT NULL"); n != 20 {
		t.Errorf("%d devices removed, want 20", n)
	}
	entries := e.acceptEntries()
	if len(entries) != 1 || entries[0].Actor != actor.Sync.Email || !strings.Contains(entries[0].Detail, "20 of 40") {
		t.Fatalf("acceptance entries = %+v, want one by %s", entries, actor.Sync.Email)
	}
	// The next run finds nothing more to hold.
	if run := e.sync(syncer.TriggerManual); run.Outcome != model.RunSuccess || run.Removed != 0 {
		t.Errorf("after the acceptance: %s removed %d", run.Outcome, run.Removed)
	}
}

func TestRemovalGuardAdminAccepts(t *testing.T) {
	e := newEnv(t, envOptions{machines: 40})
	e.sync(syncer.TriggerManual)
	gone := e.ids()[39]
	e.setFaults(emulator.Faults{ShrinkFleet: 50})
	held := e.held(20, 40)

	if _, err := e.w.AcceptRemoval(context.Background(), held.ID); !apperr.Is(err, apperr.Forbidden) && !apperr.Is(err, apperr.Unauthorized) {
		t.Errorf("accept without an admin: %v, want refused", err)
	}
	before := e.w.Status()
	ctx := actor.NewContext(context.Background(), admin)
	run, err := e.w.AcceptRemoval(ctx, held.ID)
	if err != nil {
		t.Fatalf("AcceptRemoval: %v", err)
	}
	if run.Removed != 20 || run.AcceptedBy != admin.Email {
		t.Errorf("accepted run removed %d by %q, want 20 by %s", run.Removed, run.AcceptedBy, admin.Email)
	}
	if d := e.device(gone); d.RemovedAt == nil {
		t.Errorf("device %s still active after the acceptance", gone)
	}
	if snap := e.holder.Load(); snap.Active != 20 {
		t.Errorf("snapshot active %d, want 20", snap.Active)
	}
	entries := e.acceptEntries()
	if len(entries) != 1 || entries[0].Actor != admin.Email || entries[0].SourceIP != admin.IP {
		t.Errorf("acceptance entries = %+v, want one by %s", entries, admin.Email)
	}
	if _, err := e.w.AcceptRemoval(ctx, held.ID); !apperr.Is(err, apperr.Conflict) {
		t.Errorf("second accept: %v, want a conflict", err)
	}
	// The acceptance starts a sync, which applies the rest at once.
	if next := e.waitRun(before); next.Outcome != model.RunSuccess || next.Removed != 0 {
		t.Errorf("sync after the acceptance: %s removed %d", next.Outcome, next.Removed)
	}
	if stored := e.storedRun(held.ID); stored.AcceptedBy != admin.Email || stored.Removed != 20 {
		t.Errorf("stored held run accepted by %q removed %d", stored.AcceptedBy, stored.Removed)
	}
}

func TestRemovalGuardNeverAcceptsTheWholeFleetAlone(t *testing.T) {
	e := newEnv(t, envOptions{machines: 30})
	e.sync(syncer.TriggerManual)
	e.setFaults(emulator.Faults{ShrinkFleet: 100})
	var last model.SyncRun
	for range 4 {
		last = e.held(30, 30)
	}
	if !strings.Contains(last.Error, "never accepted automatically") {
		t.Errorf("note = %q", last.Error)
	}
	if n := len(e.acceptEntries()); n != 0 {
		t.Fatalf("%d acceptances, want 0", n)
	}
	// An earlier held run may not be accepted once a later one replaced it.
	ctx := actor.NewContext(context.Background(), admin)
	if _, err := e.w.AcceptRemoval(ctx, last.ID-1); !apperr.Is(err, apperr.Conflict) {
		t.Errorf("accepting a replaced run: %v, want a conflict", err)
	}
	run, err := e.w.AcceptRemoval(ctx, last.ID)
	if err != nil || run.Removed != 30 {
		t.Fatalf("AcceptRemoval = removed %d, %v; want 30", run.Removed, err)
	}
	if snap := e.holder.Load(); snap.Active != 0 || snap.Len() != 30 {
		t.Errorf("snapshot active %d of %d, want 0 of 30", snap.Active, snap.Len())
	}
}

// A failed run after a held one, or a restart, must not hide the removal
// waiting for an admin: Status.Held, which the card shows, keeps the held
// run until a success or an acceptance settles it.
func TestHeldRunOutlivesAFailureAndARestart(t *testing.T) {
	e := newEnv(t, envOptions{machines: 40})
	e.sync(syncer.TriggerManual)
	e.setFaults(emulator.Faults{ShrinkFleet: 50})
	held := e.held(20, 40)
	e.setFaults(emulator.Faults{ShrinkFleet: 50, APIDown: true})
	if run := e.sync(syncer.TriggerManual); run.Outcome != model.RunFailed {
		t.Fatalf("run after the held one: %s, want failed", run.Outcome)
	}
	if h := e.w.Status().Held; h == nil || h.ID != held.ID {
		t.Fatalf("after a failed run Status.Held = %+v, want run %d", h, held.ID)
	}
	e.restart()
	if h := e.w.Status().Held; h == nil || h.ID != held.ID {
		t.Fatalf("after a restart Status.Held = %+v, want run %d", h, held.ID)
	}
	if _, err := e.w.AcceptRemoval(actor.NewContext(context.Background(), admin), held.ID); err != nil {
		t.Fatalf("AcceptRemoval: %v", err)
	}
	if h := e.w.Status().Held; h != nil {
		t.Errorf("after the acceptance Status.Held = run %d, want none", h.ID)
	}
	e.restart()
	if h := e.w.Status().Held; h != nil {
		t.Errorf("accepted, then restarted: Status.Held = run %d, want none", h.ID)
	}
}
