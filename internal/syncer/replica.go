package syncer

import "context"

// Among several replicas on one database only the sync leader syncs:
// it runs Lead under its fenced context; the others reload what it
// applied (Reload) when told, and pass an admin's Sync now on to it.

// Lead runs the sync as the leader until ctx, the leader's, ends: it
// closes the runs a previous leader left open (it was killed or lost its
// lock), reloads the snapshot the database holds (a notification may have
// been missed), then syncs on every tick and trigger like Run.
func (w *Worker) Lead(ctx context.Context) error {
	w.leading.Store(true)
	defer w.leading.Store(false)
	if n, err := w.store.MarkInterrupted(ctx); err != nil {
		return err
	} else if n > 0 {
		w.log.Warn("marked the sync runs the previous leader left open as interrupted", "runs", n)
	}
	if err := w.Reload(ctx); err != nil {
		return err
	}
	return w.loop(ctx, w.opts.Now().Add(w.opts.FirstSync), TriggerStartup)
}

// Leading reports whether this replica runs the sync: always for a single
// Postern, while Lead runs among replicas.
func (w *Worker) Leading() bool { return !w.opts.Replica || w.leading.Load() }

// Reload publishes the snapshot the database holds and the runs' status,
// as applied by the leader.
func (w *Worker) Reload(ctx context.Context) error {
	if err := w.publish(ctx); err != nil {
		return err
	}
	w.mu.Lock()
	w.status.Held = nil // set again if the last listing is still held
	w.mu.Unlock()
	w.setLastRun(ctx)
	return nil
}
