package syncer

import (
	"context"
	"fmt"
	"time"

	"postern/internal/apperr"
	"postern/internal/fleet"
	"postern/internal/model"
)

// Snapshots is what LoadSnapshot reads: the last successful run and every device.
type Snapshots interface {
	LastRun(ctx context.Context, integration string, outcomes ...string) (model.SyncRun, error)
	EachDevice(ctx context.Context, fn func(model.Device) error) error
}

// LoadSnapshot builds the in-memory snapshot from the devices table, stamped
// with the last successful run.
func LoadSnapshot(ctx context.Context, st Snapshots, integration string) (*fleet.Snapshot, error) {
	var syncedAt time.Time
	var runID int64
	run, err := st.LastRun(ctx, integration, model.RunSuccess)
	switch {
	case err == nil:
		syncedAt, runID = *run.FinishedAt, run.ID
	case !apperr.Is(err, apperr.NotFound):
		return nil, err
	}
	devices := make([]fleet.Device, 0, 1024)
	err = st.EachDevice(ctx, func(d model.Device) error {
		devices = append(devices, toFleet(d))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("syncer: load devices: %w", err)
	}
	return fleet.NewSnapshot(devices, syncedAt, runID), nil
}
