package e2e

import (
	"net/http"
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"postern/internal/emulator"
	"postern/internal/testkit"
)

// TestSIGTERMDuringSync is security item 38 (docs/security.md#item-38) on
// the real binary: SIGTERM while a sync is fetching and while an admin's
// Save is waiting on Microsoft. The process exits 0 within the grace period;
// the Save, already in flight, still gets its answer; the sync is rolled
// back (devices as before, the run recorded as cancelled, not left
// running); and the database is closed cleanly: no -wal file left and
// PRAGMA integrity_check ok.
func TestSIGTERMDuringSync(t *testing.T) {
	ms := startPagingMicrosoft(t, 5000)
	dataDir := t.TempDir()
	dbPath := dataDir + "/postern.db"
	srv := startServerIn(t, dataDir, ms.args()...)
	c := newConsole(t)
	c.setUp(srv.URL)
	c.configure(srv.URL)
	testkit.WaitFor(t, 30*time.Second, "the first successful sync", func() bool { return countRuns(t, dbPath, "success") > 0 })
	testkit.WaitFor(t, 10*time.Second, "the first sync to finish", func() bool { return countRuns(t, dbPath, "running") == 0 })
	before := readDevices(t, dbPath)
	lastRun := maxRunID(t, dbPath)

	// The next listing differs, and each page (and the Save's one read
	// call) takes 1.5 s: ten pages are far longer than the test waits.
	ms.change(0)
	ms.emu.UpdateFaults(func(f *emulator.Faults) { f.SlowPage = 1500 * time.Millisecond })
	if !c.syncNow(srv.URL) {
		t.Fatal("Sync now is not there")
	}
	testkit.WaitFor(t, 10*time.Second, "the sync to start", func() bool { return countRuns(t, dbPath, "running") > 0 })

	tokens := ms.emu.Stats().TokenRequests
	saved := make(chan *http.Response, 1)
	failed := make(chan error, 1)
	go func() {
		form := url.Values{"tenant_id": {emulator.DemoTenantID}, "client_id": {emulator.DemoClientID},
			"client_secret": {emulator.DemoClientSecret}, "cloud": {"commercial"}, "region": {"global"}}
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/settings/integrations/defender", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		res, err := c.client.Do(req)
		if err != nil {
			failed <- err
			return
		}
		res.Body.Close()
		saved <- res
	}()
	// The Save is in its handler once it asks Microsoft for a token.
	testkit.WaitFor(t, 10*time.Second, "the Save to reach Microsoft", func() bool { return ms.emu.Stats().TokenRequests > tokens })

	start := time.Now()
	var exited bool
	srv.stopOnce.Do(func() {
		if err := srv.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatalf("SIGTERM: %v", err)
		}
		select {
		case <-srv.done:
			exited = true
		case <-time.After(20 * time.Second): // the 15 s grace, and some slack
			srv.cmd.Process.Kill()
			<-srv.done
		}
	})
	took := time.Since(start)
	if !exited {
		t.Fatalf("postern did not exit within 20 s of SIGTERM\n%s", srv.Output())
	}
	if srv.waitErr != nil {
		t.Errorf("postern exited with %v after SIGTERM, want 0\n%s", exitText(srv.waitErr), srv.Output())
	}
	t.Logf("exited %v after SIGTERM", took.Round(time.Millisecond))

	select {
	case res := <-saved:
		if res.StatusCode != http.StatusSeeOther {
			t.Errorf("the in-flight Save got %s, want 303 See Other", res.Status)
		}
	case err := <-failed:
		t.Errorf("the in-flight Save did not complete: %v", err)
	case <-time.After(5 * time.Second):
		t.Error("the in-flight Save got no answer")
	}

	if res := integrityCheck(t, dbPath); res != "ok" {
		t.Errorf("integrity_check = %q", res)
	}
	if fi, err := os.Stat(dbPath + "-wal"); err == nil && fi.Size() > 0 {
		t.Errorf("a %d-byte -wal file is left after a clean stop", fi.Size())
	}
	if after := readDevices(t, dbPath); !sameDevices(after, before) {
		t.Errorf("the interrupted sync changed the devices: %s", diffDevices(after, before))
	}
	runs := runsAfter(t, dbPath, lastRun)
	if len(runs) == 0 {
		t.Fatal("no run recorded for the interrupted sync")
	}
	for _, r := range runs {
		if r.outcome != "cancelled" {
			t.Errorf("run %d after SIGTERM: outcome %q, want cancelled", r.id, r.outcome)
		}
	}
}
