// Package syncer keeps the local copy of Defender's machines fresh: one run
// at a time, periodic and on demand, all-or-nothing, with backoff and a
// circuit breaker, ending in an atomic swap of the in-memory snapshot.
package syncer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"postern/internal/audit"
	"postern/internal/defender"
	"postern/internal/fleet"
	"postern/internal/integration"
	"postern/internal/model"
)

// Triggers name why a run started.
const (
	TriggerSchedule   = "schedule"
	TriggerManual     = "manual"
	TriggerConfigured = "configured"
	TriggerEnabled    = "enabled"
	TriggerStartup    = "startup"
)

// Breaker: after this many consecutive failed runs the interval doubles per
// further failure, up to maxBackoffFactor × the interval.
const (
	breakerThreshold = 5
	maxBackoffFactor = 12
)

// Source gives the worker a client for the current credentials and says
// whether Defender is connected; see integration.Service.
type Source interface {
	Client(ctx context.Context) (*defender.Client, string, error)
	Enabled(ctx context.Context) (bool, error)
}

// Store is what Worker needs of the database: the sync runs, their staging and apply, and re-checks.
type Store interface {
	Snapshots
	MarkInterrupted(ctx context.Context) (int64, error)
	StartRun(ctx context.Context, integration, trigger string) (model.SyncRun, error)
	StageDevices(ctx context.Context, runID int64, page []model.Device) error
	FinishGuardedRun(ctx context.Context, run model.SyncRun, g model.RunGuard) (model.SyncRun, error)
	AcceptHeldRun(ctx context.Context, id int64, by string, entry func(model.SyncRun) audit.Entry) (model.SyncRun, error)
	Checkpoint(ctx context.Context) error
	CountDevices(ctx context.Context) (int, error)
	Device(ctx context.Context, id string) (model.Device, error)
	UpdateDevice(ctx context.Context, d model.Device, e audit.Entry) (bool, error)
	AppendAudit(ctx context.Context, e audit.Entry) error
	ApplyAV(ctx context.Context, res model.AVRun, rows []model.DeviceAV) (model.AVRun, error)
}

// Options configure a Worker.
type Options struct {
	Interval   time.Duration
	RunTimeout time.Duration // default 15 minutes
	// FirstSync is how long after Run (or Lead) starts its first sync
	// runs (default 1 s): soon, but after the console is serving.
	FirstSync time.Duration
	// RemovalGuard is the share of the active fleet, in percent, that one
	// listing may mark missing before its run is held (default
	// DefaultRemovalGuard).
	RemovalGuard int
	// AVGrace is how long a run waits for the antivirus health report once
	// its machines are listed (default 30 s): a slow or throttled report
	// never holds the machines back for longer.
	AVGrace time.Duration
	List    defender.ListOptions
	Now     func() time.Time
	// Replica: one of several replicas on one database. Load leaves the
	// runs alone (the leader's may be in flight), Run is not used: the
	// sync leader runs Lead. RequestSync passes an admin's Sync now on to
	// the leader when this replica does not lead.
	Replica     bool
	RequestSync func(ctx context.Context) error
}

// Worker owns the sync loop. Run it once; it returns when ctx ends, after the
// run in flight has stopped and been recorded.
type Worker struct {
	store  Store
	source Source
	fleet  *fleet.Holder
	log    *slog.Logger
	opts   Options

	trigger   chan string
	publishMu sync.Mutex
	leading   atomic.Bool // Lead runs

	loadMu sync.Mutex
	loaded bool

	mu      sync.Mutex
	cancel  context.CancelCauseFunc // of the run in flight
	status  Status
	blocked string // credential version that got a 403
	// blockedAtStart: the last run before a restart got a 403; the first
	// run blocks the version it finds.
	blockedAtStart bool
	onSwap         []func(old, new *fleet.Snapshot)
}

// errDisabled cancels a run when the integration is disabled.
var errDisabled = errors.New("the integration was disabled")

