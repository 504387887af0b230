package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"postern/internal/model"
	"postern/internal/testkit/teststore"
	"postern/store"
)

// BenchmarkAppendDecisions is the decision log's write cost per decision:
// batches of 512 denials of five failed checks each, with reasons, as
// the flusher writes them.
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
