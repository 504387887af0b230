package web

import (
	"strings"
	"testing"

	"postern/internal/emulator"
	"postern/internal/model"
	"postern/internal/syncer"
)

// heldRunNow syncs once with half the fleet missing and returns the run,
// which the mass-removal guard holds.
func heldRunNow(t *testing.T, d *defenderEnv) model.SyncRun {
	t.Helper()
	last := d.worker.Status().LastRun.ID
	d.emu.SetFaults(emulator.Faults{ShrinkFleet: 50})
	defer d.emu.SetFaults(emulator.Faults{})
	d.worker.Trigger(syncer.TriggerManual)
	run := d.waitRunAfter(t, last)
	if run.Outcome != model.RunHeld {
		t.Fatalf("the shrunk listing's run is %s, want held", run.Outcome)
	}
	return run
}

// While a sync is held the card's badge says so in amber, not Connected;
// the notice says "held" once, in its title; and an older held run's page
// speaks of that run, offering Accept removal only while the acceptance's
// own rule allows it (the latest listing).
func TestHeldSyncIsSaidOnceAndForItsRun(t *testing.T) {
	d, c := connected(t)
	first := heldRunNow(t, d)

	card := parse(t, c.get("/settings/integrations"))
	badge := card.Find("#defender-card-title").Next()
	if got, _ := badge.Attr("title"); got != "Sync held" || !strings.Contains(badge.AttrOr("class", ""), "amber") {
		t.Errorf("while a sync is held the card's badge is %q (class %q), want an amber Sync held", got, badge.AttrOr("class", ""))
	}
	notice := text(card.Find(testID("held-notice")))
	if !strings.HasPrefix(notice, "The last sync was held") || strings.Contains(notice, "Held:") {
		t.Errorf("the card's held notice reads %q: want its title to say held, and no Held: label after it", notice)
	}
	if reason := text(card.Find(testID("held-reason"))); !strings.HasPrefix(reason, "This sync would mark 10 of 20 active devices missing") {
		t.Errorf("the held notice's reason reads %q", reason)
	}
	if card.Find(testID("accept-removal")).Length() != 1 {
		t.Error("the card offers no Accept removal for the held sync")
	}
	for _, cell := range texts(parse(t, c.get("/sync-runs")).Find("tbody td")) {
		if strings.HasPrefix(cell, "Held:") {
			t.Errorf("the sync runs list repeats the Held badge in the message %q", cell)
		}
	}

	second := heldRunNow(t, d) // a later listing, held too: the first can no longer be accepted
	older := parse(t, c.get("/sync-runs/"+itoa(first.ID)))
	notice = text(older.Find(testID("held-notice")))
	if !strings.HasPrefix(notice, "This sync was held") || strings.Contains(notice, "The last sync") {
		t.Errorf("an older held run's page says %q, want it worded for that run", notice)
	}
	if older.Find(testID("accept-removal")).Length() != 0 || older.Find(testID("held-superseded")).Length() != 1 {
		t.Error("an older held run's page offers Accept removal, or does not say that a later sync replaced it")
	}
	latest := parse(t, c.get("/sync-runs/"+itoa(second.ID)))
	if latest.Find(testID("accept-removal")).Length() != 1 || latest.Find(testID("held-superseded")).Length() != 0 {
		t.Error("the latest held run's page does not offer Accept removal")
	}
	if notice := text(latest.Find(testID("held-notice"))); !strings.HasPrefix(notice, "This sync was held") {
		t.Errorf("the held run's page says %q", notice)
	}
}
