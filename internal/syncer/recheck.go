package syncer

import (
	"context"
	"errors"

	"postern/internal/apperr"
	"postern/internal/integration"
	"postern/store"
)

// ErrNotConnected means Defender is not configured or is disabled, so a
// device cannot be fetched.
var ErrNotConnected = apperr.New(apperr.Unavailable, "Microsoft Defender is not connected, so Postern cannot fetch this device. Enable the integration in Settings → Integrations.")

// Recheck fetches one machine from Defender, stores it and republishes the
// snapshot if it changed. It reports whether anything changed.
func (w *Worker) Recheck(ctx context.Context, id, actor, ip string) (bool, error) {
	if _, err := w.store.Device(ctx, id); err != nil {
		return false, err
	}
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
	d, err := ToDevice(m)
	if err != nil {
		return false, err
	}
	audit := store.AuditEntry{Actor: actor, SourceIP: ip, Action: "device.rechecked", Target: id, Outcome: store.OutcomeSuccess}
	changed, err := w.store.UpdateDevice(ctx, d, audit)
	if err != nil {
		return false, err
	}
	if changed {
		return true, w.publish(ctx)
	}
	return false, nil
}
