package syncer_test

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"postern/internal/actor"
	"postern/internal/defender"
	"postern/internal/emulator"
	"postern/internal/fleet"
	"postern/internal/integration"
	"postern/internal/model"
	"postern/internal/secret"
	"postern/internal/syncer"
	"postern/internal/testkit"
	"postern/internal/testkit/teststore"
	"postern/store"
	"postern/store/storetest"
)

// *store.Store is the Store the worker and LoadSnapshot run on, and so is
// any engine that passes the store conformance suite.
var (
	_ syncer.Store     = (*store.Store)(nil)
	_ syncer.Snapshots = (*store.Store)(nil)
	_ syncer.Store     = storetest.Store(nil)
)

var admin = actor.Actor{ID: 1, Email: "admin@example.com", Role: actor.Owner, IP: "192.0.2.10"}

// newClock is a settable clock shared by the emulator (token expiry,
// Retry-After dates) and the client's Retry-After parser. It starts on a
// whole second so an HTTP-date Retry-After is exact.
func newClock() *testkit.Clock { return testkit.NewClock(time.Now().UTC().Truncate(time.Second)) }

// env is a Worker on a real SQLite file and keyring, syncing from the
// emulator over loopback HTTP.
type env struct {
	t      *testing.T
	clk    *testkit.Clock
	emu    *emulator.Emulator
	url    string
	before atomic.Pointer[func(*http.Request)] // runs before the emulator sees a request
	dbPath string
	st     *store.Store
	raw    *sql.DB // read-only connection for dumps
	svc    *integration.Service
	holder *fleet.Holder
	w      *syncer.Worker
	wlog   *slog.Logger
	wopts  syncer.Options
	sleeps *testkit.Sleeps // ListOptions.Sleep: backoff is recorded, not waited
	logs   *testkit.Buffer
	cancel context.CancelFunc
	done   chan error
}

type envOptions struct {
	machines   int                  // emulator fleet; 0 → 50
	list       defender.ListOptions // PageSize, MaxAttempts; test timing filled in
	noStart    bool                 // configure but do not start the worker
	runTimeout time.Duration
	avGrace    time.Duration
}

func newEnv(t *testing.T, o envOptions) *env {
	t.Helper()
	if o.machines == 0 {
		o.machines = 50
	}
	e := &env{t: t, clk: newClock(), sleeps: &testkit.Sleeps{}, logs: &testkit.Buffer{}, holder: &fleet.Holder{}}
	e.emu = emulator.New(emulator.Config{Machines: o.machines, Seed: 11, Now: e.clk.Now})
	e.setFaults(emulator.Faults{})
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f := e.before.Load(); f != nil {
			(*f)(r)
		}
		e.emu.ServeHTTP(w, r)
	}))
	t.Cleanup(hs.Close)
	e.url = hs.URL

	st := teststore.Open(t, store.Options{})
	e.st, e.dbPath = st, st.Path()
	raw, err := sql.Open("sqlite", store.DSN(e.dbPath, false))
	if err != nil {
		t.Fatalf("open raw: %v", err)
	}
	e.raw = raw
	t.Cleanup(func() { raw.Close() })

	kr, _, err := secret.LoadKeyring("", filepath.Join(t.TempDir(), "master.key"))
	if err != nil {
		t.Fatalf("LoadKeyring: %v", err)
	}
	log := e.logs.Logger()
	e.svc = integration.New(st, kr, log, integration.Options{LoginURL: e.url, APIURL: e.url})
	e.configure()

	o.list.BaseBackoff, o.list.MaxBackoff = time.Millisecond, 5*time.Millisecond
	o.list.Sleep, o.list.Now = e.sleeps.Sleep, e.clk.Now
	e.wlog, e.wopts = log, syncer.Options{Interval: time.Hour, RunTimeout: o.runTimeout, AVGrace: o.avGrace, List: o.list}
	e.w = syncer.New(st, e.svc, e.holder, log, e.wopts)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("worker log:\n%s", e.logs.String())
		}
		if strings.Contains(e.logs.String(), emulator.DemoClientSecret) {
			t.Errorf("the worker logged the client secret")
		}
	})
	if !o.noStart {
		e.start()
	}
	return e
}

// setFaults replaces the emulator's faults; the rate limit stays off, since
// these tests make far more calls a minute than Defender allows and the
// limiter has its own tests.
func (e *env) setFaults(f emulator.Faults) {
	f.NoRateLimit = true
	e.emu.SetFaults(f)
}

