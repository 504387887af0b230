package metrics_test

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

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

// Requests are counted by route, method and code, each series found once
// and counted again after; a method of the client's own invention counts
// as "other", so clients cannot grow the label set.
func TestObserveCountsByRouteMethodAndCode(t *testing.T) {
	st := teststore.Open(t, store.Options{})
	m := metrics.New(st, &fleet.Holder{}, func() syncer.Status { return syncer.Status{} }, slog.New(slog.DiscardHandler))
	for range 3 {
		m.Observe("/api/v1/posture/forward-auth", "GET", 403, time.Millisecond)
	}
	m.Observe("/api/v1/posture/forward-auth", "GET", 200, time.Millisecond)
	m.Observe("", "PROPFIND", 404, time.Millisecond)
	m.Observe("", "X-INVENTED", 404, time.Millisecond)
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	for _, want := range []string{
		`postern_http_requests_total{code="403",method="GET",route="/api/v1/posture/forward-auth"} 3`,
		`postern_http_requests_total{code="200",method="GET",route="/api/v1/posture/forward-auth"} 1`,
		`postern_http_requests_total{code="404",method="other",route="unmatched"} 2`,
		`postern_http_request_duration_seconds_count{route="/api/v1/posture/forward-auth"} 4`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if strings.Contains(body, "PROPFIND") || strings.Contains(body, "X-INVENTED") {
		t.Error("a client's method became a label value")
	}
}
