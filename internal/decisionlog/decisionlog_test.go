package decisionlog_test

import (
	"context"
	"io"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"postern/internal/decisionlog"
	"postern/internal/model"
	"postern/internal/posture"
)

type memStore struct {
	mu      sync.Mutex
	batches [][]model.Decision
	block   chan struct{} // when set, writes wait for it
	entered chan struct{} // when set, told as a write starts
	// ctxBound: a write with an ended context fails, as the database's.
	ctxBound bool
	// indexed is how many decisions IndexDecisions found written, at
	// each call.
	indexed []int
}

func (m *memStore) AppendDecisions(ctx context.Context, ds []model.Decision) error {
	if m.entered != nil {
		m.entered <- struct{}{}
	}
	if m.block != nil {
		<-m.block
	}
	if m.ctxBound && ctx.Err() != nil {
		return ctx.Err()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.batches = append(m.batches, append([]model.Decision(nil), ds...))
	return nil
}

func (m *memStore) IndexDecisions(context.Context) (int, error) {
	n, _ := m.count()
	m.mu.Lock()
	defer m.mu.Unlock()
	moved := n
	if len(m.indexed) > 0 {
		moved -= m.indexed[len(m.indexed)-1]
	}
	m.indexed = append(m.indexed, n)
	return moved, nil
}

func (m *memStore) indexCalls() []int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.indexed)
}

func (m *memStore) count() (n, batches int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, b := range m.batches {
		n += len(b)
	}
	return n, len(m.batches)
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// A full buffer drops and counts, and Enqueue never waits, even while the
// store is stuck.
func TestFullBufferDropsWithoutBlocking(t *testing.T) {
	st := &memStore{block: make(chan struct{}), entered: make(chan struct{}, 1)}
	l := decisionlog.New(st, 4, 0, quiet)
	l.Batch = 4
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- l.Run(ctx) }()
	for range 4 { // a batch: Run writes it, and the write sticks
		l.Enqueue(model.Decision{Result: model.DecisionDenied})
	}
	select {
	case <-st.entered:
	case <-time.After(5 * time.Second):
		t.Fatal("a full batch was not written")
	}
	start := time.Now()
	kept := 0
	for range 100 {
		if l.Enqueue(model.Decision{Result: model.DecisionDenied}) {
			kept++
		}
	}
	if time.Since(start) > time.Second {
		t.Errorf("100 enqueues took %v with the store stuck", time.Since(start))
	}
	if kept != 4 || l.Dropped() != 96 {
		t.Errorf("kept %d, dropped %d of 100 with a buffer of 4 and the store stuck, want 4 and 96", kept, l.Dropped())
	}
	close(st.block)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n, _ := st.count(); n != 8 {
		t.Errorf("%d written at shutdown, want every one kept (8)", n)
	}
}

// Run writes full batches at once and the rest at each tick.
func TestRunFlushesInBatches(t *testing.T) {
	st := &memStore{}
	l := decisionlog.New(st, 1000, 0, quiet)
	l.Batch, l.Interval = 10, 20*time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go l.Run(ctx)
	for range 25 {
		l.Enqueue(model.Decision{Result: model.DecisionDenied})
	}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if n, _ := st.count(); n == 25 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	n, batches := st.count()
	if n != 25 || batches < 3 || l.Written() != 25 {
		t.Errorf("%d decisions in %d batches (written %d), want 25 in at least 3", n, batches, l.Written())
	}
}

// Run indexes after a write, once every IndexEvery at most, and not
// when it wrote nothing since, except once, for what an earlier run left.
func TestRunIndexesOnceEveryIndexEvery(t *testing.T) {
	for _, tt := range []struct {
		name    string
		every   time.Duration
		batches []int // decisions before each tick
		want    []int // written at each index
	}{
		{"after every write", 0, []int{3, 2}, []int{3, 5}},
		{"not yet due", time.Hour, []int{3, 2}, nil},
		{"what an earlier run left, once", 0, []int{0, 0}, []int{0}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			st := &memStore{}
			l := decisionlog.New(st, 1000, 0, quiet)
			l.Batch, l.IndexEvery = 100, tt.every
			ticks := make(chan time.Time)
			decisionlog.SetTicks(l, ticks)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error)
			go func() { done <- l.Run(ctx) }()
			for _, n := range tt.batches {
				for range n {
					l.Enqueue(model.Decision{Result: model.DecisionDenied})
				}
				ticks <- time.Now()
				// Taken once Run is back for it: the tick before was
				// handled, written and indexed. It finds nothing new.
				ticks <- time.Now()
			}
			cancel()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			if got := st.indexCalls(); !slices.Equal(got, tt.want) {
				t.Errorf("indexed after %v written, want %v", got, tt.want)
			}
		})
	}
}

