package e2e

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"postern/internal/testkit"
)

// hookSink is a webhook receiver: while down, and for the ids it holds
// back, it answers 503; it records every id it answered 2xx, and fails the test if one id comes with two
// bodies (a redelivery keeps the id and the body).
type hookSink struct {
	t         *testing.T
	up        atomic.Bool
	mu        sync.Mutex
	held      map[string]bool // refused while up
	delivered map[string]int
	bodies    map[string]string
	srv       *httptest.Server
}

func newHookSink(t *testing.T) *hookSink {
	h := &hookSink{t: t, delivered: map[string]int{}, bodies: map[string]string{}}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		id := r.Header.Get("webhook-id")
		h.mu.Lock()
		defer h.mu.Unlock()
		if prev, ok := h.bodies[id]; ok && prev != string(body) {
			h.t.Errorf("event %s came with two bodies:\n%s\n%s", id, prev, body)
		}
		h.bodies[id] = string(body)
		if !h.up.Load() || h.held[id] {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		h.delivered[id]++
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hookSink) missing(ids []string) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, id := range ids {
		if h.delivered[id] == 0 {
			out = append(out, id)
		}
	}
	return out
}

// outboxIDs lists every event id in the outbox, as the file holds it.
func outboxIDs(t *testing.T, path string) []string {
	t.Helper()
	db := openRO(t, path)
	defer db.Close()
	rows, err := db.Query("SELECT event_id FROM webhook_outbox ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	return ids
}

// TestWebhooksSurviveKill9: events written while the receiver is down, or
// while their delivery is under way, are all delivered after the process
// is killed with SIGKILL and started again: each event id in the outbox
// reaches the receiver at least once, with the same body every time.
func TestWebhooksSurviveKill9(t *testing.T) {
	sink := newHookSink(t)
	dataDir := t.TempDir()
	dbPath := filepath.Join(dataDir, "postern.db")
	srv := startServerIn(t, dataDir)
	c := newConsole(t)
	c.setUp(srv.URL)
	if res := c.post(srv.URL, "/settings/webhooks", url.Values{"url": {sink.srv.URL + "/hook"},
		"events": {"posture_check.changed"}}); res.StatusCode != http.StatusOK {
		t.Fatalf("adding the endpoint: %s", res.Status)
	}
	check := 0
	addChecks := func(base string, n int) {
		for range n {
			check++
			form := url.Values{"name": {fmt.Sprintf("Check %d", check)}, "source": {"device_report"}, "report_firewall": {"on"},
				"mode": {"monitor"}, "when_unavailable": {"allow"}, "enabled": {"on"}, "confirm_denied": {"1073741824"}}
			req, _ := http.NewRequest(http.MethodPost, base+"/zero-trust/posture-checks", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Sec-Fetch-Site", "same-origin")
			res, err := c.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != http.StatusSeeOther {
				t.Fatalf("saving check %d: %s\n%s", check, res.Status, body)
			}
		}
	}

	// The receiver is down: every event fails its first attempt and waits.
	addChecks(srv.URL, 10)
	time.Sleep(1500 * time.Millisecond) // a delivery pass or two
	srv.kill()
	if got := len(outboxIDs(t, dbPath)); got != 10 {
		t.Fatalf("%d events in the outbox after 10 checks, want 10", got)
	}

	// Trials: the receiver is up (but still refuses those 10, whose retries
	// may come due meanwhile), events are written and the process is killed
	// at a random moment while it delivers them.
	sink.mu.Lock()
	sink.held = map[string]bool{}
	for _, id := range outboxIDs(t, dbPath) {
		sink.held[id] = true
	}
	sink.mu.Unlock()
	sink.up.Store(true)
	for trial := range 3 {
		srv = startServerIn(t, dataDir)
		addChecks(srv.URL, 5)
		time.Sleep(rand.N(time.Second))
		srv.kill()
		if res := integrityCheck(t, dbPath); res != "ok" {
			t.Fatalf("trial %d: integrity_check = %q", trial, res)
		}
	}

	ids := outboxIDs(t, dbPath)
	if len(ids) != 25 {
		t.Fatalf("%d events in the outbox, want 25", len(ids))
	}
	// The events the down receiver refused wait for their retry: only the
	// outbox on disk can deliver them now.
	if missing := sink.missing(ids); len(missing) < 10 {
		t.Fatalf("only %d events undelivered before the restart, want at least the 10 refused", len(missing))
	}
	sink.mu.Lock()
	sink.held = nil
	sink.mu.Unlock()
	srv = startServerIn(t, dataDir)
	// The first retry of an event that failed is due 5–10 s after it.
	testkit.WaitFor(t, 60*time.Second, "every event delivered after the restart", func() bool {
		return len(sink.missing(ids)) == 0
	})
	srv.Stop()
	t.Logf("%d events delivered at least once each", len(ids))
}
