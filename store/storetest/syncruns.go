package storetest

import (
	"fmt"
	"testing"

	"postern/internal/apperr"
	"postern/internal/audit"
	"postern/internal/model"
)

// device is a full Defender machine numbered i; version changes its
// content hash and raw machine.
func device(i int, version string) model.Device {
	id := fmt.Sprintf("%040x", i)
	first, last := at(1, 0), at(2, i%60)
	return model.Device{ID: id, Host: fmt.Sprintf("Host-%02d.contoso.com", i), AADDeviceID: ptr(fmt.Sprintf("aad-%02d", i)),
		OSPlatform: "Windows11", OSVersion: ptr("23H2"), OSBuild: ptr(int64(22631)), HealthStatus: "Active",
		RiskScore: ptr("Low"), ExposureLevel: ptr("Medium"), OnboardingStatus: "Onboarded", AVStatus: ptr("Updated"),
		IsAADJoined: true, FirstSeen: &first, LastSeen: &last, LastIP: ptr("10.0.0.1"),
		Tags: []string{"all", fmt.Sprintf("t%d", i%2)}, AgentVersion: ptr("10.8760.26100.1"), DeviceValue: ptr("Normal"), Raw: []byte(`{"id":"` + id + `","v":"` + version + `"}`),
		ContentHash: []byte(version + id)}
}

// devices numbers from to to-1.
func devices(from, to int, version string) []model.Device {
	var out []model.Device
	for i := from; i < to; i++ {
		out = append(out, device(i, version))
	}
	return out
}

// syncRun stages devices as one successful run of "defender" and applies it.
func syncRun(t *testing.T, s Store, ds []model.Device) model.SyncRun {
	t.Helper()
	ctx := t.Context()
	run, err := s.StartRun(ctx, "defender", "manual")
	must(t, err, "StartRun")
	must(t, s.StageDevices(ctx, run.ID, ds), "StageDevices")
	run.Outcome, run.Seen, run.Pages = model.RunSuccess, len(ds), 1
	done, err := s.FinishRun(ctx, run, entry(audit.SyncRun, "defender"))
	must(t, err, "FinishRun")
	must(t, s.Checkpoint(ctx), "Checkpoint")
	return done
}

// finish records run with outcome, applying nothing.
func finish(t *testing.T, s Store, run model.SyncRun, outcome string) model.SyncRun {
	t.Helper()
	run.Outcome = outcome
	done, err := s.FinishRun(t.Context(), run, entry(audit.SyncRun, run.Integration))
	must(t, err, "FinishRun")
	return done
}

func testStaging(t *testing.T, open Opener) {
	cases(t, open,
		tcase{"StageCountClear", stagingCount},
		tcase{"FailedRunAppliesNothing", stagingFailedRun},
		tcase{"LostStagingFailsTheApply", stagingLost},
		tcase{"MarkInterrupted", stagingInterrupted},
	)
}

func wantStaged(t *testing.T, s Store, want int) {
	t.Helper()
	if n, err := s.StagedCount(t.Context()); err != nil || n != want {
		t.Errorf("StagedCount = %d, %v; want %d", n, err, want)
	}
}

func stagingCount(t *testing.T, s Store) {
	ctx := t.Context()
	wantStaged(t, s, 0)
	run, err := s.StartRun(ctx, "defender", "manual")
	must(t, err, "StartRun")
	if run.ID == 0 || run.Outcome != model.RunRunning || run.Integration != "defender" || run.Trigger != "manual" ||
		!recent(s, run.StartedAt) || run.FinishedAt != nil {
		t.Errorf("StartRun = %+v", run)
	}
	must(t, s.StageDevices(ctx, run.ID, devices(0, 3, "v1")), "StageDevices")
	must(t, s.StageDevices(ctx, run.ID, devices(2, 4, "v2")), "StageDevices") // device 2 again
	wantStaged(t, s, 4)
	must(t, s.ClearStaging(ctx), "ClearStaging")
	wantStaged(t, s, 0)
	must(t, s.StageDevices(ctx, run.ID, devices(0, 2, "v1")), "StageDevices")
	next, err := s.StartRun(ctx, "defender", "schedule")
	must(t, err, "StartRun")
	if next.ID <= run.ID {
		t.Errorf("run ids %d then %d, want them increasing", run.ID, next.ID)
	}
	wantStaged(t, s, 0) // a new run drops what another left
}

func stagingFailedRun(t *testing.T, s Store) {
	ctx := t.Context()
	run, err := s.StartRun(ctx, "defender", "manual")
	must(t, err, "StartRun")
	must(t, s.StageDevices(ctx, run.ID, devices(0, 3, "v1")), "StageDevices")
	run.Outcome, run.Error, run.ErrorCode, run.Pages, run.ThrottledWaits = model.RunFailed, "Defender answered 503", "unavailable", 2, 1
	done, err := s.FinishRun(ctx, run, entry(audit.SyncRun, "defender"))
	must(t, err, "FinishRun")
	if done.FinishedAt == nil || !recent(s, *done.FinishedAt) || done.Added != 0 {
		t.Errorf("FinishRun = %+v", done)
	}
	wantStaged(t, s, 0)
	if n, err := s.CountDevices(ctx); err != nil || n != 0 {
		t.Errorf("CountDevices after a failed run = %d, %v; want 0", n, err)
	}
	got, err := s.LastRun(ctx, "defender")
	must(t, err, "LastRun")
	if got.ID != run.ID || got.Outcome != model.RunFailed || got.Error != run.Error || got.ErrorCode != run.ErrorCode ||
		got.Pages != 2 || got.ThrottledWaits != 1 || !sameTimePtr(got.FinishedAt, done.FinishedAt) {
		t.Errorf("the failed run read back as %+v", got)
	}
	wantAudit(t, s, audit.SyncRun, 1)
}

