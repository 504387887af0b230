package syncer

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"postern/internal/actor"
	"postern/internal/apperr"
	"postern/internal/audit"
	"postern/internal/defender"
	"postern/internal/fleet"
	"postern/internal/integration"
	"postern/internal/model"
)

// runOnce performs one sync if the integration is configured, enabled and
// not blocked on missing permissions.
func (w *Worker) runOnce(ctx context.Context, trigger string) {
	client, version, ok := w.clientFor(ctx, trigger)
	if !ok {
		return
	}
	run, err := w.store.StartRun(ctx, integration.Name, trigger)
	if err != nil {
		w.log.Error("sync: record start", "err", err)
		return
	}
	runCtx, cancel := context.WithTimeoutCause(ctx, w.opts.RunTimeout, errors.New("the sync took longer than its time limit"))
	runCtx, cancelCause := context.WithCancelCause(runCtx)
	w.begin(run, cancelCause)
	defer cancel()

	stats, fetched, lerr := w.fetch(runCtx, client, run.ID)
	run.Pages, run.ThrottledWaits = stats.Pages, stats.ThrottledWaits
	run.Unreadable, run.Note = stats.Unreadable, unreadableNote(stats)
	run.Outcome = model.RunSuccess
	if lerr != nil {
		run.Outcome, run.Error, run.ErrorCode = w.describe(runCtx, lerr)
	} else {
		run.Seen = stats.Seen // what was staged, for the apply to check
	}
	// SQLite applies the run on one core. On the other, meanwhile: index
	// the fetched devices for the next snapshot, and read the antivirus
	// health report (its own call budget: 30/min, 1,000/h). It never
	// competes with the listing for the CPU, nor holds the machines back.
	next := make(chan *fleet.Snapshot, 1)
	avCtx, avCancel := context.WithCancel(runCtx)
	defer avCancel()
	var avc <-chan avFetch
	if lerr == nil {
		avc = w.startAV(avCtx, client)
		go func() {
			slices.SortFunc(fetched, byID)
			next <- fleet.NewSnapshot(fetched, time.Time{}, 0)
		}()
	}
	// Record the outcome even when ctx is ending (shutdown): on a context of
	// its own, briefly.
	rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer rcancel()
	done, ferr := w.finish(rctx, run)
	if ferr != nil {
		lerr = ferr
	}
	// Publish before reporting the run done, so whoever sees it finished
	// also sees its devices; the database file catches up after.
	if done.Outcome == model.RunSuccess {
		w.publishWithAV(rctx, done, <-next, avc, avCancel)
	} else if avc != nil {
		avCancel()
		<-avc
	}
	if b := w.budget(done.Seen); done.Outcome == model.RunSuccess && !b.Fits() {
		w.log.Warn("sync: interval stretched to stay inside Microsoft's call budget", "run", done.ID,
			"interval", b.MinInterval, "detail", b.Refusal())
	}
	if err := w.store.Checkpoint(rctx); err != nil {
		w.log.Warn("sync: checkpoint", "run", done.ID, "err", err)
	}
	w.end(done, version, lerr)
	w.log.Info("sync finished", "run", done.ID, "trigger", trigger, "outcome", done.Outcome, "pages", done.Pages,
		"seen", done.Seen, "added", done.Added, "changed", done.Changed, "removed", done.Removed,
		"throttled_waits", done.ThrottledWaits, "unreadable", done.Unreadable, "error_code", done.ErrorCode,
		"support_id", defender.SupportIDOf(lerr))
	if done.Note != "" {
		w.log.Warn("sync: "+done.Note, "run", done.ID)
	}
}

// unreadableNote says, in plain words, how many machines the listing
// skipped because they could not be read, and why the first one could not.
func unreadableNote(st defender.ListStats) string {
	switch st.Unreadable {
	case 0:
		return ""
	case 1:
		return "1 machine could not be read: " + st.FirstUnreadable
	}
	return fmt.Sprintf("%d machines could not be read: %s", st.Unreadable, st.FirstUnreadable)
}

// clientFor returns the client of the current credentials and their
// version, or false when there is nothing to sync: Defender is not
// connected, or a 403 stopped calls until the credentials change. Save
// and Enable re-validate them first, so their runs may go ahead.
func (w *Worker) clientFor(ctx context.Context, trigger string) (*defender.Client, string, bool) {
	client, version, err := w.source.Client(ctx)
	switch {
	case apperr.Is(err, apperr.NotFound), errors.Is(err, integration.ErrDisabled):
		return nil, "", false
	case err != nil:
		w.log.Error("sync: cannot build the Defender client", "err", err)
		return nil, "", false
	}
	w.mu.Lock()
	if w.blockedAtStart {
		w.blocked, w.blockedAtStart = version, false
	}
	blocked := w.blocked == version
	w.mu.Unlock()
	if blocked && trigger != TriggerConfigured && trigger != TriggerEnabled {
		return nil, "", false
	}
	return client, version, true
}

