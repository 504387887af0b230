package e2e

import (
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"postern/internal/defender"
	"postern/internal/emulator"
	"postern/internal/testkit"
	"postern/internal/testkit/teststore"
)

// TestCrashDuringSync is docs/security.md#item-34: kill -9 of a syncing server at random
// points, then restart. Each trial changes the emulated fleet, starts the
// real binary on the same data directory, asks for a sync (Sync now; the
// worker's startup sync would follow a second later anyway), SIGKILLs it
// after a random 0–2 s, and checks:
//
//   - PRAGMA integrity_check is ok on the files the crash left;
//   - the devices table (id → content_hash) is exactly the state before the
//     sync, or — only if the run committed as success before the kill —
//     exactly the state the whole listing gives: never a mix;
//   - on restart, every run the kill left 'running' is 'interrupted'.
//
// The emulator serves 5,000 machines. Postern always asks with $top=10000,
// which Defender (and the emulator) answer in one page without a nextLink;
// a proxy strips $top so the emulator pages by nextLink in pages of 500, 100 ms
// each, and a sync spans 1–1.5 s of fetching, staging and applying.
//
// 20 trials (3 with -short) take about 30 s. Under -race this process's own
// SQLite reads and JSON decoding slow down several times, so new trials stop
// after 75 s once 10 have run (about 13 trials in 80 s on 2 cores).
func TestCrashDuringSync(t *testing.T) {
	trials := 20
	if testing.Short() {
		trials = 3
	}
	start := time.Now()
	ms := startPagingMicrosoft(t, 5000)
	dataDir := t.TempDir()
	dbPath := filepath.Join(dataDir, "postern.db")

	srv := startServerIn(t, dataDir, ms.args()...)
	c := newConsole(t)
	c.setUp(srv.URL)
	c.configure(srv.URL)
	testkit.WaitFor(t, 30*time.Second, "the first successful sync", func() bool {
		return countRuns(t, dbPath, "success") > 0
	})
	srv.Stop() // SIGTERM: a clean exit is part of the contract
	first := readDevices(t, dbPath)
	if want := ms.expected(t, nil); !sameDevices(first, want) {
		t.Fatalf("after the first sync the devices table does not match the emulator: %s", diffDevices(first, want))
	}

	stats := map[string]int{}
	var leftRunning []int64 // by the last kill
	interrupted, done := 0, 0
	before := first // nothing writes between a kill and the next start
	for i := range trials {
		// The race detector slows this process (SQLite, JSON) far more
		// than the server: keep the test bounded, with enough trials.
		if i >= 10 && time.Since(start) > 75*time.Second {
			t.Logf("time budget reached: stopping after %d trials", i)
			break
		}
		ms.change(i)
		lastRun := maxRunID(t, dbPath)

		srv = startServerIn(t, dataDir, ms.args()...)
		checkInterrupted(t, dbPath, leftRunning)
		if !c.syncNow(srv.URL) {
			stats["startup sync (no Sync now)"]++
		}
		delay := rand.N(2 * time.Second)
		time.Sleep(delay)
		srv.kill()

		if res := integrityCheck(t, dbPath); res != "ok" {
			t.Fatalf("trial %d (kill after %v): integrity_check = %q", i+1, delay, res)
		}
		after := readDevices(t, dbPath)
		committed, running := false, []int64(nil)
		for _, r := range runsAfter(t, dbPath, lastRun) {
			switch r.outcome {
			case "success":
				committed = true
			case "running":
				running = append(running, r.id)
			}
		}
		if committed {
			if want := ms.expected(t, before); !sameDevices(after, want) {
				t.Errorf("trial %d (kill after %v): a run committed but devices are not the full new listing: %s", i+1, delay, diffDevices(after, want))
			}
		} else if !sameDevices(after, before) {
			t.Errorf("trial %d (kill after %v): no run committed but devices changed: %s", i+1, delay, diffDevices(after, before))
		}
		switch {
		case committed:
			stats["killed after the apply committed"]++
		case len(running) > 0:
			stats["killed during a sync"]++
		default:
			stats["killed before a sync started"]++
		}
		before, leftRunning = after, running
		interrupted += len(running)
		done++
		if t.Failed() {
			break
		}
	}

	// The last restart closes the runs the last kill left open.
	srv = startServerIn(t, dataDir, ms.args()...)
	checkInterrupted(t, dbPath, leftRunning)
	srv.Stop()
	if res := integrityCheck(t, dbPath); res != "ok" {
		t.Errorf("after a clean stop: integrity_check = %q", res)
	}
	if n := countRuns(t, dbPath, "running"); n != 0 {
		t.Errorf("%d runs still 'running' after a clean stop", n)
	}
	t.Logf("%d trials in %v: %v; %d runs were interrupted", done, time.Since(start).Round(time.Millisecond), stats, interrupted)
	if interrupted == 0 && done >= 10 {
		t.Errorf("no kill landed during a sync in %d trials: the test no longer exercises what it should", done)
	}
}

