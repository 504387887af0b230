// Package decisionlog records the enforcement API's answers off the hot
// path: a request hands its decision to a bounded in-memory buffer and
// returns; a background goroutine writes the buffer to the store in
// batches. When the buffer is full the decision is dropped and counted,
// never waited for. Every allow is counted per check for /metrics; a
// sample of them, and every deny and unknown, reach the log
// (docs/decision-log.md).
package decisionlog

import (
	"context"
	"log/slog"
	"maps"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"postern/internal/model"
	"postern/internal/posture"
)

// Store is what the flusher writes to. IndexDecisions moves the device
// keys of the decisions written since its last call into the device index
// (store.Store.IndexDecisions).
type Store interface {
	AppendDecisions(ctx context.Context, ds []model.Decision) error
	IndexDecisions(ctx context.Context) (int, error)
}

// Defaults: room for a few seconds of denials at 20,000 requests a second,
// written in transactions of up to 16,384 decisions. A transaction writes
// whole every page it touches, so larger ones cost less a decision
// (BenchmarkAppendDecisionsFleet, docs/performance.md). The flusher
// writes every second, or as soon as a batch is waiting; a busy second
// (a quarter of a batch waiting at its tick) waits for the next tick,
// so that a decision is written within two seconds at most, and within
// one unless thousands a second are being recorded. Once a minute it
// moves the device keys written since into the device index: a minute's
// keys share each of its pages, where a second's would each take a page
// of their own.
const (
	DefaultBuffer     = 65536
	DefaultBatch      = 16384
	DefaultInterval   = time.Second
	DefaultIndexEvery = time.Minute
	DefaultSample     = 100
)

// Log is the recorder. The zero value is not usable; call New. A nil *Log
// records nothing (the decision log is off).
type Log struct {
	store Store
	log   *slog.Logger

	// pending is the buffer, at most size decisions: Enqueue appends
	// under mu, and the flusher takes the whole of it at once, leaving
	// an emptied array of its own in its place. A channel would lock
	// once per decision on both sides.
	mu      sync.Mutex
	pending []model.Decision
	size    int
	ready   chan struct{} // a batch is waiting: wakes Run before its tick

	Batch    int
	Interval time.Duration
	// IndexEvery is how often, at most, Run moves the device keys of the
	// decisions it wrote into the device index (0: after every write).
	IndexEvery time.Duration
	ticks      <-chan time.Time // tests' ticks; nil: every Interval

	// denied and unknown count those answers; allows counts allows, spread
	// like a check's count (checkCount).
	results [2]padded
	allows  [allowShards]padded
	dropped atomic.Uint64
	written atomic.Uint64
	failed  atomic.Uint64

	// checks counts allows by check id: a map read without a lock and
	// copied, under checksMu, only when a check is first counted. Each
	// answer looks up every check that passed in it, tens of thousands
	// of times a second.
	checks   atomic.Pointer[map[int64]*checkCount]
	checksMu sync.Mutex
	// sample: record one allow in sample (0: none). Read with checks on
	// every allow, away from the lines Enqueue writes.
	sample uint64
}

// checkCount is one check's count, spread over allowShards counters: an
// allow adds to its CPU's (shards), so that two CPUs counting allows at
// once add to cache lines of their own instead of passing them back and
// forth, which made an allow cost five times as much on two CPUs as on
// one (BenchmarkAllowed). The name is the check's as last counted: a
// renamed check keeps its count under the new name.
type checkCount struct {
	name atomic.Pointer[string]
	_    [56]byte
	n    [allowShards]padded
}

// allowShards is how many counters each check's count is spread over.
const allowShards = 8

// shards hands out shard numbers through a sync.Pool, whose Get and Put
// stay on the calling P (CPU) without a lock: allows counted on one CPU
// keep to one shard (until a collection empties the pool and the CPU
// draws the next number), so their cache lines stay with that CPU.
var (
	shards    = sync.Pool{New: func() any { n := nextShard.Add(1) % allowShards; return &n }}
	nextShard atomic.Uint64
)

// padded is a counter alone on its cache line (64 bytes): counters 64
// bytes apart never share one.
type padded struct {
	atomic.Uint64
	_ [56]byte
}

// sum adds up a count's shards.
func sum(shards *[allowShards]padded) uint64 {
	var n uint64
	for i := range shards {
		n += shards[i].Load()
	}
	return n
}

// New returns a recorder with a buffer of size decisions (DefaultBuffer
// when size <= 0) that records one allow in sample (0: none).
func New(st Store, size, sample int, log *slog.Logger) *Log {
	if size <= 0 {
		size = DefaultBuffer
	}
	if sample < 0 {
		sample = 0
	}
	return &Log{store: st, log: log, size: size, ready: make(chan struct{}, 1),
		sample: uint64(sample), Batch: DefaultBatch, Interval: DefaultInterval, IndexEvery: DefaultIndexEvery}
}

