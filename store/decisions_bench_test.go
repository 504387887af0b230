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
// that already holds 300,000 (a few minutes of them), in transactions of
// each size. Each transaction rewrites, whole, every page of the device
// index it touches, and those are as many as the transaction has distinct
// devices, up to the whole index: a larger transaction puts more
// decisions in each page it writes.
func BenchmarkAppendDecisionsFleet(b *testing.B) {
	const fleet, prefill = 100_000, 300_000
	r := rand.New(rand.NewPCG(3, 5))
	decision := func() model.Decision {
		n := r.IntN(fleet)
		cs := []model.DecisionCheck{{ID: int64(1 + r.IntN(20)), Name: "Risk score", Mode: "enforce", Result: "fail",
			Reasons: []string{"risk score High exceeds the allowed Medium (Defender data from 2026-11-25T10:00:00Z)"}}}
		return model.Decision{At: time.Now(), DeviceID: fmt.Sprintf("%040x", n), Hostname: fmt.Sprint("host-", n, ".corp.example.com"),
			MatchedBy: "defender_machine_id", MatchedKey: fmt.Sprintf("%040x", n), Result: model.DecisionDenied, Checks: cs, TokenID: 1, Source: "10.0.0.1"}
	}
	for _, size := range []int{512, 2048, 8192, 16384} {
		b.Run(fmt.Sprint("tx_", size), func(b *testing.B) {
			st := teststore.Open(b, store.Options{})
			batch := make([]model.Decision, 16384)
			for done := 0; done < prefill; done += len(batch) {
				for i := range batch {
					batch[i] = decision()
				}
				if err := st.AppendDecisions(context.Background(), batch); err != nil {
					b.Fatal(err)
				}
			}
			batch = batch[:size]
			n := 0
			for b.Loop() {
				b.StopTimer()
				for i := range batch {
					batch[i] = decision()
				}
				b.StartTimer()
				if err := st.AppendDecisions(context.Background(), batch); err != nil {
					b.Fatal(err)
				}
				n += len(batch)
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(n), "µs/decision")
		})
	}
}
