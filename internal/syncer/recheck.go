package syncer

import (
	"context"
	"errors"

	"postern/internal/actor"
	"postern/internal/apperr"
	"postern/internal/audit"
	"postern/internal/defender"
	"postern/internal/integration"
)

// ErrNotConnected means Defender is not configured or is disabled, so a
// device cannot be fetched.
var ErrNotConnected = apperr.New(apperr.Unavailable, "Microsoft Defender is not connected, so Postern cannot fetch this device. Enable the integration in Settings → Integrations.")

// Refusals of Sync now.
var (
	errNothingToSync = apperr.New(apperr.Conflict, "Microsoft Defender is not connected, so there is nothing to sync. Enable it first.")
	errSyncPaused    = apperr.New(apperr.Conflict, "Syncing is paused because Microsoft refused access (403). Grant admin consent for Machine.Read.All, then choose Manage and Save so Postern checks the credentials again.")
)

// SyncNow starts a sync at an admin's request (Sync now) and records it.
// It is refused while Defender is not connected or syncing is paused after
// a 403.
func (w *Worker) SyncNow(ctx context.Context) error {
	a, err := audit.Allowed(ctx, w.store, w.log, actor.Editor, audit.SyncRequested, "Microsoft Defender")
	if err != nil {
		return err
	}
	on, err := w.source.Enabled(ctx)
	if err != nil {
		return err
	}
	if !on {
		return errNothingToSync
	}
	if w.Status().Blocked {
		return errSyncPaused
	}
	if w.Leading() {
		w.Trigger(TriggerManual)
	} else if err := w.opts.RequestSync(ctx); err != nil {
		return err
	}
	e := audit.As(a, audit.SyncRequested, "Microsoft Defender")
	e.Detail = "Sync now"
	if err := w.store.AppendAudit(ctx, e); err != nil {
		w.log.ErrorContext(ctx, "append audit entry", "action", e.Action, "err", err)
	}
	return nil
}

// Recheck fetches one machine from Defender at an admin's request, stores
// it and republishes the snapshot if it changed. It reports whether
// anything changed. A device Postern does not know is NotFound, audited as
// a failure; any other failure is recorded in the audit log in the words of
// RecheckFailure.
func (w *Worker) Recheck(ctx context.Context, id string) (bool, error) {
	a, err := audit.Allowed(ctx, w.store, w.log, actor.Editor, audit.DeviceRechecked, id)
	if err != nil {
		return false, err
	}
	e := audit.As(a, audit.DeviceRechecked, id)
	if _, err := w.store.Device(ctx, id); err != nil {
		if apperr.Is(err, apperr.NotFound) {
			return false, audit.RecordRefusal(ctx, w.store, w.log, e, err)
		}
		return false, err
	}
	changed, err := w.recheck(ctx, a, id)
	if err != nil {
		e.Outcome, e.Detail = audit.Failure, RecheckFailure(err)
		if aerr := w.store.AppendAudit(ctx, e); aerr != nil {
			w.log.ErrorContext(ctx, "append audit entry", "action", e.Action, "err", aerr)
		}
	}
	return changed, err
}

func (w *Worker) recheck(ctx context.Context, a actor.Actor, id string) (bool, error) {
	client, _, err := w.source.Client(ctx)
	if apperr.Is(err, apperr.NotFound) || errors.Is(err, integration.ErrDisabled) {
		return false, ErrNotConnected
	}
	if err != nil {
		return false, err
	}
	m, err := client.Machine(ctx, id)
	if err != nil {
		return false, err
	}
	d := ToDevice(m)
	changed, err := w.store.UpdateDevice(ctx, d, audit.As(a, audit.DeviceRechecked, id))
	if err != nil {
		return false, err
	}
	if changed {
		return true, w.publish(ctx)
	}
	return false, nil
}

// RecheckFailure words a failed re-check for the admin and the audit log:
// Microsoft's message and code, or our own safe message; never err.Error().
func RecheckFailure(err error) string {
	var de *defender.Error
	switch {
	case errors.As(err, &de):
		text := "Re-check failed: " + de.Text()
		if de.Code != "" {
			text += " (" + de.Code + ")"
		}
		return text
	case errors.Is(err, ErrNotConnected):
		return apperr.MessageOf(err)
	default:
		return "Re-check failed: " + apperr.MessageOf(err)
	}
}