// Allowed counts an allow under each check that passed in it, and says
// whether this allow is one of the sample the log keeps. It never blocks.
func (l *Log) Allowed(checks []posture.CheckResult) bool {
	if l == nil {
		return false
	}
	sp := shards.Get().(*uint64)
	shard := *sp
	shards.Put(sp)
	l.allows[shard].Add(1)
	counts := l.checks.Load()
	for i := range checks {
		c := &checks[i]
		if c.Result != posture.Pass {
			continue
		}
		var cc *checkCount
		if counts != nil {
			cc = (*counts)[c.ID]
		}
		if cc == nil {
			cc = l.newCount(c.ID, c.Name)
		} else if name := cc.name.Load(); *name != c.Name {
			// A copy: c is the caller's, reused for its next answer.
			renamed := c.Name
			cc.name.Store(&renamed)
		}
		cc.n[shard].Add(1)
	}
	return l.sample > 0 && rand.Uint64N(l.sample) == 0
}

// newCount returns the count of check id, added to the map (a copy of it)
// unless another answer has just added it.
func (l *Log) newCount(id int64, name string) *checkCount {
	l.checksMu.Lock()
	defer l.checksMu.Unlock()
	m := map[int64]*checkCount{}
	if old := l.checks.Load(); old != nil {
		if cc := (*old)[id]; cc != nil {
			return cc
		}
		m = maps.Clone(*old)
	}
	cc := &checkCount{}
	cc.name.Store(&name)
	m[id] = cc
	l.checks.Store(&m)
	return cc
}

// Counted records a deny or unknown in the per-result totals; Allowed
// counts allows itself.
func (l *Log) Counted(result string) {
	switch {
	case l == nil:
	case result == model.DecisionDenied:
		l.results[0].Add(1)
	case result == model.DecisionUnknown:
		l.results[1].Add(1)
	}
}

// Enqueue hands d to the flusher without waiting: when the buffer is
// full, d is dropped and counted (postern_decision_log_dropped_total).
func (l *Log) Enqueue(d model.Decision) bool {
	if l == nil {
		return false
	}
	l.mu.Lock()
	if len(l.pending) >= l.size {
		l.mu.Unlock()
		l.dropped.Add(1)
		return false
	}
	l.pending = append(l.pending, d)
	n := len(l.pending)
	l.mu.Unlock()
	if n >= l.Batch {
		select {
		case l.ready <- struct{}{}:
		default: // Run is told already
		}
	}
	return true
}

// take returns the buffer's decisions and leaves spare's array, emptied,
// as the buffer.
func (l *Log) take(spare []model.Decision) []model.Decision {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.pending
	l.pending = spare[:0]
	return out
}

// discard empties the buffer and returns how many it held.
func (l *Log) discard() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := len(l.pending)
	l.pending = nil
	return n
}

// waiting is how many decisions the buffer holds.
func (l *Log) waiting() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.pending)
}

// Dropped is how many decisions a full buffer has dropped.
func (l *Log) Dropped() uint64 { return l.dropped.Load() }

// Written is how many decisions reached the store.
func (l *Log) Written() uint64 { return l.written.Load() }

// Run writes the buffer in batches until ctx ends, then writes what is
// left and returns nil: a transaction under way when ctx ends finishes,
// more are started for shutdownDrain, and what is still left then is
// counted as dropped. It wakes once an Interval, or as soon as a Batch is
// waiting (Enqueue tells it), and then writes everything buffered: never
// once per decision, which would make every recorded answer wake another
// goroutine. At a tick with a quarter of a Batch or more waiting, it
// waits one more Interval (or for the batch to fill), so that a busy
// second's decisions share a transaction with the next second's. After a
// wake that finds decisions written since it last indexed (or at the
// first wake due, those an earlier run left), and IndexEvery since then,
// it indexes them.
func (l *Log) Run(ctx context.Context) error {
	t := time.NewTicker(l.Interval)
	defer t.Stop()
	ticks := t.C
	if l.ticks != nil {
		ticks = l.ticks
	}
	var spare []model.Decision
	held := false
	// The first time due, index whatever an earlier run left recent.
	indexed, indexedAt := ^uint64(0), time.Now()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownDrain)
			l.drain(fctx, spare)
			cancel()
			if n := l.discard(); n > 0 {
				l.dropped.Add(uint64(n))
				l.log.Warn("decision log: shutdown left decisions unwritten", "decisions", n)
			}
			return nil
		case <-ticks:
			if !held && l.waiting() >= max(l.Batch/4, 1) {
				held = true
				continue
			}
		case <-l.ready:
			if l.waiting() < l.Batch {
				continue // told before a drain that took the batch
			}
		}
		held = false
		spare = l.drain(ctx, spare)
		if w := l.written.Load(); w != indexed && time.Since(indexedAt) >= l.IndexEvery {
			l.index(ctx)
			indexed, indexedAt = w, time.Now()
		}
	}
}

