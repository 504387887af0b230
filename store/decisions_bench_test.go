package store_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"postern/internal/model"
	"postern/internal/testkit/teststore"
	"postern/store"
)

// BenchmarkAppendDecisions is the decision log's write cost per decision:
// batches of 512 denials of five failed checks each, with reasons, of the
// same 512 devices each time (BenchmarkAppendDecisionsFleet draws them
// from a fleet, as a gateway's are).
func BenchmarkAppendDecisions(b *testing.B) {
	st := teststore.Open(b, store.Options{})
	batch := make([]model.Decision, 512)
	for i := range batch {
		var cs []model.DecisionCheck
		for j := range 5 {
			cs = append(cs, model.DecisionCheck{ID: int64(j + 1), Name: fmt.Sprint("Check ", j), Mode: "enforce", Result: "fail",
				Reasons: []string{"risk score High exceeds the allowed Medium (Defender data from 2026-11-25T10:00:00Z)"}})
		}
		batch[i] = model.Decision{At: time.Now(), DeviceID: fmt.Sprintf("%040x", i), Hostname: fmt.Sprint("host-", i, ".corp.example.com"),
			MatchedBy: "defender_machine_id", MatchedKey: fmt.Sprintf("%040x", i), Result: model.DecisionDenied, Checks: cs, TokenID: 1, Source: "10.0.0.1"}
	}
	b.ResetTimer()
	for range b.N {
		if err := st.AppendDecisions(context.Background(), batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*len(batch)), "µs/decision")
}

// BenchmarkAppendDecisionsFleet is the write cost per decision as it is
// under load: denials of random devices of a fleet of 100,000, into a log
// that already holds prefill (indexed), in transactions of each size, with
// IndexDecisions once every minute decisions (the decision log calls it
// once a minute: 65,536 is ten seconds of the benchmark's denials, 393,216
// a minute), its time included. A transaction writes whole every page it
// touches: the table's and the recent keys' are new pages, filled in
// order; IndexDecisions touches a page of the device index per distinct
// device, up to the whole index, once for the minute.
func BenchmarkAppendDecisionsFleet(b *testing.B) {
	const fleet = 100_000
	r := rand.New(rand.NewPCG(3, 5))
	decision := func() model.Decision {
		n := r.IntN(fleet)
		cs := []model.DecisionCheck{{ID: int64(1 + r.IntN(20)), Name: "Risk score", Mode: "enforce", Result: "fail",
			Reasons: []string{"risk score High exceeds the allowed Medium (Defender data from 2026-11-25T10:00:00Z)"}}}
		return model.Decision{At: time.Now(), DeviceID: fmt.Sprintf("%040x", n), Hostname: fmt.Sprint("host-", n, ".corp.example.com"),
			MatchedBy: "defender_machine_id", MatchedKey: fmt.Sprintf("%040x", n), Result: model.DecisionDenied, Checks: cs, TokenID: 1, Source: "10.0.0.1"}
	}
	for _, bc := range []struct {
		postgres              bool
		prefill, size, minute int
	}{
		{false, 300_000, 512, 65_536}, {false, 300_000, 2048, 65_536}, {false, 300_000, 16384, 65_536}, {false, 300_000, 16384, 393_216},
		{false, 2_000_000, 2048, 65_536}, {false, 2_000_000, 16384, 65_536}, {false, 2_000_000, 16384, 393_216},
		{true, 300_000, 16384, 65_536},
	} {
		engine := "sqlite"
		if bc.postgres {
			engine = "postgres"
		}
		b.Run(fmt.Sprintf("%s/log_%d/tx_%d/minute_%d", engine, bc.prefill, bc.size, bc.minute), func(b *testing.B) {
			st := teststore.Open(b, store.Options{})
			if bc.postgres {
				st = teststore.OpenPostgres(b, store.Options{})
			}
			batch := make([]model.Decision, 16384)
			for done := 0; done < bc.prefill; done += len(batch) {
				for i := range batch {
					batch[i] = decision()
				}
				if err := st.AppendDecisions(context.Background(), batch); err != nil {
					b.Fatal(err)
				}
			}
			if _, err := st.IndexDecisions(context.Background()); err != nil {
				b.Fatal(err)
			}
			batch = batch[:bc.size]
			n, appends := 0, 0
			var indexing, appending time.Duration
			for b.Loop() {
				for sinceIndex := 0; sinceIndex < bc.minute; sinceIndex += len(batch) {
					b.StopTimer()
					for i := range batch {
						batch[i] = decision()
					}
					b.StartTimer()
					start := time.Now()
					if err := st.AppendDecisions(context.Background(), batch); err != nil {
						b.Fatal(err)
					}
					appending += time.Since(start)
					n, appends = n+len(batch), appends+1
				}
				start := time.Now()
				if _, err := st.IndexDecisions(context.Background()); err != nil {
					b.Fatal(err)
				}
				indexing += time.Since(start)
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(n), "µs/decision")
			b.ReportMetric(float64(indexing.Microseconds())/float64(n), "index-µs/decision")
			b.ReportMetric(float64(indexing.Milliseconds())/float64(b.N), "ms/index")
			b.ReportMetric(float64(appending.Microseconds())/1000/float64(appends), "ms/tx")
		})
	}
}

