package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"postern/internal/emulator"
	"postern/internal/testkit"
)

// hookInbox is a receiver that keeps every request it got and answers 204.
type hookInbox struct {
	mu  sync.Mutex
	got []signedRequest
	srv *httptest.Server
}

func newHookInbox(t *testing.T) *hookInbox {
	h := &hookInbox{}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		h.got = append(h.got, signedRequest{r.Header.Get("webhook-id"), r.Header.Get("webhook-timestamp"),
			r.Header.Get("webhook-signature"), string(body)})
		h.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hookInbox) requests() []signedRequest {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.got)
}

// runEvent is the body of a sync.failed or sync.held event.
type runEvent struct {
	Type      string    `json:"type"`
	Timestamp time.Time `json:"timestamp"`
	Data      struct {
		RunID     int64  `json:"run_id"`
		Outcome   string `json:"outcome"`
		Error     string `json:"error"`
		ErrorCode string `json:"error_code"`
		Seen      int    `json:"seen"`
		Missing   int    `json:"missing"`
		Active    int    `json:"active"`
	} `json:"data"`
}

// waitEvent waits for the receiver's request number n (0-based), checks
// its Standard Webhooks signature with secret and decodes its body.
func waitEvent(t *testing.T, h *hookInbox, n int, secret, what string) runEvent {
	t.Helper()
	testkit.WaitFor(t, 30*time.Second, what+" at the receiver", func() bool { return len(h.requests()) > n })
	r := h.requests()[n]
	if !validSignature(secret, r) {
		t.Fatalf("%s: the signature %q does not verify with the endpoint's secret (id %q, timestamp %q)", what, r.sig, r.id, r.ts)
	}
	if ts, err := strconv.ParseInt(r.ts, 10, 64); err != nil || time.Since(time.Unix(ts, 0)).Abs() > 5*time.Minute {
		t.Errorf("%s: webhook-timestamp %q is not now", what, r.ts)
	}
	if !strings.HasPrefix(r.id, "msg_") {
		t.Errorf("%s: webhook-id %q", what, r.id)
	}
	var ev runEvent
	if err := json.Unmarshal([]byte(r.body), &ev); err != nil {
		t.Fatalf("%s: body %q: %v", what, r.body, err)
	}
	return ev
}

// lastRun reads the newest sync run as the database holds it.
func lastRun(t *testing.T, path string) (id int64, outcome, errText, code string) {
	t.Helper()
	db := openRO(t, path)
	defer db.Close()
	if err := db.QueryRow("SELECT id, outcome, error, error_code FROM sync_runs ORDER BY id DESC LIMIT 1").
		Scan(&id, &outcome, &errText, &code); err != nil {
		t.Fatal(err)
	}
	return id, outcome, errText, code
}

// postPage posts a console form and returns the page it answered with.
func (c *console) postPage(base, path string, form url.Values) string {
	c.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	res, err := c.client.Do(req)
	if err != nil {
		c.t.Fatalf("POST %s: %v", path, err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		c.t.Fatalf("POST %s: %s\n%.1000s", path, res.Status, body)
	}
	return string(body)
}

var (
	whsecRE = regexp.MustCompile(`whsec_[A-Za-z0-9+/=]+`)
	pstRE   = regexp.MustCompile(`pst_[a-z2-7]+`)
)

// A real Postern, an endpoint subscribed to sync.failed and sync.held, and
// the Defender emulator made to fail: the failed run arrives signed with
// the endpoint's secret, naming the run and Microsoft's error; a listing
// that lost half the fleet arrives as sync.held; /metrics counts both
// deliveries.
func TestSyncEventsFromRealSyncs(t *testing.T) {
	ms := startMicrosoftWith(t, emulator.Config{Machines: 40, Seed: 7})
	srv := StartServer(t, ms.args()...)
	dbPath := filepath.Join(srv.DataDir, "postern.db")
	inbox := newHookInbox(t)
	c := newConsole(t)
	c.setUp(srv.URL)
	page := c.postPage(srv.URL, "/settings/webhooks", url.Values{"url": {inbox.srv.URL + "/hook"},
		"events": {"sync.failed", "sync.held"}})
	secret := whsecRE.FindString(page)
	if secret == "" {
		t.Fatalf("the new endpoint's secret is not shown:\n%.2000s", page)
	}
	// Tokens live a second, so the failing sync asks for a new one rather
	// than use the first sync's.
	ms.emu.SetFaults(emulator.Faults{TokenLifetime: time.Second})
	c.configure(srv.URL)
	testkit.WaitFor(t, 60*time.Second, "the first sync", func() bool { return countRuns(t, dbPath, "success") >= 1 })
	if got := inbox.requests(); len(got) != 0 {
		t.Fatalf("a successful sync sent %d events: %+v", len(got), got)
	}

	// Microsoft refuses the (right) client secret as expired: the run fails.
	ms.emu.SetFaults(emulator.Faults{TokenLifetime: time.Second, ExpiredSecret: true})
	time.Sleep(time.Second) // the first sync's token has expired
	before := maxRunID(t, dbPath)
	if !c.syncNow(srv.URL) {
		t.Fatal("no Sync now")
	}
	failed := waitEvent(t, inbox, 0, secret, "sync.failed")
	id, outcome, errText, code := lastRun(t, dbPath)
	if id <= before || outcome != "failed" {
		t.Fatalf("the newest run is %d %s, want a failed run after %d", id, outcome, before)
	}
	if failed.Type != "sync.failed" || failed.Data.RunID != id || failed.Data.Outcome != "failed" {
		t.Errorf("event %+v, want sync.failed of run %d", failed, id)
	}
	if failed.Data.ErrorCode != code || !strings.Contains(code, "7000222") || failed.Data.Error != errText ||
		!strings.Contains(failed.Data.Error, "expired") {
		t.Errorf("the event's error is %q (%q), want the run's %q (%q): Microsoft's AADSTS7000222, the secret expired",
			failed.Data.Error, failed.Data.ErrorCode, errText, code)
	}
	t.Logf("sync.failed of run %d: %s (%s)", id, failed.Data.Error, failed.Data.ErrorCode)

	// The listing leaves out half the fleet: the removal guard holds the run.
	ms.emu.SetFaults(emulator.Faults{ShrinkFleet: 50})
	if !c.syncNow(srv.URL) {
		t.Fatal("no Sync now")
	}
	held := waitEvent(t, inbox, 1, secret, "sync.held")
	id, _, _, _ = lastRun(t, dbPath)
	if held.Type != "sync.held" || held.Data.RunID != id || held.Data.Seen != 20 || held.Data.Missing != 20 || held.Data.Active != 40 {
		t.Errorf("event %+v, want sync.held of run %d: 20 of 40 seen, 20 missing", held, id)
	}
	if a, b := inbox.requests()[0], inbox.requests()[1]; a.id == b.id {
		t.Errorf("two events with one webhook-id %s", a.id)
	}

	token := pstRE.FindString(c.postPage(srv.URL, "/settings/api-tokens", url.Values{"name": {"Prometheus"}}))
	if token == "" {
		t.Fatal("the new API token is not shown")
	}
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	lines := strings.Split(string(body), "\n")
	for _, want := range []string{`postern_webhook_deliveries_total{outcome="delivered"} 2`,
		`postern_webhook_deliveries_total{outcome="retry"} 0`, `postern_webhook_outbox_pending 0`,
		`postern_webhook_delivery_duration_seconds_count 2`, `postern_sync_runs_total{outcome="failed"} 1`} {
		if !slices.Contains(lines, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}
