package storetest

import (
	"bytes"
	"slices"
	"testing"

	"postern/internal/audit"
	"postern/internal/model"
)

func testApply(t *testing.T, open Opener) {
	cases(t, open,
		tcase{"AddChangeMissRemoveReturn", applyLifecycle},
		tcase{"StagingTwiceKeepsTheLater", applyLaterCopy},
	)
}

type counts struct{ seen, added, changed, removed int }

func wantCounts(t *testing.T, run model.SyncRun, want counts) {
	t.Helper()
	if got := (counts{run.Seen, run.Added, run.Changed, run.Removed}); got != want {
		t.Errorf("run %d counted %+v, want %+v", run.ID, got, want)
	}
}

func applyLifecycle(t *testing.T, s Store) {
	ctx := t.Context()
	first := syncRun(t, s, devices(0, 4, "v1"))
	wantCounts(t, first, counts{4, 4, 0, 0})
	if first.FinishedAt == nil || first.Outcome != model.RunSuccess {
		t.Errorf("first run %+v", first)
	}
	d, err := s.Device(ctx, device(0, "").ID)
	must(t, err, "Device")
	if d.ChangedRunID != first.ID || d.MissedRuns != 0 || d.RemovedAt != nil || !recent(s, d.FirstSyncedAt) {
		t.Errorf("provenance after the first run: %+v", d)
	}

	// Device 0 changes, 1 and 2 do not, 3 is missed once.
	second := syncRun(t, s, append(devices(0, 1, "v2"), devices(1, 3, "v1")...))
	wantCounts(t, second, counts{3, 0, 1, 0})
	wantProvenance(t, s, 0, second.ID, 0, false)
	wantProvenance(t, s, 1, first.ID, 0, false)
	wantProvenance(t, s, 3, first.ID, 1, false)
	if d, _ := s.Device(ctx, device(0, "").ID); !bytes.Equal(d.Raw, device(0, "v2").Raw) {
		t.Errorf("the changed device's raw machine is %s, want the new one", d.Raw)
	}

	// Missed twice: removed, yet still a device row.
	third := syncRun(t, s, append(devices(0, 1, "v2"), devices(1, 3, "v1")...))
	wantCounts(t, third, counts{3, 0, 0, 1})
	wantProvenance(t, s, 3, first.ID, 2, true)
	if n, err := s.CountDevices(ctx); err != nil || n != 4 {
		t.Errorf("CountDevices = %d, %v; want 4, the removed one included", n, err)
	}

	// Seen again, unchanged: active again, and counted as a change.
	fourth := syncRun(t, s, append(devices(0, 1, "v2"), devices(1, 4, "v1")...))
	wantCounts(t, fourth, counts{4, 0, 1, 0})
	wantProvenance(t, s, 3, fourth.ID, 0, false)
}

// wantProvenance checks device i's sync bookkeeping.
func wantProvenance(t *testing.T, s Store, i int, changedRun int64, missed int, removed bool) {
	t.Helper()
	d, err := s.Device(t.Context(), device(i, "").ID)
	must(t, err, "Device")
	if d.ChangedRunID != changedRun || d.MissedRuns != missed || (d.RemovedAt != nil) != removed {
		t.Errorf("device %d: changed in run %d, missed %d, removed at %v; want run %d, missed %d, removed %v",
			i, d.ChangedRunID, d.MissedRuns, d.RemovedAt, changedRun, missed, removed)
	}
	if removed && !recent(s, *d.RemovedAt) {
		t.Errorf("device %d removed at %v, want about now", i, d.RemovedAt)
	}
}

func applyLaterCopy(t *testing.T, s Store) {
	ctx := t.Context()
	run, err := s.StartRun(ctx, "defender", "manual")
	must(t, err, "StartRun")
	must(t, s.StageDevices(ctx, run.ID, devices(0, 2, "v1")), "StageDevices")
	later := device(1, "v2")
	later.Host, later.Tags = "renamed.contoso.com", []string{"late"}
	must(t, s.StageDevices(ctx, run.ID, []model.Device{later}), "StageDevices")
	run.Outcome, run.Seen = model.RunSuccess, 2
	done, err := s.FinishRun(ctx, run, entry(audit.SyncRun, "defender"))
	must(t, err, "FinishRun")
	wantCounts(t, done, counts{2, 2, 0, 0})
	d, err := s.Device(ctx, later.ID)
	must(t, err, "Device")
	if d.Host != later.Host || !slices.Equal(d.Tags, later.Tags) || !bytes.Equal(d.Raw, later.Raw) {
		t.Errorf("device staged twice read back as %+v, want the later copy", d)
	}
	wantStaged(t, s, 0)
}