// A full batch waiting wakes Run at once, long before its tick; fewer
// wait for the tick (here, shutdown), and nothing is written per decision.
func TestRunWakesForAFullBatch(t *testing.T) {
	st := &memStore{}
	l := decisionlog.New(st, 1000, 0, quiet)
	l.Batch, l.Interval = 10, time.Hour
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- l.Run(ctx) }()
	for range 9 {
		l.Enqueue(model.Decision{Result: model.DecisionDenied})
	}
	time.Sleep(50 * time.Millisecond)
	if n, _ := st.count(); n != 0 {
		t.Fatalf("%d written before a batch was full", n)
	}
	l.Enqueue(model.Decision{Result: model.DecisionDenied}) // the tenth
	deadline := time.Now().Add(5 * time.Second)
	for n, _ := st.count(); n < 10 && time.Now().Before(deadline); n, _ = st.count() {
		time.Sleep(5 * time.Millisecond)
	}
	if n, batches := st.count(); n != 10 || batches != 1 {
		t.Fatalf("%d decisions in %d batches once a batch was full, want 10 in 1", n, batches)
	}
	for range 3 {
		l.Enqueue(model.Decision{Result: model.DecisionDenied})
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n, batches := st.count(); n != 13 || batches != 2 {
		t.Errorf("%d decisions in %d batches after shutdown, want 13 in 2", n, batches)
	}
}

// A shutdown in the middle of writing the buffer loses nothing: the batch
// under way finishes (its write is not bound to Run's context), the rest
// goes back to the buffer, and Run's last drain writes it.
func TestShutdownDuringADrainWritesTheRest(t *testing.T) {
	st := &memStore{block: make(chan struct{}), entered: make(chan struct{}, 10), ctxBound: true}
	l := decisionlog.New(st, 1000, 0, quiet)
	l.Batch, l.Interval = 2, time.Hour
	for range 8 {
		l.Enqueue(model.Decision{Result: model.DecisionDenied})
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- l.Run(ctx) }()
	<-st.entered // the first batch of 2 is being written
	cancel()
	close(st.block)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n, _ := st.count(); n != 8 || l.Written() != 8 || l.Dropped() != 0 {
		t.Errorf("%d written at shutdown (counted %d, dropped %d), want all 8: the batch under way finishes", n, l.Written(), l.Dropped())
	}
}

// One allow in sample is kept, drawn at random (a gateway's requests come
// in patterns that a fixed stride would follow); sample 1 keeps every
// one.
func TestAllowSample(t *testing.T) {
	checks := []posture.CheckResult{{ID: 1, Name: "A", Result: posture.Pass}, {ID: 2, Name: "B", Result: posture.Fail, Mode: posture.ModeMonitor}}
	for _, tt := range []struct {
		sample, n, lo, hi int // kept within [lo, hi]: 40,000 at 1 in 4 is 10,000, give or take 87 (σ)
	}{{4, 40_000, 9_500, 10_500}, {1, 100, 100, 100}} {
		l := decisionlog.New(&memStore{}, 10, tt.sample, quiet)
		kept := 0
		for range tt.n {
			if l.Allowed(checks) {
				kept++
			}
		}
		if kept < tt.lo || kept > tt.hi {
			t.Errorf("%d of %d allows sampled at 1 in %d, want %d to %d", kept, tt.n, tt.sample, tt.lo, tt.hi)
		}
	}
	if none := decisionlog.New(&memStore{}, 10, 0, quiet); none.Allowed(checks) {
		t.Error("an allow sampled with sampling off")
	}
	var nilLog *decisionlog.Log
	if nilLog.Allowed(checks) || nilLog.Enqueue(model.Decision{}) {
		t.Error("a nil log recorded")
	}
}