// onRequest installs fn to see (and edit) each request before the emulator.
func (e *env) onRequest(fn func(*http.Request)) { e.before.Store(&fn) }

// configure saves the emulator's demo credentials (validated against it).
func (e *env) configure() {
	e.t.Helper()
	configureDemo(e.t, e.svc)
}

// disable turns the integration off, as admin.
func (e *env) disable() {
	e.t.Helper()
	if err := e.svc.Disable(actor.NewContext(context.Background(), admin)); err != nil {
		e.t.Fatalf("Disable: %v", err)
	}
}

// configureDemo saves the emulator's demo credentials in svc, as admin.
func configureDemo(t testing.TB, svc *integration.Service) {
	t.Helper()
	in := integration.Input{TenantID: emulator.DemoTenantID, ClientID: emulator.DemoClientID,
		ClientSecret: secret.Redacted(emulator.DemoClientSecret), Cloud: "commercial", Region: "global"}
	if _, err := svc.Configure(actor.NewContext(context.Background(), admin), in); err != nil {
		t.Fatalf("Configure: %v", err)
	}
}

// start runs the worker until the test ends and waits until it is idle in
// its loop (the startup sync is a second away; tests trigger their own).
func (e *env) start() {
	e.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel, e.done = cancel, make(chan error, 1)
	go func() { e.done <- e.w.Run(ctx) }()
	e.t.Cleanup(e.stop)
	e.waitFor("the worker to enter its loop", func() bool { return !e.w.Status().NextRun.IsZero() })
}

// restart stops the worker and starts a new one on the same store, as a
// restart of Postern would.
func (e *env) restart() {
	e.t.Helper()
	e.stop()
	e.w = syncer.New(e.st, e.svc, e.holder, e.wlog, e.wopts)
	e.start()
}

// stop cancels the worker and waits for Run to return.
func (e *env) stop() {
	if e.cancel == nil {
		return
	}
	e.cancel()
	select {
	case err := <-e.done:
		if err != nil {
			e.t.Errorf("Run returned %v", err)
		}
	case <-time.After(30 * time.Second):
		e.t.Errorf("Run did not return within 30 s of its context ending")
	}
	e.cancel = nil
}

