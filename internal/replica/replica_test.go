package replica

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"postern/internal/model"
	"postern/internal/testkit"
	"postern/internal/testkit/pgtest"
	"postern/store"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// testDB returns the URL of a fresh database with Postern's schema, and a
// pool on it for the test's own queries.
func testDB(t *testing.T) (string, *sql.DB) {
	t.Helper()
	url := pgtest.DatabaseURL(t)
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	// The store's migrations make the sync_leader table.
	st, err := store.Open(context.Background(), "", store.Options{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	return url, db
}

// terms records every term led, to show that no two overlap.
type terms struct {
	mu     sync.Mutex
	active map[string]bool
	log    []string // "name epoch" in the order terms began
	epochs []int64
	ended  map[string]error // why each replica's last term ended (its context's cause)
	t      *testing.T
}

func newTerms(t *testing.T) *terms {
	return &terms{active: map[string]bool{}, ended: map[string]error{}, t: t}
}

// lead is the work of replica name while it leads: it holds until its
// context ends.
func (ts *terms) lead(name string) func(ctx context.Context, epoch int64) error {
	return func(ctx context.Context, epoch int64) error {
		ts.mu.Lock()
		for other, on := range ts.active {
			if on {
				ts.t.Errorf("%s began term %d while %s still led", name, epoch, other)
			}
		}
		ts.active[name] = true
		ts.log = append(ts.log, fmt.Sprintf("%s %d", name, epoch))
		ts.epochs = append(ts.epochs, epoch)
		ts.mu.Unlock()
		<-ctx.Done()
		ts.mu.Lock()
		ts.active[name] = false
		ts.ended[name] = context.Cause(ctx)
		ts.mu.Unlock()
		return nil
	}
}

func (ts *terms) leader() string {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	for name, on := range ts.active {
		if on {
			return name
		}
	}
	return ""
}

type replicaRun struct {
	el   *Elector
	stop context.CancelFunc
	done chan struct{} // closed when Run returned
}

func startElector(t *testing.T, url, name string, lease time.Duration, lead func(context.Context, int64) error) *replicaRun {
	t.Helper()
	el := NewElector(ElectorOptions{URL: url, Name: name, Lease: lease, Retry: 100 * time.Millisecond})
	ctx, stop := context.WithCancel(context.Background())
	r := &replicaRun{el: el, stop: stop, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		if err := el.Run(ctx, lead); !errors.Is(err, context.Canceled) {
			t.Errorf("%s: Run returned %v", name, err)
		}
	}()
	t.Cleanup(func() {
		stop()
		<-r.done
	})
	return r
}

// Three replicas campaign: exactly one leads at a time, a stopped leader
// hands over within the retry interval, the epochs only grow and the table
// names the leader.
func TestOneLeaderAtATime(t *testing.T) {
	url, db := testDB(t)
	ts := newTerms(t)
	reps := map[string]*replicaRun{}
	for _, name := range []string{"a", "b", "c"} {
		reps[name] = startElector(t, url, name, 3*time.Second, ts.lead(name))
	}
	var prev string
	for round := range 3 {
		testkit.WaitFor(t, 5*time.Second, "a leader", func() bool { l := ts.leader(); return l != "" && l != prev })
		leader := ts.leader()
		var roles []string
		for name, r := range reps {
			if st := r.el.Status(); name == leader && st.Role != RoleLeader || name != leader && st.Role != RoleFollower && st.Epoch != 0 {
				roles = append(roles, fmt.Sprintf("%s: %+v", name, st))
			}
		}
		if len(roles) > 0 {
			t.Errorf("round %d, leader %s: roles %v", round, leader, roles)
		}
		var named string
		var epoch int64
		if err := db.QueryRow("SELECT replica, epoch FROM sync_leader").Scan(&named, &epoch); err != nil {
			t.Fatal(err)
		}
		if named != leader || epoch != reps[leader].el.Status().Epoch {
			t.Errorf("sync_leader names %s epoch %d, want %s epoch %d", named, epoch, leader, reps[leader].el.Status().Epoch)
		}
		// A stopped leader releases the lock by closing its session.
		reps[leader].stop()
		<-reps[leader].done
		delete(reps, leader)
		prev = leader
		if len(reps) == 0 {
			break
		}
	}
	for i := 1; i < len(ts.epochs); i++ {
		if ts.epochs[i] <= ts.epochs[i-1] {
			t.Errorf("epochs %v do not grow", ts.epochs)
		}
	}
	t.Logf("terms: %v", ts.log)
}

// The database ends the leader's lock session (pg_terminate_backend, as an
// admin or a failover would): the leader's work is told the lock is lost,
// and another replica leads.
func TestLeaderWhoseSessionEndsStepsDown(t *testing.T) {
	url, db := testDB(t)
	ts := newTerms(t)
	lease := 900 * time.Millisecond
	startElector(t, url, "a", lease, ts.lead("a"))
	testkit.WaitFor(t, 5*time.Second, "a to lead", func() bool { return ts.leader() == "a" })
	startElector(t, url, "b", lease, ts.lead("b"))

	var pid int
	if err := db.QueryRow("SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted").Scan(&pid); err != nil {
		t.Fatal(err)
	}
	var ok bool
	if err := db.QueryRow("SELECT pg_terminate_backend($1)", pid).Scan(&ok); err != nil || !ok {
		t.Fatalf("terminate the lock session: %v %v", ok, err)
	}
	start := time.Now()
	testkit.WaitFor(t, 5*time.Second, "b to lead", func() bool { return ts.leader() == "b" })
	ts.mu.Lock()
	cause := ts.ended["a"]
	ts.mu.Unlock()
	if !errors.Is(cause, ErrLeadershipLost) {
		t.Errorf("a's term ended with %v, want ErrLeadershipLost", cause)
	}
	t.Logf("b led %s after a's session was ended", time.Since(start).Round(10*time.Millisecond))
}

// A holder that stops answering (frozen: it keeps its session but runs no
// statement) loses the lock after one lease, and a follower takes over;
// the frozen session is gone when it wakes.
func TestFrozenHolderLosesTheLock(t *testing.T) {
	url, _ := testDB(t)
	lease := time.Second
	ctx := context.Background()
	frozen, err := acquire(ctx, url, lease)
	if err != nil {
		t.Fatal(err)
	}
	defer frozen.Close(ctx)
	ts := newTerms(t)
	start := time.Now()
	startElector(t, url, "b", lease, ts.lead("b"))
	testkit.WaitFor(t, 10*time.Second, "b to lead", func() bool { return ts.leader() == "b" })
	took := time.Since(start)
	if took < lease/2 {
		t.Errorf("b led after %s, before the frozen holder's lease of %s ran out", took, lease)
	}
	if _, err := frozen.Exec(ctx, "SELECT 1"); err == nil {
		t.Error("the frozen holder's session still answers after another replica took the lock")
	}
	t.Logf("b led %s after the holder froze (lease %s)", took.Round(10*time.Millisecond), lease)
}

// Changes reach the other replicas, not their maker; a NOTIFY in a rolled
// back transaction is never delivered; a lost listening session comes back
// and resyncs.
func TestListenerHandsOverChanges(t *testing.T) {
	url, db := testDB(t)
	var got sync.Map // kind -> Change
	var resyncs atomic.Int32
	ready := make(chan struct{})
	l := NewListener(ListenerOptions{URL: url, Name: "b",
		OnChange: func(_ context.Context, ch Change) { got.Store(ch.Kind, ch) },
		OnResync: func(context.Context) { resyncs.Add(1) }})
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx, ready) }()
	defer func() { stop(); <-done }()
	<-ready

	notify := func(q interface {
		Exec(string, ...any) (sql.Result, error)
	}, ch Change) {
		t.Helper()
		if _, err := q.Exec("SELECT pg_notify($1, $2)", model.ChangesChannel, ch.Payload()); err != nil {
			t.Fatal(err)
		}
	}
	notify(db, Change{Kind: model.ChangeTokens, Replica: "b"}) // b's own: not handed back
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	notify(tx, Change{Kind: model.ChangeIntegration, Replica: "a"})
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	notify(db, Change{Kind: model.ChangeSnapshot, Replica: "a", RunID: 7})
	testkit.WaitFor(t, 5*time.Second, "the snapshot change", func() bool { _, ok := got.Load(model.ChangeSnapshot); return ok })
	if v, _ := got.Load(model.ChangeSnapshot); v.(Change).RunID != 7 {
		t.Errorf("change %+v, want run 7", v)
	}
	if _, ok := got.Load(model.ChangeTokens); ok {
		t.Error("b was handed its own change")
	}
	if _, ok := got.Load(model.ChangeIntegration); ok {
		t.Error("a change notified in a rolled back transaction was delivered")
	}
	if resyncs.Load() != 0 {
		t.Errorf("%d resyncs before any session was lost", resyncs.Load())
	}

	if _, err := db.Exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query = 'LISTEN " + model.ChangesChannel + "'"); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 10*time.Second, "a resync after the lost session", func() bool { return resyncs.Load() == 1 })
	notify(db, Change{Kind: model.ChangePolicy, Replica: "a"})
	testkit.WaitFor(t, 5*time.Second, "a change after the reconnect", func() bool { _, ok := got.Load(model.ChangePolicy); return ok })
}