// pagingMicrosoft is the emulator behind a proxy that drops $top, so that
// listings come in nextLink pages of Faults.PageSize.
type pagingMicrosoft struct {
	emu     *emulator.Emulator
	backend *httptest.Server
	srv     *httptest.Server
}

func startPagingMicrosoft(t *testing.T, machines int) *pagingMicrosoft {
	t.Helper()
	m := &pagingMicrosoft{emu: emulator.New(emulator.Config{Machines: machines, Seed: 34})}
	m.emu.SetFaults(emulator.Faults{PageSize: 500, SlowPage: 100 * time.Millisecond, NoRateLimit: true})
	m.backend = httptest.NewServer(m.emu)
	target, _ := url.Parse(m.backend.URL)
	proxy := httputil.NewSingleHostReverseProxy(target)
	m.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(strings.ToLower(r.URL.Path), "/machines") {
			q := r.URL.Query()
			q.Del("$top")
			r.URL.RawQuery = strings.ReplaceAll(q.Encode(), "%24", "$")
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		m.srv.CloseClientConnections()
		m.srv.Close()
		m.backend.Close()
	})
	return m
}

func (m *pagingMicrosoft) args() []string {
	return []string{"--defender-login-url", m.srv.URL, "--defender-api-url", m.srv.URL}
}

// change edits the fleet a little differently each trial: risk scores of a
// tenth of the machines flip, three leave and three arrive.
func (m *pagingMicrosoft) change(trial int) {
	m.emu.Mutate(func(ms []emulator.Machine) []emulator.Machine {
		for i := trial % 10; i < len(ms); i += 10 {
			r := "High"
			if ms[i].RiskScore != nil && *ms[i].RiskScore == "High" {
				r = "Medium"
			}
			ms[i].RiskScore = &r
		}
		out := ms[3:]
		for k := range 3 {
			n := ms[k]
			n.ID = fmt.Sprintf("%040x", trial*10+k+1)
			n.ComputerDNSName = fmt.Sprintf("crash-%d-%d.contoso.com", trial, k)
			out = append(out, n)
		}
		return out
	})
}

// expected is the devices table a complete sync of the current fleet leaves
// on top of before: every listed machine with the hash Postern computes
// (the machine as Postern decodes and re-encodes it), and every unlisted
// device as it was (marked missed or removed, never deleted).
func (m *pagingMicrosoft) expected(t *testing.T, before map[string]string) map[string]string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, m.backend.URL+"/api/machines?$top=10000", nil)
	req.Header.Set("Authorization", "Bearer "+m.emu.Token())
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("listing the emulator: %v", err)
	}
	defer res.Body.Close()
	var page struct {
		Value []defender.Machine `json:"value"`
	}
	if err := json.NewDecoder(res.Body).Decode(&page); err != nil {
		t.Fatalf("decoding the emulator's listing: %v", err)
	}
	out := make(map[string]string, len(before)+len(page.Value))
	for id, h := range before {
		out[id] = h
	}
	for _, mc := range page.Value {
		mc.ID = strings.ToLower(mc.ID)
		raw, err := json.Marshal(mc)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(raw)
		out[mc.ID] = hex.EncodeToString(sum[:])
	}
	return out
}

// console signs in over plain HTTP, as a browser that sends Fetch Metadata.
type console struct {
	t      *testing.T
	client *http.Client
}

const (
	crashAdmin    = "admin@example.com"
	crashPassword = "correct horse battery staple"
)