// BenchmarkDecisionsOfDevice is the device filter's cost (the device
// page's recent decisions, the Access decisions page filtered on a
// device): in a log of 300,000 decisions of a fleet of 100,000, indexed,
// and a minute's 65,536 more not yet indexed, a device with a few
// decisions and a device denied 10,000 times, the newest 5 and a page of
// 50 deep in the list.
func BenchmarkDecisionsOfDevice(b *testing.B) {
	const fleet, prefill, recent, busy = 100_000, 300_000, 65_536, 10_000
	r := rand.New(rand.NewPCG(7, 11))
	st := teststore.Open(b, store.Options{})
	start := time.Now().Add(-time.Hour)
	seq := 0
	decision := func(device string) model.Decision {
		seq++
		return model.Decision{At: start.Add(time.Duration(seq) * time.Millisecond), DeviceID: device, MatchedBy: "defender_machine_id",
			MatchedKey: device, Result: model.DecisionDenied, Checks: []model.DecisionCheck{{ID: 1, Name: "Risk score", Mode: "enforce", Result: "fail",
				Reasons: []string{"risk score High exceeds the allowed Medium (Defender data from 2026-11-25T10:00:00Z)"}}}}
	}
	busyEvery := (prefill + recent) / busy
	write := func(n int) {
		batch := make([]model.Decision, 0, 16384)
		for i := range n {
			device := fmt.Sprintf("%040x", r.IntN(fleet))
			if i%busyEvery == 0 {
				device = "busy"
			}
			if batch = append(batch, decision(device)); len(batch) == cap(batch) || i == n-1 {
				if err := st.AppendDecisions(context.Background(), batch); err != nil {
					b.Fatal(err)
				}
				batch = batch[:0]
			}
		}
	}
	write(prefill)
	if _, err := st.IndexDecisions(context.Background()); err != nil {
		b.Fatal(err)
	}
	write(recent)
	few := fmt.Sprintf("%040x", 4242)
	for _, bc := range []struct {
		name string
		f    model.DecisionFilter
	}{
		{"few/newest_5", model.DecisionFilter{DeviceID: few, Limit: 5}},
		{"busy/newest_5", model.DecisionFilter{DeviceID: "busy", Limit: 5}},
		{"busy/page_50_at_5000", model.DecisionFilter{DeviceID: "busy", Limit: 50, Offset: 5000}},
		{"busy/denied/newest_50", model.DecisionFilter{DeviceID: "busy", Result: model.DecisionDenied, Limit: 50}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				ds, n, err := st.Decisions(context.Background(), bc.f)
				if err != nil || len(ds) == 0 || n == 0 {
					b.Fatalf("%d of %d, %v", len(ds), n, err)
				}
			}
		})
	}
}
