package store_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"postern/store"
)

// Each replica's report of its key ids replaces its previous one, with the
// time it was made; the others' reports are kept.
func TestReplicaKeysReport(t *testing.T) {
	engines(t, func(t *testing.T, open opener) {
		ctx := context.Background()
		clock := newFakeClock(time.Date(2026, 12, 6, 16, 0, 0, 0, time.UTC))
		a := open(t, store.Options{Replica: "a", Now: clock.Now})
		if got, err := a.ReplicaKeys(ctx); err != nil || len(got) != 0 {
			t.Fatalf("ReplicaKeys before any report = %+v, %v; want none", got, err)
		}
		if err := a.ReportKeys(ctx, "k1", []string{"k1"}); err != nil {
			t.Fatal(err)
		}
		clock.Advance(time.Minute)
		if err := a.ReportKeys(ctx, "k1", []string{"k1", "k2"}); err != nil {
			t.Fatal(err)
		}
		b := a.AsReplica("b")
		if err := b.ReportKeys(ctx, "k1", []string{"k1"}); err != nil {
			t.Fatal(err)
		}
		got, err := a.ReplicaKeys(ctx)
		if err != nil || len(got) != 2 {
			t.Fatalf("ReplicaKeys = %+v, %v; want a and b", got, err)
		}
		ra, rb := got[0], got[1]
		if ra.Replica != "a" || ra.Active != "k1" || !slices.Equal(ra.KeyIDs, []string{"k1", "k2"}) || !ra.Holds("k2") ||
			!ra.SeenAt.Equal(clock.Now()) {
			t.Fatalf("a's report = %+v; want k1 active, k1 k2 held, seen at %v", ra, clock.Now())
		}
		if rb.Replica != "b" || rb.Holds("k2") || !rb.Holds("k1") {
			t.Fatalf("b's report = %+v; want k1 only", rb)
		}
	})
}