// finish applies and records the run. When the apply (or its record)
// fails, it rolls back and the previous data stands: the run is recorded
// as failed, without applying, and the error says so.
func (w *Worker) finish(ctx context.Context, run model.SyncRun) (model.SyncRun, error) {
	done, err := w.store.FinishGuardedRun(ctx, run, w.guard())
	if err == nil {
		return done, nil
	}
	w.log.Error("sync: record the run", "run", run.ID, "err", err)
	run.Outcome, run.ErrorCode = model.RunFailed, "store"
	run.Error = "Postern could not save the synced devices; the previous device data was kept. " + apperr.MessageOf(err)
	run.Seen, run.Added, run.Changed, run.Removed = 0, 0, 0, 0
	if done, err = w.store.FinishGuardedRun(ctx, run, w.guard()); err != nil {
		w.log.Error("sync: record the failed run", "run", run.ID, "err", err)
		done = run
	}
	return done, errors.New(run.Error)
}

// fetch lists every machine and stages each page while the next one is
// fetched: decoding and writing overlap. It also returns the machines in
// their snapshot form, to publish without reading them back.
func (w *Worker) fetch(ctx context.Context, client *defender.Client, runID int64) (defender.ListStats, []fleet.Device, error) {
	// One slice per page: no slice of the whole fleet grown by doubling.
	var chunks [][]fleet.Device
	// A page is handed over only when the stager is ready for it; the
	// defender client fetches the next page meanwhile. Buffering more
	// pages would only hold more memory.
	pages := make(chan []model.Device)
	var stageErr error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for p := range pages {
			if stageErr != nil {
				continue // drain
			}
			if err := w.store.StageDevices(ctx, runID, p); err != nil {
				stageErr = fmt.Errorf("stage page: %w", err)
			}
			w.progress(len(p))
		}
	}()
	stats, err := client.ListMachines(ctx, w.opts.List, func(ms []defender.Machine) error {
		devices := make([]model.Device, 0, len(ms))
		chunk := make([]fleet.Device, 0, len(ms))
		var scratch []byte
		for i := range ms {
			d := toDevice(&ms[i], &scratch)
			devices = append(devices, d)
			chunk = append(chunk, toFleet(d))
		}
		chunks = append(chunks, chunk)
		select {
		case pages <- devices:
			return nil
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	})
	if err == nil && len(stats.UnreadableIDs) > 0 {
		var n int
		n, err = w.stageKept(ctx, stats.UnreadableIDs, pages, &chunks)
		stats.Seen += n
	}
	close(pages)
	wg.Wait()
	if err == nil {
		err = stageErr
	}
	if err == nil && ctx.Err() != nil {
		err = context.Cause(ctx)
	}
	if err != nil {
		return stats, nil, err
	}
	n := 0
	for _, c := range chunks {
		n += len(c)
	}
	// Room for a few devices the run did not fetch (see publishRun).
	fetched := make([]fleet.Device, 0, n+64)
	for _, c := range chunks {
		fetched = append(fetched, c...)
	}
	return stats, fetched, nil
}

// stageKept hands the kept devices of unreadable machines to the stager
// as one more page, and returns how many there were.
func (w *Worker) stageKept(ctx context.Context, ids []string, pages chan<- []model.Device, chunks *[][]fleet.Device) (int, error) {
	kept, err := w.keepUnreadable(ctx, ids)
	if err != nil || len(kept) == 0 {
		return 0, err
	}
	chunk := make([]fleet.Device, len(kept))
	for i, d := range kept {
		chunk[i] = toFleet(d)
	}
	*chunks = append(*chunks, chunk)
	select {
	case pages <- kept:
		return len(kept), nil
	case <-ctx.Done():
		return 0, context.Cause(ctx)
	}
}

// keepUnreadable returns, as stored, the devices of machines Defender
// still lists but that could not be read: staged unchanged, they are
// neither updated from a machine Postern cannot read nor counted as gone.
func (w *Worker) keepUnreadable(ctx context.Context, ids []string) ([]model.Device, error) {
	var kept []model.Device
	for _, id := range ids {
		d, err := w.store.Device(ctx, id)
		switch {
		case apperr.Is(err, apperr.NotFound):
			continue // never synced: nothing to keep
		case err != nil:
			return nil, err
		case d.RemovedAt == nil:
			kept = append(kept, d)
		}
	}
	return kept, nil
}