// Allows are counted under each check that passed in them, by id: a
// check first seen is added, and a renamed one keeps its count under its
// new name.
func TestAllowedCountsByCheck(t *testing.T) {
	l := decisionlog.New(&memStore{}, 10, 0, quiet)
	a, b, c := posture.CheckResult{ID: 1, Name: "A", Result: posture.Pass}, posture.CheckResult{ID: 2, Name: "B", Result: posture.Pass},
		posture.CheckResult{ID: 3, Name: "C", Result: posture.Fail, Mode: posture.ModeMonitor}
	for range 3 {
		l.Allowed([]posture.CheckResult{a, b, c})
	}
	a.Name = "A renamed"
	answer := []posture.CheckResult{a, c}
	l.Allowed(answer)
	answer[0].Name = "the next answer's" // the caller reuses its array

	reg := prometheus.NewRegistry()
	reg.MustRegister(l)
	got := map[string]float64{}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "postern_decision_check_allowed_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			var id, name string
			for _, lp := range m.GetLabel() {
				switch lp.GetName() {
				case "check_id":
					id = lp.GetValue()
				case "check":
					name = lp.GetValue()
				}
			}
			got[id+" "+name] = m.GetCounter().GetValue()
		}
	}
	want := map[string]float64{"1 A renamed": 4, "2 B": 3}
	if !maps.Equal(got, want) {
		t.Errorf("allowed by check %v, want %v", got, want)
	}
}

// Allows counted from many goroutines at once, each on the shard of its
// CPU, add up to every one, per check and in all.
func TestAllowedCountsFromEveryCPU(t *testing.T) {
	l := decisionlog.New(&memStore{}, 10, 0, quiet)
	checks := []posture.CheckResult{{ID: 1, Name: "A", Result: posture.Pass}, {ID: 2, Name: "B", Result: posture.Pass}}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 5000 {
				l.Allowed(checks)
			}
		})
	}
	wg.Wait()
	reg := prometheus.NewRegistry()
	reg.MustRegister(l)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			key := mf.GetName()
			for _, lp := range m.GetLabel() {
				key += " " + lp.GetValue()
			}
			got[key] = m.GetCounter().GetValue()
		}
	}
	for _, key := range []string{"postern_decision_check_allowed_total A 1", "postern_decision_check_allowed_total B 2", // labels by name
		"postern_decisions_total allowed"} {
		if got[key] != 40_000 {
			t.Errorf("%s = %v, want 40,000", key, got[key])
		}
	}
}

// A tick with a quarter of a batch or more waiting holds it for one more
// tick, so that a busy second shares the next one's transaction; fewer
// are written at the first tick. The store stops each write, so that a
// tick Run cannot take tells that it is writing.
func TestRunHoldsABusyTick(t *testing.T) {
	for _, tc := range []struct {
		name string
		n    int
		held bool
	}{{"busy", 30, true}, {"quiet", 3, false}} {
		t.Run(tc.name, func(t *testing.T) {
			st := &memStore{block: make(chan struct{}), entered: make(chan struct{}, 1)}
			l := decisionlog.New(st, 1000, 0, quiet)
			l.Batch = 100
			ticks := make(chan time.Time)
			decisionlog.SetTicks(l, ticks)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error)
			go func() { done <- l.Run(ctx) }()
			for range tc.n {
				l.Enqueue(model.Decision{Result: model.DecisionDenied})
			}
			tick := func() bool { // whether Run took the tick
				select {
				case ticks <- time.Now():
					return true
				case <-time.After(2 * time.Second):
					return false
				}
			}
			if !tick() {
				t.Fatal("Run took no tick")
			}
			// Run takes the next tick only once done with this one: it
			// has written nothing if it takes it.
			if took := tick(); took != tc.held {
				t.Fatalf("%d waiting: the second tick taken %v, want %v (held %v)", tc.n, took, tc.held, tc.held)
			}
			select {
			case <-st.entered:
			case <-time.After(5 * time.Second):
				t.Fatal("nothing written")
			}
			close(st.block)
			cancel()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			if n, batches := st.count(); n != tc.n || batches != 1 {
				t.Errorf("%d decisions in %d batches, want %d in 1", n, batches, tc.n)
			}
		})
	}
}
