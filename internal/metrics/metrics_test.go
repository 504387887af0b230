package metrics_test

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"postern/internal/audit"
	"postern/internal/fleet"
	"postern/internal/metrics"
	"postern/internal/model"
	"postern/internal/syncer"
	"postern/internal/testkit/teststore"
	"postern/store"
	"postern/store/storetest"
)

// *store.Store is the Store the metrics read, and so is any engine that
// passes the store conformance suite.
var (
	_ metrics.Store = (*store.Store)(nil)
	_ metrics.Store = storetest.Store(nil)
)

// The run counters come from the store at scrape time.
func TestRunTotalsComeFromTheStore(t *testing.T) {
	ctx := context.Background()
	st := teststore.Open(t, store.Options{})
	for range 2 {
		run, err := st.StartRun(ctx, "defender", "manual")
		if err != nil {
			t.Fatal(err)
		}
		run.Outcome = model.RunFailed
		if _, err := st.FinishRun(ctx, run, audit.Entry{Actor: "system", Action: audit.SyncRun, Outcome: audit.Failure}); err != nil {
			t.Fatal(err)
		}
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	m := metrics.New(st, &fleet.Holder{}, func() syncer.Status { return syncer.Status{} }, log)
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	for _, want := range []string{`postern_sync_runs_total{outcome="failed"} 2`, `postern_sync_runs_total{outcome="success"} 0`} {
		if !strings.Contains(rec.Body.String(), want) {
			t.Errorf("metrics lack %q:\n%s", want, rec.Body.String())
		}
	}
}