func (e *env) waitFor(what string, cond func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			e.t.Fatalf("timed out waiting for %s; status %+v", what, e.w.Status())
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// sync triggers a run and waits until the worker is back in its loop, that
// is after the run was recorded and, on success, its snapshot published.
func (e *env) sync(reason string) model.SyncRun {
	e.t.Helper()
	before := e.w.Status()
	e.w.Trigger(reason)
	return e.waitRun(before)
}

// waitRun waits for a run newer than before.LastRun to end and for the loop
// to schedule the next one (NextRun is set only after runOnce returns).
func (e *env) waitRun(before syncer.Status) model.SyncRun {
	e.t.Helper()
	var prev int64
	if before.LastRun != nil {
		prev = before.LastRun.ID
	}
	var run model.SyncRun
	e.waitFor("the sync run to end", func() bool {
		s := e.w.Status()
		if s.LastRun == nil || s.LastRun.ID <= prev || s.Running || s.NextRun.Equal(before.NextRun) {
			return false
		}
		run = *s.LastRun
		return true
	})
	e.assertSnapshotMatchesStore()
	return run
}

// assertSnapshotMatchesStore checks that the published snapshot, however
// it was built, equals the one read back from the devices table.
func (e *env) assertSnapshotMatchesStore() {
	e.t.Helper()
	want, err := syncer.LoadSnapshot(context.Background(), e.st, integration.Name)
	if err != nil {
		e.t.Fatalf("load snapshot: %v", err)
	}
	got := e.holder.Load()
	if got.RunID != want.RunID || !got.SyncedAt.Equal(want.SyncedAt) || got.Active != want.Active {
		e.t.Errorf("published snapshot run %d at %v with %d active; the store says run %d at %v with %d active",
			got.RunID, got.SyncedAt, got.Active, want.RunID, want.SyncedAt, want.Active)
	}
	if got.AVUnknown != want.AVUnknown {
		e.t.Errorf("published snapshot says antivirus health unknown %q; the store says %q", got.AVUnknown, want.AVUnknown)
	}
	if !reflect.DeepEqual(got.Devices, want.Devices) {
		e.t.Errorf("published snapshot devices differ from the store's (%d vs %d devices)", got.Len(), want.Len())
		for i := range min(got.Len(), want.Len()) {
			if !reflect.DeepEqual(got.Devices[i], want.Devices[i]) {
				e.t.Errorf("first difference at %d:\n  published %+v\n  stored    %+v", i, got.Devices[i], want.Devices[i])
				break
			}
		}
	}
}

// idle triggers and waits until the loop has handled the trigger, for a
// trigger that must not start a run.
func (e *env) idle(reason string) {
	e.t.Helper()
	before := e.w.Status().NextRun
	e.w.Trigger(reason)
	e.waitFor("the trigger to be handled", func() bool { return !e.w.Status().NextRun.Equal(before) })
}

// storedRun reads a run back from sync_runs.
func (e *env) storedRun(id int64) model.SyncRun {
	e.t.Helper()
	runs, _, err := e.st.SyncRuns(context.Background(), 1000, 0)
	if err != nil {
		e.t.Fatalf("SyncRuns: %v", err)
	}
	for _, r := range runs {
		if r.ID == id {
			return r
		}
	}
	e.t.Fatalf("sync run %d not found", id)
	return model.SyncRun{}
}

// dump returns every row of devices and device_tags, every column, as
// SQLite stores it.
func (e *env) dump() []string {
	e.t.Helper()
	return append(teststore.Dump(e.t, e.raw.Query, "SELECT * FROM devices ORDER BY id"),
		teststore.Dump(e.t, e.raw.Query, "SELECT * FROM device_tags ORDER BY device_id, tag")...)
}

// count runs a COUNT(*) query.
func (e *env) count(q string, args ...any) int {
	e.t.Helper()
	var n int
	if err := e.raw.QueryRow(q, args...).Scan(&n); err != nil {
		e.t.Fatalf("%s: %v", q, err)
	}
	return n
}

// staged counts the staging rows, which only the writer connection sees.
func (e *env) staged() int {
	e.t.Helper()
	n, err := e.st.StagedCount(context.Background())
	if err != nil {
		e.t.Fatalf("count staged rows: %v", err)
	}
	return n
}

// device reads one stored device.
func (e *env) device(id string) model.Device {
	e.t.Helper()
	d, err := e.st.Device(context.Background(), id)
	if err != nil {
		e.t.Fatalf("Device(%s): %v", id, err)
	}
	return d
}

// ids lists the emulator's machine ids, lower case, in order.
func (e *env) ids() []string {
	var out []string
	for _, m := range e.emu.Machines() {
		out = append(out, strings.ToLower(m.ID))
	}
	return out
}

// change edits the fleet so that a sync that went through would show: every
// risk score flips, the first machine leaves, a new one arrives.
func (e *env) change() {
	e.emu.Mutate(func(ms []emulator.Machine) []emulator.Machine {
		for i := range ms {
			r := "High"
			if ms[i].RiskScore != nil && *ms[i].RiskScore == "High" {
				r = "Low"
			}
			ms[i].RiskScore = &r
		}
		n := ms[1]
		n.ID = strings.Repeat("ab", 20)
		n.ComputerDNSName = "newcomer.contoso.com"
		return append(ms[1:], n)
	})
}

// state is what a failed sync must leave alone.
type state struct {
	rows []string
	snap *fleet.Snapshot
}

func (e *env) state() state { return state{rows: e.dump(), snap: e.holder.Load()} }

// assertUnchanged checks the devices table, the tag rows and the published
// snapshot are exactly as in before.
func (e *env) assertUnchanged(before state) {
	e.t.Helper()
	after := e.dump()
	if strings.Join(after, "\n") != strings.Join(before.rows, "\n") {
		e.t.Errorf("devices changed by a failed sync:\nbefore %d rows, after %d rows\nfirst difference: %s",
			len(before.rows), len(after), firstDiff(before.rows, after))
	}
	if got := e.holder.Load(); got != before.snap {
		e.t.Errorf("snapshot was swapped by a failed sync: run %d (%d devices) → run %d (%d devices)",
			before.snap.RunID, before.snap.Len(), got.RunID, got.Len())
	}
	if n := e.staged(); n != 0 {
		e.t.Errorf("staged_devices holds %d rows after the run ended, want 0", n)
	}
}

func firstDiff(a, b []string) string {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return fmt.Sprintf("row %d\n  was %s\n  now %s", i, a[i], b[i])
		}
	}
	return fmt.Sprintf("lengths %d vs %d", len(a), len(b))
}

// machineRequests is how many API requests listed machines: the antivirus
// health report is read beside the listing, with its own budget.
func machineRequests(st emulator.Stats) int {
	return st.APIRequests - st.Paths["/api/deviceavinfo"]
}