// New returns a worker; call Run to start it.
func New(st Store, src Source, h *fleet.Holder, log *slog.Logger, o Options) *Worker {
	if o.RunTimeout <= 0 {
		o.RunTimeout = 15 * time.Minute
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.FirstSync <= 0 {
		o.FirstSync = time.Second
	}
	if o.AVGrace <= 0 {
		o.AVGrace = 30 * time.Second
	}
	if o.RemovalGuard <= 0 {
		o.RemovalGuard = DefaultRemovalGuard
	}
	return &Worker{store: st, source: src, fleet: h, log: log, opts: o, trigger: make(chan string, 1)}
}

// OnSwap registers fn to run after each new snapshot is published (posture
// history); it runs on the worker's goroutine.
func (w *Worker) OnSwap(fn func(old, new *fleet.Snapshot)) {
	w.mu.Lock()
	w.onSwap = append(w.onSwap, fn)
	w.mu.Unlock()
}

// Trigger asks for a run as soon as possible; triggers while one is pending
// coalesce.
func (w *Worker) Trigger(reason string) {
	select {
	case w.trigger <- reason:
	default:
	}
}

// Cancel stops the run in flight, if any; it is recorded as cancelled and
// the previous data stays.
func (w *Worker) Cancel() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.cancel != nil {
		w.cancel(errDisabled)
	}
}

// Load closes the runs a crash left open and publishes the stored
// snapshot, once: Run does it first unless it was done already. Call it
// before serving, so that no answer comes from an empty snapshot and no
// run of this process is mistaken for one a crash left open.
func (w *Worker) Load(ctx context.Context) error {
	w.loadMu.Lock()
	defer w.loadMu.Unlock()
	if w.loaded {
		return nil
	}
	// Among replicas the leader closes what a previous leader left open
	// (Lead): another replica's run may be in flight.
	if !w.opts.Replica {
		if n, err := w.store.MarkInterrupted(ctx); err != nil {
			return err
		} else if n > 0 {
			w.log.Warn("marked interrupted sync runs", "runs", n)
		}
	}
	snap, err := LoadSnapshot(ctx, w.store, integration.Name)
	if err != nil {
		return err
	}
	// The fleet's size is known: a configuration that would exceed
	// Microsoft's hourly budget is refused now, with the numbers.
	if b := w.budget(snap.Active); snap.Active > 0 && !b.Fits() {
		return fmt.Errorf("sync-interval: %s", b.Refusal())
	}
	w.fleet.Store(snap)
	w.setLastRun(ctx)
	w.loaded = true
	return nil
}

// Run loads the last snapshot, closes runs a crash left open, then syncs on
// every tick and trigger until ctx ends.
func (w *Worker) Run(ctx context.Context) error {
	if err := w.Load(ctx); err != nil {
		return err
	}
	return w.loop(ctx, w.opts.Now().Add(w.opts.FirstSync), TriggerStartup)
}

// loop syncs at next for reason, then on every tick and trigger until ctx
// ends.
func (w *Worker) loop(ctx context.Context, next time.Time, reason string) error {
	for {
		w.setNext(next)
		timer := time.NewTimer(max(0, next.Sub(w.opts.Now())))
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil
		case reason = <-w.trigger:
		case <-timer.C:
		}
		timer.Stop()
		w.runOnce(ctx, reason)
		next, reason = w.opts.Now().Add(w.nextDelay()), TriggerSchedule
	}
}

// IntegrationChanged follows the integration (subscribe it with
// integration.Service.Subscribe): new credentials or Enable start a sync
// at once; Disable stops the run in flight.
func (w *Worker) IntegrationChanged(_ context.Context, ch integration.Change) {
	switch ch {
	case integration.Configured:
		w.Trigger(TriggerConfigured)
	case integration.Enabled:
		w.Trigger(TriggerEnabled)
	case integration.Disabled:
		w.Cancel()
	}
}
