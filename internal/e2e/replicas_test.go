package e2e

import (
	"database/sql"
	"encoding/json"
	"net/http"
	"net/url"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"postern/internal/testkit"
	"postern/internal/testkit/pgtest"
)

// leaderLockPid finds the session holding the sync leader lock (the
// advisory lock 0x706f737465726e03: class id and object id are its two
// halves).
const leaderLockPid = `SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND classid = 1886352244 AND objid = 1701998083 AND granted`

// replicaSet is two or more Postern processes on one PostgreSQL database.
type replicaSet struct {
	t    *testing.T
	url  string
	key  string // the shared master key file
	args []string
	db   *sql.DB
	reps map[string]*Server
}

func (r *replicaSet) start(name string) *Server {
	r.t.Helper()
	args := append([]string{"--database-url", r.url, "--replica-name", name, "--leader-lease", "3s",
		"--master-key-file", r.key}, r.args...)
	s := startServerIn(r.t, r.t.TempDir(), args...)
	r.reps[name] = s
	return s
}

// role is what name's /readyz?verbose says of it.
func (r *replicaSet) role(name string) string {
	res, err := http.Get(r.reps[name].URL + "/readyz?verbose")
	if err != nil {
		return ""
	}
	defer res.Body.Close()
	var v struct {
		Replica struct{ Role string } `json:"replica"`
	}
	json.NewDecoder(res.Body).Decode(&v)
	return v.Replica.Role
}

// leader waits for one of names to be the sync leader and returns it.
func (r *replicaSet) leader(names ...string) string {
	r.t.Helper()
	var got string
	testkit.WaitFor(r.t, 30*time.Second, "a sync leader", func() bool {
		for _, n := range names {
			if r.role(n) == "sync leader" {
				got = n
				return true
			}
		}
		return false
	})
	return got
}

func (r *replicaSet) count(q string, args ...any) int {
	r.t.Helper()
	var n int
	if err := r.db.QueryRow(q, args...).Scan(&n); err != nil {
		r.t.Fatal(err)
	}
	return n
}

