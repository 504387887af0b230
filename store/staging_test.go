package store_test

import (
	"context"
	"testing"

	"postern/internal/audit"
	"postern/internal/model"
	"postern/store"
)

// A device staged twice in a run, in one page or in two, is applied as
// its last copy; on PostgreSQL the second case is the COPY that meets a
// key already staged and stages the page again with INSERT … ON CONFLICT.
func TestStageDevicesTwiceKeepsTheLastCopy(t *testing.T) {
	engines(t, func(t *testing.T, open opener) {
		s := open(t, store.Options{})
		ctx := context.Background()
		a, b, c := testDevices(0, 3, "1"), testDevices(1, 2, "2"), testDevices(2, 3, "2")
		c3 := testDevices(2, 3, "3")
		run, err := s.StartRun(ctx, "defender", "manual")
		if err != nil {
			t.Fatal(err)
		}
		pages := [][]model.Device{
			a,                                 // devices 0, 1, 2
			{b[0], testDevices(3, 4, "1")[0]}, // device 1 again, and 3
			{c[0], c3[0]},                     // device 2 twice in one page
		}
		for i, p := range pages {
			if err := s.StageDevices(ctx, run.ID, p); err != nil {
				t.Fatalf("page %d: %v", i, err)
			}
		}
		if n, err := s.StagedCount(ctx); err != nil || n != 4 {
			t.Fatalf("staged %d, %v; want 4 distinct devices", n, err)
		}
		run.Outcome, run.Seen = model.RunSuccess, 4
		done, err := s.FinishRun(ctx, run, audit.Entry{Actor: "test", Action: "sync.run", Outcome: audit.Success})
		if err != nil {
			t.Fatal(err)
		}
		if done.Added != 4 {
			t.Errorf("added %d, want 4", done.Added)
		}
		for _, want := range []model.Device{a[0], b[0], c3[0]} {
			got, err := s.Device(ctx, want.ID)
			if err != nil {
				t.Fatal(err)
			}
			if string(got.ContentHash) != string(want.ContentHash) || string(got.Raw) != string(want.Raw) {
				t.Errorf("device %s applied as %q, want its last copy %q", want.ID, got.ContentHash, want.ContentHash)
			}
		}
	})
}