func newConsole(t *testing.T) *console {
	jar, _ := cookiejar.New(nil)
	return &console{t: t, client: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (c *console) post(base, path string, form url.Values) *http.Response {
	c.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	res, err := c.client.Do(req)
	if err != nil {
		c.t.Fatalf("POST %s: %v", path, err)
	}
	res.Body.Close()
	return res
}

func (c *console) setUp(base string) {
	c.t.Helper()
	if res := c.post(base, "/setup", url.Values{"email": {crashAdmin}, "password": {crashPassword}, "confirm": {crashPassword}}); res.StatusCode != http.StatusSeeOther {
		c.t.Fatalf("POST /setup: %s", res.Status)
	}
	if res := c.post(base, "/login", url.Values{"email": {crashAdmin}, "password": {crashPassword}}); res.StatusCode != http.StatusSeeOther ||
		res.Header.Get("Location") == "/login" {
		c.t.Fatalf("POST /login: %s → %s", res.Status, res.Header.Get("Location"))
	}
}

func (c *console) configure(base string) {
	c.t.Helper()
	res := c.post(base, "/settings/integrations/defender", url.Values{"tenant_id": {emulator.DemoTenantID},
		"client_id": {emulator.DemoClientID}, "client_secret": {emulator.DemoClientSecret}, "cloud": {"commercial"}, "region": {"global"}})
	if res.StatusCode != http.StatusSeeOther {
		c.t.Fatalf("saving the Defender integration: %s", res.Status)
	}
}

// syncNow presses Sync now; it reports false when the route is not there
// (the startup sync then does the job a second later).
func (c *console) syncNow(base string) bool {
	c.t.Helper()
	res := c.post(base, "/settings/integrations/defender/sync", nil)
	switch res.StatusCode {
	case http.StatusSeeOther, http.StatusOK:
		if loc := res.Header.Get("Location"); strings.HasPrefix(loc, "/login") {
			c.t.Fatalf("Sync now sent us to %s: the session did not survive the restart", loc)
		}
		return true
	case http.StatusNotFound, http.StatusMethodNotAllowed:
		return false
	}
	c.t.Fatalf("Sync now: %s", res.Status)
	return false
}

// openRO opens the database read-only, as a separate process would.
func openRO(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func integrityCheck(t *testing.T, path string) string {
	t.Helper()
	db := openRO(t, path)
	defer db.Close()
	return strings.Join(teststore.Strings(t, db.Query, "PRAGMA integrity_check"), "; ")
}

// readDevices returns id → hex content_hash of every devices row.
func readDevices(t *testing.T, path string) map[string]string {
	t.Helper()
	db := openRO(t, path)
	defer db.Close()
	out := map[string]string{}
	for scan := range teststore.Each(t, db.Query, "SELECT id, content_hash FROM devices") {
		var id string
		var h []byte
		scan(&id, &h)
		out[id] = hex.EncodeToString(h)
	}
	return out
}

func sameDevices(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for id, h := range a {
		if b[id] != h {
			return false
		}
	}
	return true
}

// diffDevices summarises how got differs from want.
func diffDevices(got, want map[string]string) string {
	var missing, extra, differ []string
	for id, h := range want {
		switch g, ok := got[id]; {
		case !ok:
			missing = append(missing, id)
		case g != h:
			differ = append(differ, id)
		}
	}
	for id := range got {
		if _, ok := want[id]; !ok {
			extra = append(extra, id)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	sort.Strings(differ)
	first := func(s []string) []string { return s[:min(len(s), 3)] }
	return fmt.Sprintf("%d rows, want %d: %d missing %v, %d unexpected %v, %d with another hash %v",
		len(got), len(want), len(missing), first(missing), len(extra), first(extra), len(differ), first(differ))
}

type runRow struct {
	id      int64
	outcome string
}

func runsAfter(t *testing.T, path string, after int64) []runRow {
	t.Helper()
	db := openRO(t, path)
	defer db.Close()
	var out []runRow
	for scan := range teststore.Each(t, db.Query, "SELECT id, outcome FROM sync_runs WHERE id > ? ORDER BY id", after) {
		var r runRow
		scan(&r.id, &r.outcome)
		out = append(out, r)
	}
	return out
}

func maxRunID(t *testing.T, path string) int64 {
	t.Helper()
	db := openRO(t, path)
	defer db.Close()
	var id sql.NullInt64
	if err := db.QueryRow("SELECT MAX(id) FROM sync_runs").Scan(&id); err != nil {
		t.Fatal(err)
	}
	return id.Int64
}

func countRuns(t *testing.T, path, outcome string) int {
	t.Helper()
	db := openRO(t, path)
	defer db.Close()
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM sync_runs WHERE outcome = ?", outcome).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// checkInterrupted waits for the restarted server to close the runs a kill
// left open, and checks they are 'interrupted' with a finish time.
func checkInterrupted(t *testing.T, path string, ids []int64) {
	t.Helper()
	if len(ids) == 0 {
		return
	}
	db := openRO(t, path)
	defer db.Close()
	testkit.WaitFor(t, 10*time.Second, "the left-over runs to be closed", func() bool {
		for _, id := range ids {
			var outcome string
			if err := db.QueryRow("SELECT outcome FROM sync_runs WHERE id = ?", id).Scan(&outcome); err != nil || outcome == "running" {
				return false
			}
		}
		return true
	})
	for _, id := range ids {
		var outcome string
		var finished sql.NullString
		if err := db.QueryRow("SELECT outcome, finished_at FROM sync_runs WHERE id = ?", id).Scan(&outcome, &finished); err != nil {
			t.Fatal(err)
		}
		if outcome != "interrupted" || !finished.Valid {
			t.Errorf("run %d, left running by a kill: outcome %q, finished %v; want interrupted with a finish time", id, outcome, finished)
		}
	}
}
