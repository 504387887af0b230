package web

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"postern/internal/audit"
	"postern/internal/model"
)

// A run that skipped machines it could not read says so on Sync runs and
// on its own page.
func TestSyncRunShowsUnreadableMachines(t *testing.T) {
	e := newEnv(t)
	e.setup()
	ctx := context.Background()
	run, err := e.store.StartRun(ctx, "defender", "manual")
	if err != nil {
		t.Fatal(err)
	}
	note := `3 machines could not be read: machine aaaaaaaa1: cannot unmarshal into Go *int64 within "/osBuild"`
	run.Outcome, run.Unreadable, run.Note = model.RunSuccess, 3, note
	if _, err := e.store.FinishRun(ctx, run, audit.Entry{Actor: "system", Action: "sync.finished", Target: "defender", Outcome: audit.Success}); err != nil {
		t.Fatal(err)
	}
	c := e.signedIn()
	for _, path := range []string{"/sync-runs", "/sync-runs/1"} {
		res := c.get(path)
		wantStatus(t, res, http.StatusOK)
		if got := text(parse(t, res).Find("main")); !strings.Contains(got, note) {
			t.Errorf("%s does not show %q", path, note)
		}
	}
}
