package e2e

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"postern/internal/emulator"
	"postern/internal/testkit"
)

// A receiver that never answers, subscribed to every event type while
// events wait for it, slows nothing else in a real Postern: a sync run
// takes about as long as one before it (bounded at ten times that plus
// ten seconds, not a race), and evaluate and forward-auth answer each
// request within two seconds while the deliveries hang.
func TestHangingReceiverSlowsNothing(t *testing.T) {
	ms := startMicrosoftWith(t, emulator.Config{Machines: 200, Seed: 11})
	srv := StartServer(t, ms.args()...)
	dbPath := filepath.Join(srv.DataDir, "postern.db")
	c := newConsole(t)
	c.setUp(srv.URL)
	c.configure(srv.URL)
	testkit.WaitFor(t, 60*time.Second, "the first sync", func() bool { return countRuns(t, dbPath, "success") >= 1 })

	timedSync := func(what string) time.Duration {
		t.Helper()
		n := countRuns(t, dbPath, "success")
		start := time.Now()
		if !c.syncNow(srv.URL) {
			t.Fatal("no Sync now")
		}
		testkit.WaitFor(t, 2*time.Minute, what, func() bool { return countRuns(t, dbPath, "success") > n })
		return time.Since(start)
	}
	before := timedSync("a sync without the receiver")

	var hits atomic.Int32
	block := make(chan struct{})
	hung := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		hits.Add(1)
		<-block
	}))
	t.Cleanup(hung.Close)
	t.Cleanup(func() { close(block) }) // first, so that Close does not wait on the handlers
	c.postPage(srv.URL, "/settings/webhooks", url.Values{"url": {hung.URL + "/hook"}, "events": {"device.verdict_changed",
		"sync.failed", "sync.held", "integration.data_stale", "integration.secret_expiring", "posture_check.changed"}})
	for i := range 4 {
		res := c.post(srv.URL, "/zero-trust/posture-checks", url.Values{"name": {"Firewall " + strconv.Itoa(i)},
			"source": {"device_report"}, "report_firewall": {"on"}, "mode": {"monitor"}, "when_unavailable": {"allow"},
			"enabled": {"on"}})
		if res.StatusCode != http.StatusSeeOther {
			t.Fatalf("saving a posture check: %s", res.Status)
		}
	}
	testkit.WaitFor(t, 30*time.Second, "a delivery to the hanging receiver", func() bool { return hits.Load() > 0 })

	during := timedSync("a sync while the receiver hangs")
	t.Logf("sync: %s without the receiver, %s while it hangs", before, during)
	if during > 10*before+10*time.Second {
		t.Errorf("a sync took %s while a receiver hung, %s before", during, before)
	}

	token := c.createToken(srv.URL)
	db := openRO(t, dbPath)
	var machine string
	if err := db.QueryRow("SELECT id FROM devices LIMIT 1").Scan(&machine); err != nil {
		t.Fatal(err)
	}
	db.Close()
	client := &http.Client{Timeout: 30 * time.Second}
	for i := range 20 {
		start := time.Now()
		if code, _ := askVerdict(t, srv.URL, token, machine); code != http.StatusOK {
			t.Fatalf("evaluate answered %d while the receiver hung", code)
		}
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/api/v1/posture/forward-auth", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("X-Postern-Device-Id", machine)
		res, err := client.Do(req)
		if err != nil {
			t.Fatalf("forward-auth: %v", err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK && res.StatusCode != http.StatusForbidden {
			t.Fatalf("forward-auth answered %s while the receiver hung", res.Status)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("request %d: evaluate and forward-auth took %s while the receiver hung", i, d)
		}
	}
	if hits.Load() == 0 {
		t.Fatal("the receiver was never called: nothing was in flight")
	}
}