// An apply that finds fewer staged devices than the run staged fails and
// changes nothing, audit included.
func stagingLost(t *testing.T, s Store) {
	ctx := t.Context()
	run, err := s.StartRun(ctx, "defender", "manual")
	must(t, err, "StartRun")
	must(t, s.StageDevices(ctx, run.ID, devices(0, 3, "v1")), "StageDevices")
	run.Outcome, run.Seen = model.RunSuccess, 5
	if _, err := s.FinishRun(ctx, run, entry(audit.SyncRun, "defender")); err == nil {
		t.Fatal("FinishRun with 5 devices seen and 3 staged succeeded")
	}
	if n, err := s.CountDevices(ctx); err != nil || n != 0 {
		t.Errorf("CountDevices after the refused apply = %d, %v; want 0", n, err)
	}
	wantAudit(t, s, audit.SyncRun, 0)
	if got, err := s.LastRun(ctx, "defender"); err != nil || got.Outcome != model.RunRunning {
		t.Errorf("the run after the refused apply: %+v, %v; want it still running", got, err)
	}
}

func stagingInterrupted(t *testing.T, s Store) {
	ctx := t.Context()
	done, err := s.StartRun(ctx, "defender", "manual")
	must(t, err, "StartRun")
	finish(t, s, done, model.RunFailed)
	run, err := s.StartRun(ctx, "defender", "manual")
	must(t, err, "StartRun")
	must(t, s.StageDevices(ctx, run.ID, devices(0, 2, "v1")), "StageDevices")
	n, err := s.MarkInterrupted(ctx)
	if err != nil || n != 1 {
		t.Fatalf("MarkInterrupted = %d, %v; want 1", n, err)
	}
	wantStaged(t, s, 0)
	got, err := s.LastRun(ctx, "defender")
	must(t, err, "LastRun")
	if got.ID != run.ID || got.Outcome != model.RunInterrupted || got.FinishedAt == nil || got.Error == "" {
		t.Errorf("the interrupted run: %+v", got)
	}
	if again, err := s.LastRun(ctx, "defender", model.RunFailed); err != nil || again.ID != done.ID {
		t.Errorf("the failed run: %+v, %v; want it untouched", again, err)
	}
	if n, err := s.MarkInterrupted(ctx); err != nil || n != 0 {
		t.Errorf("MarkInterrupted again = %d, %v; want 0", n, err)
	}
}

func testSyncRuns(t *testing.T, open Opener) {
	s := open(t)
	ctx := t.Context()
	_, err := s.LastRun(ctx, "defender")
	wantKind(t, err, apperr.NotFound, "LastRun before any run")
	var ids []int64
	for _, o := range []string{model.RunSuccess, model.RunFailed, model.RunSuccess, model.RunCancelled} {
		if o == model.RunSuccess {
			ids = append(ids, syncRun(t, s, nil).ID)
			continue
		}
		run, err := s.StartRun(ctx, "defender", "schedule")
		must(t, err, "StartRun")
		run.ThrottledWaits = 2
		ids = append(ids, finish(t, s, run, o).ID)
	}
	other, err := s.StartRun(ctx, "other", "manual")
	must(t, err, "StartRun")
	finish(t, s, other, model.RunFailed)

	runs, total, err := s.SyncRuns(ctx, 2, 1)
	must(t, err, "SyncRuns")
	if total != 5 || len(runs) != 2 || runs[0].ID != ids[3] || runs[1].ID != ids[2] {
		t.Errorf("SyncRuns(2, 1) = %+v total %d, want runs %d and %d of 5", runs, total, ids[3], ids[2])
	}
	for _, tc := range []struct {
		outcomes []string
		want     int64
	}{
		{nil, ids[3]},
		{[]string{model.RunSuccess}, ids[2]},
		{[]string{model.RunFailed, model.RunSuccess}, ids[2]},
		{[]string{model.RunFailed}, ids[1]},
	} {
		if got, err := s.LastRun(ctx, "defender", tc.outcomes...); err != nil || got.ID != tc.want {
			t.Errorf("LastRun(defender, %q) = run %d, %v; want %d", tc.outcomes, got.ID, err, tc.want)
		}
	}
	_, err = s.LastRun(ctx, "other", model.RunSuccess)
	wantKind(t, err, apperr.NotFound, "LastRun of an outcome the integration never had")
	totals, err := s.RunTotals(ctx)
	must(t, err, "RunTotals")
	want := map[string]int{model.RunSuccess: 2, model.RunFailed: 2, model.RunCancelled: 1}
	if fmt.Sprint(totals.ByOutcome) != fmt.Sprint(want) || totals.ThrottledWaits != 4 {
		t.Errorf("RunTotals = %+v, want %v and 4 throttled waits", totals, want)
	}
}
