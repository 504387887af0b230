package web

import (
	"context"
	"io"
	"log/slog"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"postern/internal/audit"
	"postern/internal/decisionlog"
	"postern/internal/fleet"
	"postern/internal/model"
	"postern/internal/syncer"
	"postern/internal/testkit/pgtest"
	"postern/internal/testkit/teststore"
	"postern/store"
)

// BenchmarkEvaluateReplica compares evaluate's throughput on a console
// whose store is SQLite with a follower replica's on PostgreSQL. Both
// hold the same 100,000 devices, stored by a sync run and read back
// into the snapshot (on PostgreSQL by the follower's Reload, as after a
// leader's notification), the same 20 checks and an API token; the same
// load generator posts the same bodies to each. Target (issue 15): the
// follower within 10 % of SQLite, since the answers come from memory.
// SQLite and PostgreSQL alternate, three rounds, each ratio against the
// SQLite run just before it (load from elsewhere shifts both alike), with
// the decision log off and then on (its writes go to each console's
// store); the last sub-benchmark, median, reports each median ratio.
//
//	go test ./web -run '^$' -bench BenchmarkEvaluateReplica -benchtime 100000x
func BenchmarkEvaluateReplica(b *testing.B) {
	r := rand.New(rand.NewPCG(7, 11))
	fl := evBenchDevices(r, evBenchFleet)
	var envs [2]*evBenchEnv
	for i, pg := range []bool{false, true} {
		con := newReplicaBenchConsole(b, fl, pg)
		// The same bodies for both: drawn from the same devices by the
		// same seed.
		envs[i] = con.evBenchEnv(b, rand.New(rand.NewPCG(13, 17)), con.fleet.Load().Devices)
		envs[i].conns = lightConns() // the load issue 15's figures were measured with
	}
	lite, pg := envs[0], envs[1]
	var ratios [2][]float64
	for range 3 {
		for log, name := range []string{"", "_log_on"} {
			// b.Run calls each function more than once (b.N = 1 first):
			// the ratio of a round is taken from the last, full runs.
			var base, got float64
			b.Run("sqlite"+name, func(b *testing.B) {
				base = lite.runReplica(b, log == 1)
			})
			b.Run("postgres_follower"+name, func(b *testing.B) {
				if got = pg.runReplica(b, log == 1); base > 0 && got > 0 {
					b.ReportMetric(got/base, "ratio-pg/sqlite")
				}
			})
			if base > 0 && got > 0 {
				ratios[log] = append(ratios[log], got/base)
			}
		}
	}
	// The medians, as a sub-benchmark's metrics (a parent's log is not
	// printed once it has sub-benchmarks).
	b.Run("median", func(b *testing.B) {
		for log, name := range []string{"ratio-pg/sqlite", "ratio-pg/sqlite-log-on"} {
			if rs := ratios[log]; len(rs) > 0 {
				slices.Sort(rs)
				b.ReportMetric(rs[len(rs)/2], name)
			}
		}
	})
}

// runReplica measures b.N evaluations of the environment's bodies and
// returns evaluations per second; withLog records the decisions as
// production does (decisionlog.DefaultSample, flushed to the console's
// store in the background).
func (e *evBenchEnv) runReplica(b *testing.B, withLog bool) float64 {
	if !withLog {
		return e.run(b).perSec
	}
	l := decisionlog.New(e.st, 0, decisionlog.DefaultSample, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	e.srv.decisions = l
	perSec := e.run(b).perSec
	e.srv.decisions = nil
	stop()
	<-done
	b.ReportMetric(float64(l.Written()), "recorded")
	return perSec
}

// newReplicaBenchConsole builds a console over a new store, SQLite or
// PostgreSQL, holding fl as one successful sync stored it, and loads its
// snapshot from the store: on PostgreSQL the console is a follower
// replica whose snapshot a leader's sync (another store on the same
// database) filled.
func newReplicaBenchConsole(b *testing.B, fl []fleet.Device, pg bool) benchConsole {
	b.Helper()
	ctx := context.Background()
	o := partsOptions{log: slog.New(slog.NewTextHandler(io.Discard, nil)), now: time.Now,
		enabled: func(context.Context) (bool, error) { return true, nil }, syncer: syncer.Options{Interval: time.Hour}}
	if pg {
		o.store = store.Options{URL: pgtest.DatabaseURL(b), Replica: "follower"}
		leader := teststore.OpenAt(b, "", store.Options{URL: o.store.URL, Replica: "leader"})
		storeSyncRun(b, leader, fl)
		o.syncer.Replica = true
	}
	p := newParts(b, o)
	con := benchConsole{parts: p, srv: p.server(Deps{})}
	start := time.Now()
	if pg {
		con.pol.Follow()
		if err := con.worker.Reload(ctx); err != nil {
			b.Fatal(err)
		}
	} else {
		storeSyncRun(b, con.st, fl)
		if err := con.worker.Load(ctx); err != nil {
			b.Fatal(err)
		}
	}
	if n := con.fleet.Load().Active; n == 0 || n != con.fleet.Load().Len() {
		b.Fatalf("the snapshot holds %d active devices of %d", n, con.fleet.Load().Len())
	}
	b.Logf("pg %v: the snapshot of %d devices loaded from the store in %s", pg, con.fleet.Load().Len(), time.Since(start).Round(time.Millisecond))
	return con
}

// storeSyncRun records a successful sync run of fl's active devices in
// st, staged in pages of 10,000 as a sync stages them.
func storeSyncRun(b *testing.B, st *store.Store, fl []fleet.Device) {
	b.Helper()
	ctx := context.Background()
	run, err := st.StartRun(ctx, "defender", "scheduled")
	if err != nil {
		b.Fatal(err)
	}
	page := make([]model.Device, 0, 10_000)
	flush := func() {
		if err := st.StageDevices(ctx, run.ID, page); err != nil {
			b.Fatal(err)
		}
		run.Seen += len(page)
		page = page[:0]
	}
	for _, d := range fl {
		if d.Removed {
			continue
		}
		if page = append(page, evStoredDevice(d)); len(page) == cap(page) {
			flush()
		}
	}
	flush()
	run.Outcome = model.RunSuccess
	if _, err := st.FinishRun(ctx, run, audit.Entry{Actor: "postern (sync)", Action: "sync.run", Outcome: audit.Success}); err != nil {
		b.Fatal(err)
	}
}
