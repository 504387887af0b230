package storetest

import (
	"testing"

	"postern/internal/apperr"
	"postern/internal/audit"
	"postern/internal/model"
)

func testRemovalGuard(t *testing.T, open Opener) {
	cases(t, open,
		tcase{"HeldRunAppliesNothingAndAcceptRemoves", removalHeldThenAccepted},
		tcase{"AcceptedVerdictRemovesAtOnce", removalAcceptedAtOnce},
	)
}

// guardedRun stages ds and finishes the run behind a guard that gives
// verdict, and returns the run and what the guard was shown.
func guardedRun(t *testing.T, s Store, ds []model.Device, verdict string) (model.SyncRun, model.Removal) {
	t.Helper()
	ctx := t.Context()
	run, err := s.StartRun(ctx, "defender", "manual")
	must(t, err, "StartRun")
	must(t, s.StageDevices(ctx, run.ID, ds), "StageDevices")
	run.Outcome, run.Seen, run.Pages = model.RunSuccess, len(ds), 1
	var shown model.Removal
	done, err := s.FinishGuardedRun(ctx, run, model.RunGuard{
		Decide: func(r model.Removal) model.RemovalVerdict {
			shown = r
			return model.RemovalVerdict{Verdict: verdict, Note: "Held: test", By: "postern (sync)"}
		},
		Audit: func(model.SyncRun) []audit.Entry { return []audit.Entry{entry(audit.SyncRun, "defender")} },
	})
	must(t, err, "FinishGuardedRun")
	return done, shown
}

func activeCount(t *testing.T, s Store) int {
	t.Helper()
	n := 0
	must(t, s.EachDevice(t.Context(), func(d model.Device) error {
		if d.RemovedAt == nil {
			n++
		}
		return nil
	}), "EachDevice")
	return n
}

func removalHeldThenAccepted(t *testing.T, s Store) {
	syncRun(t, s, devices(0, 10, "v1"))
	held, shown := guardedRun(t, s, devices(0, 4, "v2"), model.RemovalHold)
	if shown != (model.Removal{Missing: 6, Active: 10}) {
		t.Errorf("the guard was shown %+v, want 6 missing of 10", shown)
	}
	if held.Outcome != model.RunHeld || held.Missing != 6 || held.Active != 10 || held.Error != "Held: test" || !held.Held() {
		t.Fatalf("held run = %+v", held)
	}
	if n := activeCount(t, s); n != 10 {
		t.Errorf("%d active after a held run, want 10", n)
	}
	if d, err := s.Device(t.Context(), device(0, "").ID); err != nil || string(d.ContentHash) != "v1"+d.ID {
		t.Errorf("a held run applied its staged data: %v", err)
	}
	// The next held run sees the one before it.
	again, shown := guardedRun(t, s, devices(0, 4, "v2"), model.RemovalHold)
	if shown.HeldBefore != 1 {
		t.Errorf("second held run: HeldBefore %d, want 1", shown.HeldBefore)
	}
	by := func(model.SyncRun) audit.Entry { return entry(audit.SyncRemovalAccepted, "defender") }
	if _, err := s.AcceptHeldRun(t.Context(), held.ID, "admin@example.com", by); !apperr.Is(err, apperr.Conflict) {
		t.Errorf("accepting a replaced held run: %v, want a conflict", err)
	}
	done, err := s.AcceptHeldRun(t.Context(), again.ID, "admin@example.com", by)
	must(t, err, "AcceptHeldRun")
	if done.Removed != 6 || done.AcceptedBy != "admin@example.com" || done.AcceptedAt == nil || done.Held() {
		t.Errorf("accepted run = %+v", done)
	}
	if n := activeCount(t, s); n != 4 {
		t.Errorf("%d active after the acceptance, want 4", n)
	}
	if _, err := s.AcceptHeldRun(t.Context(), again.ID, "admin@example.com", by); !apperr.Is(err, apperr.Conflict) {
		t.Errorf("accepting twice: %v, want a conflict", err)
	}
	if _, err := s.AcceptHeldRun(t.Context(), 999999, "admin@example.com", by); !apperr.Is(err, apperr.NotFound) {
		t.Errorf("accepting an unknown run: %v, want not found", err)
	}
}

func removalAcceptedAtOnce(t *testing.T, s Store) {
	syncRun(t, s, devices(0, 10, "v1"))
	run, _ := guardedRun(t, s, devices(0, 5, "v1"), model.RemovalAccept)
	if run.Outcome != model.RunSuccess || run.Removed != 5 || run.AcceptedBy != "postern (sync)" {
		t.Errorf("accepted run = %+v, want success with 5 removed by postern (sync)", run)
	}
	if n := activeCount(t, s); n != 5 {
		t.Errorf("%d active, want 5", n)
	}
}