// index moves the device keys written since the last call into the device
// index. A failure, or a shutdown cutting it short, leaves the keys where
// the device filter reads them, for the next call.
func (l *Log) index(ctx context.Context) {
	ictx, cancel := context.WithTimeout(ctx, writeTimeout)
	defer cancel()
	if _, err := l.store.IndexDecisions(ictx); err != nil && ctx.Err() == nil {
		l.log.Error("decision log: index the devices", "err", err)
	}
}

// shutdownDrain is how long Run goes on starting transactions after its
// context ends; writeTimeout bounds each one. A write under way is never
// cut short by a shutdown (a move into the device index may be: the keys
// stay recent until the next).
const (
	shutdownDrain = 5 * time.Second
	writeTimeout  = 30 * time.Second
)

// Flush writes whatever is buffered now (tests and benchmarks use it).
func (l *Log) Flush(ctx context.Context) { l.drain(ctx, nil) }

// drain writes what the buffer holds, in batches of at most Batch, and
// returns its array emptied, to be the buffer next time (spare is the
// buffer's array meanwhile). When ctx ends halfway, the decisions not yet
// written go back to the buffer, for Run's last drain at shutdown.
func (l *Log) drain(ctx context.Context, spare []model.Decision) []model.Decision {
	all := l.take(spare)
	for rest := all; len(rest) > 0; {
		if ctx.Err() != nil {
			l.putBack(rest)
			break
		}
		n := min(len(rest), max(l.Batch, 1))
		l.flush(ctx, rest[:n])
		rest = rest[n:]
	}
	clear(all)
	return all[:0]
}

// putBack returns ds, not written, to the front of the buffer.
func (l *Log) putBack(ds []model.Decision) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.pending = append(append(make([]model.Decision, 0, len(ds)+len(l.pending)), ds...), l.pending...)
}

// flush writes batch. A failed write is logged and its decisions
// counted as failed: the log is best effort, never a reason to slow or
// refuse an answer.
func (l *Log) flush(ctx context.Context, batch []model.Decision) {
	if len(batch) == 0 {
		return
	}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), writeTimeout)
	defer cancel()
	if err := l.store.AppendDecisions(wctx, batch); err != nil {
		l.failed.Add(uint64(len(batch)))
		l.log.Error("decision log: write", "decisions", len(batch), "err", err)
		return
	}
	l.written.Add(uint64(len(batch)))
}

var (
	descResults = prometheus.NewDesc("postern_decisions_total",
		"Enforcement API answers by result (denied, unknown, allowed).", []string{"result"}, nil)
	descAllowedCheck = prometheus.NewDesc("postern_decision_check_allowed_total",
		"Allowed answers, counted under each enabled check that passed in them.", []string{"check_id", "check"}, nil)
	descDropped = prometheus.NewDesc("postern_decision_log_dropped_total",
		"Decisions the decision log dropped because its buffer was full.", nil, nil)
	descWritten = prometheus.NewDesc("postern_decision_log_written_total",
		"Decisions written to the decision log.", nil, nil)
	descFailed = prometheus.NewDesc("postern_decision_log_failed_total",
		"Decisions the decision log could not write to the database.", nil, nil)
	descQueued = prometheus.NewDesc("postern_decision_log_queued",
		"Decisions waiting in the decision log's buffer.", nil, nil)
)

// Describe implements prometheus.Collector.
func (l *Log) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descResults, descAllowedCheck, descDropped, descWritten, descFailed, descQueued} {
		ch <- d
	}
}

// Collect implements prometheus.Collector: read at scrape time, nothing
// is spent between scrapes.
func (l *Log) Collect(ch chan<- prometheus.Metric) {
	for i, r := range []string{model.DecisionDenied, model.DecisionUnknown} {
		ch <- prometheus.MustNewConstMetric(descResults, prometheus.CounterValue, float64(l.results[i].Load()), r)
	}
	ch <- prometheus.MustNewConstMetric(descResults, prometheus.CounterValue, float64(sum(&l.allows)), model.DecisionAllowed)
	if counts := l.checks.Load(); counts != nil {
		for id, c := range *counts {
			ch <- prometheus.MustNewConstMetric(descAllowedCheck, prometheus.CounterValue, float64(sum(&c.n)),
				strconv.FormatInt(id, 10), *c.name.Load())
		}
	}
	ch <- prometheus.MustNewConstMetric(descDropped, prometheus.CounterValue, float64(l.dropped.Load()))
	ch <- prometheus.MustNewConstMetric(descWritten, prometheus.CounterValue, float64(l.written.Load()))
	ch <- prometheus.MustNewConstMetric(descFailed, prometheus.CounterValue, float64(l.failed.Load()))
	ch <- prometheus.MustNewConstMetric(descQueued, prometheus.GaugeValue, float64(l.waiting()))
}
