package syncer

import (
	"context"
	"errors"
	"time"

	"postern/internal/apperr"
	"postern/internal/defender"
	"postern/internal/integration"
	"postern/internal/model"
)

// Status is what the console shows about syncing, live.
type Status struct {
	Running     bool
	RunID       int64
	RunStarted  time.Time
	Trigger     string
	Fetched     int // machines staged so far in the running sync
	LastRun     *model.SyncRun
	LastSuccess *model.SyncRun
	// Held is the latest run the mass-removal guard held that no later
	// success or acceptance has settled: a failed run after it leaves it
	// waiting for an admin.
	Held    *model.SyncRun
	NextRun time.Time
	// ConsecutiveFailures counts failed runs since the last success; at
	// breakerThreshold the breaker opens and the interval lengthens.
	ConsecutiveFailures int
	BreakerOpen         bool
	// Blocked is set after a 403: no scheduled calls until the credentials
	// change.
	Blocked  bool
	Interval time.Duration
	// Stretched is the interval the worker uses instead of Interval when
	// the fleet has grown past what Interval allows within Microsoft's
	// call budget; 0 when it does not.
	Stretched time.Duration
}

// Stale reports whether the data is older than three sync intervals.
func (s Status) Stale(now time.Time) bool {
	return s.LastSuccess != nil && s.LastSuccess.FinishedAt != nil && now.Sub(*s.LastSuccess.FinishedAt) > 3*s.Interval
}

// Degraded reports whether the admin should look: breaker open, blocked or
// stale data.
func (s Status) Degraded(now time.Time) bool {
	return s.BreakerOpen || s.Blocked || s.Stale(now)
}

// Status returns a copy of the current status.
func (w *Worker) Status() Status {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := w.status
	s.Interval = w.opts.Interval
	if d := w.stretched(); d > s.Interval {
		s.Stretched = d
	}
	return s
}

func (w *Worker) begin(run model.SyncRun, cancel context.CancelCauseFunc) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.cancel = cancel
	w.status.Running, w.status.RunID, w.status.RunStarted, w.status.Trigger, w.status.Fetched = true, run.ID, run.StartedAt, run.Trigger, 0
}

func (w *Worker) progress(n int) {
	w.mu.Lock()
	w.status.Fetched += n
	w.mu.Unlock()
}

func (w *Worker) end(run model.SyncRun, version string, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.cancel = nil
	w.status.Running = false
	r := run
	w.status.LastRun = &r
	switch run.Outcome {
	case model.RunSuccess:
		w.status.LastSuccess = &r
		w.status.Held = nil
		w.status.ConsecutiveFailures = 0
		w.blocked = ""
	case model.RunHeld:
		w.status.Held = &r
	case model.RunFailed:
		w.status.ConsecutiveFailures++
	}
	if defender.ReasonOf(err) == defender.PermissionMissing {
		w.blocked = version
	}
	w.status.Blocked = w.blocked != ""
	w.status.BreakerOpen = w.status.ConsecutiveFailures >= breakerThreshold
}

func (w *Worker) setNext(t time.Time) {
	w.mu.Lock()
	w.status.NextRun = t
	w.mu.Unlock()
}

// setLastRun seeds the status from the store at start.
func (w *Worker) setLastRun(ctx context.Context) {
	last, err := w.store.LastRun(ctx, integration.Name)
	if err != nil {
		if !apperr.Is(err, apperr.NotFound) {
			w.log.Error("sync: read last run", "err", err)
		}
		return
	}
	w.mu.Lock()
	w.status.LastRun = &last
	// The block on a 403 outlives a restart: the credentials have not
	// changed since the run that got it, or a later run would be the last.
	if last.Outcome == model.RunFailed && defender.ReasonForCode(last.ErrorCode) == defender.PermissionMissing {
		w.blockedAtStart = true
		w.status.Blocked = true
	}
	w.mu.Unlock()
	if h, err := w.store.LastRun(ctx, integration.Name, model.RunSuccess, model.RunHeld); err == nil && h.Held() {
		w.mu.Lock()
		w.status.Held = &h
		w.mu.Unlock()
	}
	if ok, err := w.store.LastRun(ctx, integration.Name, model.RunSuccess); err == nil {
		w.mu.Lock()
		w.status.LastSuccess = &ok
		w.mu.Unlock()
	} else if !errors.Is(err, context.Canceled) && !apperr.Is(err, apperr.NotFound) {
		w.log.Error("sync: read last success", "err", err)
	}
}

// budget plans the calls of syncing devices machines at the configured
// page size and interval.
func (w *Worker) budget(devices int) Budget {
	return PlanCalls(Plan{Devices: devices, PageSize: w.opts.List.PageSize, Interval: w.opts.Interval})
}

// stretched is the interval the current fleet needs to stay inside
// Microsoft's budget: at least the configured one.
func (w *Worker) stretched() time.Duration {
	n := 0
	if snap := w.fleet.Load(); snap != nil {
		n = snap.Active
	}
	return max(w.opts.Interval, w.budget(n).MinInterval)
}

// nextDelay is the interval, stretched to the call budget of the fleet's
// size, and lengthened while the breaker is open.
func (w *Worker) nextDelay() time.Duration {
	base := w.stretched()
	w.mu.Lock()
	defer w.mu.Unlock()
	d := base
	if f := w.status.ConsecutiveFailures - breakerThreshold + 1; f > 0 {
		d = base << min(f, 4)
		d = min(d, maxBackoffFactor*base)
	}
	return d
}