// describe turns a run's error into its outcome and words for the admin.
func (w *Worker) describe(ctx context.Context, err error) (outcome, msg, code string) {
	var de *defender.Error
	switch {
	case errors.As(err, &de):
		return model.RunFailed, de.Text(), de.Code
	case ctx.Err() != nil:
		cause := context.Cause(ctx)
		switch {
		case errors.Is(cause, errDisabled):
			return model.RunCancelled, "Cancelled: the integration was disabled. The previous device data was kept.", "cancelled"
		case errors.Is(cause, context.Canceled):
			return model.RunCancelled, "Cancelled: Postern was shutting down. The previous device data was kept.", "cancelled"
		default:
			return model.RunFailed, "The sync took longer than its time limit and was stopped. The previous device data was kept.", "timeout"
		}
	default:
		w.log.Error("sync failed", "err", err)
		return model.RunFailed, "The sync failed on Postern's side: " + apperr.MessageOf(err), "internal"
	}
}

func runAudit(run model.SyncRun) audit.Entry {
	outcome := audit.Success
	if run.Outcome != model.RunSuccess {
		outcome = audit.Failure
	}
	detail := fmt.Sprintf("run %d (%s): %s", run.ID, run.Trigger, run.Outcome)
	switch {
	case run.Outcome == model.RunHeld:
		detail += fmt.Sprintf(": would mark %s of %s active devices missing", count(run.Missing), count(run.Active))
	case run.Error != "":
		detail += ": " + run.ErrorCode
	}
	return audit.Entry{Actor: actor.Sync.Email, Action: audit.SyncRun, Target: "Microsoft Defender",
		Outcome: outcome, Detail: detail}
}

// publish rebuilds the snapshot from the store and swaps it in, then tells
// the hooks. One publish runs at a time (sync loop and re-checks).
func (w *Worker) publish(ctx context.Context) error {
	w.publishMu.Lock()
	defer w.publishMu.Unlock()
	snap, err := loadSnapshot(ctx, w.store, integration.Name, w.fleet.Load().Len())
	if err != nil {
		return err
	}
	w.swap(snap)
	return nil
}

// maxReread is how many devices absent from a run publishRun reads back one
// by one; past it, reading the whole table is cheaper.
const maxReread = 1000

// publishRun swaps in the snapshot of a successful run without reading
// every device back. fetched, indexed while the apply ran, holds exactly
// what the run applied (an unchanged row has the same content hash, so the
// same fields); the few devices it did not fetch, whose misses the apply
// counted, are read from the store. The result equals what LoadSnapshot
// builds.
//
// av is the run's antivirus health by device id; nil keeps each device's
// from the previous snapshot (the report is not read yet).
func (w *Worker) publishRun(ctx context.Context, run model.SyncRun, fetched *fleet.Snapshot, av map[string]*fleet.AV) error {
	w.publishMu.Lock()
	defer w.publishMu.Unlock()
	old := w.fleet.Load()
	var absent []string
	for _, d := range old.Devices {
		if _, ok := fetched.Index(d.ID); !ok {
			absent = append(absent, d.ID)
		}
	}
	// Devices the old snapshot lacks but the store holds (a publish that
	// failed before) show up as a count that does not add up.
	stored, err := w.store.CountDevices(ctx)
	if err != nil {
		return err
	}
	if len(absent) > maxReread || stored != fetched.Len()+len(absent) {
		snap, err := loadSnapshot(ctx, w.store, integration.Name, fetched.Len()+len(absent))
		if err != nil {
			return err
		}
		// The store records this run's antivirus health after the swap,
		// and holds the previous run's until then.
		if av != nil {
			attachAV(snap.Devices, av)
		}
		snap.AVUnknown = fetched.AVUnknown
		w.swap(snap)
		return nil
	}
	snap := fetched
	if len(absent) > 0 {
		devices := fetched.Devices
		for _, id := range absent {
			d, err := w.store.Device(ctx, id)
			if err != nil {
				return err
			}
			f := toFleet(d)
			if av != nil {
				f.AV = av[f.ID]
			} else if p, ok := old.ByID(f.ID); ok {
				f.AV = p.AV
			}
			devices = append(devices, f)
		}
		slices.SortFunc(devices, byID)
		snap = fleet.NewSnapshot(devices, time.Time{}, 0)
		snap.AVUnknown = fetched.AVUnknown
	}
	snap.SyncedAt, snap.RunID = *run.FinishedAt, run.ID // not yet published
	w.swap(snap)
	return nil
}

// byID orders devices as the store lists them.
func byID(a, b fleet.Device) int { return strings.Compare(a.ID, b.ID) }

// swap publishes snap and tells the hooks.
func (w *Worker) swap(snap *fleet.Snapshot) {
	old := w.fleet.Load()
	w.fleet.Store(snap)
	w.mu.Lock()
	hooks := append([]func(old, new *fleet.Snapshot){}, w.onSwap...)
	w.mu.Unlock()
	for _, h := range hooks {
		h(old, snap)
	}
}