// runsOverlap reports two sync runs whose spans overlap: the runs table
// of a set whose leaders never applied at the same time has none.
func (r *replicaSet) runsOverlap() string {
	r.t.Helper()
	rows, err := r.db.Query(`SELECT a.id, a.replica, b.id, b.replica FROM sync_runs a JOIN sync_runs b ON a.id < b.id
		WHERE a.outcome <> 'running' AND b.outcome <> 'running' AND b.started_at < a.finished_at LIMIT 1`)
	if err != nil {
		r.t.Fatal(err)
	}
	defer rows.Close()
	if rows.Next() {
		var a, b int64
		var ra, rb string
		rows.Scan(&a, &ra, &b, &rb)
		return "run " + ra + "#" + itoa(a) + " overlaps run " + rb + "#" + itoa(b)
	}
	return ""
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

// Two replicas on one PostgreSQL behind no balancer: both answer alike
// after a sync, a check made on one changes the other's answers within
// 2 s, a session made on one works on the other, and when the sync
// leader is killed in the middle of a run (kill -9), frozen (SIGSTOP) or
// loses its lock session (pg_terminate_backend), the other takes over,
// closes the run it left, syncs, and never overlaps its runs, while the
// survivor answers a continuous load without an error.
func TestReplicasShareAndFailOver(t *testing.T) {
	dbURL := pgtest.DatabaseURL(t)
	db, err := sql.Open("pgx", dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ms := startPagingMicrosoft(t, 5000)
	r := &replicaSet{t: t, url: dbURL, key: filepath.Join(t.TempDir(), "master.key"), args: ms.args(), db: db, reps: map[string]*Server{}}
	a := r.start("a")
	b := r.start("b")

	c := newConsole(t)
	c.setUp(a.URL)
	c.configure(a.URL)
	testkit.WaitFor(t, 60*time.Second, "the first sync", func() bool {
		return r.count("SELECT COUNT(*) FROM sync_runs WHERE outcome = 'success'") > 0
	})
	token := c.createToken(a.URL)
	high, low := pickMachines(t, ms.emu.Machines())

	// A session made on a works on b (the cookie jar sends it to both).
	res, err := c.client.Get(b.URL + "/settings/integrations")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("b with a's session: %s → %s", res.Status, res.Header.Get("Location"))
	}

	// Both answer alike, from the same sync.
	testkit.WaitFor(t, 10*time.Second, "both replicas to answer alike", func() bool {
		for _, id := range []string{high, low} {
			ca, va := askVerdict(t, a.URL, token, id)
			cb, vb := askVerdict(t, b.URL, token, id)
			if ca != http.StatusOK || cb != http.StatusOK || !sameVerdict(va, vb) || va.Device.ID == "" {
				return false
			}
		}
		return true
	})

	// A check made on a denies the High-risk machine on b within 2 s.
	check := url.Values{"name": {"Low risk only"}, "source": {"defender"}, "max_risk": {"Medium"},
		"mode": {"enforce"}, "when_unavailable": {"deny"}, "enabled": {"on"}, "confirm_denied": {"1000000000"}}
	if res := c.post(a.URL, "/zero-trust/posture-checks", check); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("saving the check on a: %s", res.Status)
	}
	made := time.Now()
	testkit.WaitFor(t, 2*time.Second, "b to deny the High-risk machine after the check made on a", func() bool {
		_, v := askVerdict(t, b.URL, token, high)
		return !v.Allowed
	})
	t.Logf("b followed a's new check in %v", time.Since(made).Round(time.Millisecond))

	// Failovers, under load on every live replica.
	kinds := []string{"kill -9", "SIGSTOP", "pg_terminate_backend"}
	for _, how := range kinds {
		lead := r.leader("a", "b")
		other := map[string]string{"a": "b", "b": "a"}[lead]
		ms.change(len(r.reps))
		before := r.count("SELECT COUNT(*) FROM sync_runs")
		if !c.syncNow(r.reps[other].URL) { // a follower's Sync now reaches the leader
			t.Fatal("Sync now is not offered")
		}
		testkit.WaitFor(t, 20*time.Second, "the leader's run to start", func() bool {
			return r.count("SELECT COUNT(*) FROM sync_runs WHERE outcome = 'running' AND replica = $1 AND id > $2", lead, before) > 0
		})
		stop := make(chan struct{})
		var errs atomic.Int64
		var asked atomic.Int64
		var wg sync.WaitGroup
		survivor := r.reps[other]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				code, _ := tryVerdict(survivor.URL, token, high)
				asked.Add(1)
				if code != http.StatusOK {
					errs.Add(1)
				}
			}
		}()
		began := time.Now()
		switch how {
		case "kill -9":
			r.reps[lead].kill()
		case "SIGSTOP":
			r.reps[lead].cmd.Process.Signal(syscall.SIGSTOP)
		case "pg_terminate_backend":
			if _, err := db.Exec("SELECT pg_terminate_backend(pid) FROM (" + leaderLockPid + ") l"); err != nil {
				t.Fatal(err)
			}
		}
		testkit.WaitFor(t, 20*time.Second, other+" to take the lead after "+how, func() bool { return r.role(other) == "sync leader" })
		took := time.Since(began)
		testkit.WaitFor(t, 60*time.Second, other+"'s own successful sync", func() bool {
			return r.count("SELECT COUNT(*) FROM sync_runs WHERE outcome = 'success' AND replica = $1 AND id > $2", other, before) > 0
		})
		close(stop)
		wg.Wait()
		if n := r.count("SELECT COUNT(*) FROM sync_runs WHERE replica = $1 AND id > $2 AND outcome <> 'running'", lead, before); n != 1 {
			t.Errorf("%s: the deposed leader's run was not closed (%d closed runs of %s)", how, n, lead)
		}
		if o := r.runsOverlap(); o != "" {
			t.Errorf("%s: %s", how, o)
		}
		if errs.Load() > 0 {
			t.Errorf("%s: %d of %d evaluate calls to the survivor failed", how, errs.Load(), asked.Load())
		}
		t.Logf("%s: %s took over in %v; %d evaluate calls to it meanwhile", how, other, took.Round(100*time.Millisecond), asked.Load())

		// The deposed leader comes back as a follower.
		switch how {
		case "kill -9":
			r.start(lead)
		case "SIGSTOP":
			r.reps[lead].cmd.Process.Signal(syscall.SIGCONT)
		}
		testkit.WaitFor(t, 20*time.Second, lead+" to follow", func() bool { return r.role(lead) == "follower" })
		if got := r.role(other); got != "sync leader" {
			t.Fatalf("after %s, %s is %q", how, other, got)
		}
	}
	testkit.WaitFor(t, 10*time.Second, "both replicas to answer alike at the end", func() bool {
		_, va := askVerdict(t, r.reps["a"].URL, token, low)
		_, vb := askVerdict(t, r.reps["b"].URL, token, low)
		return sameVerdict(va, vb)
	})
}
