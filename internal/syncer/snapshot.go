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
	EachDeviceAV(ctx context.Context, fn func(model.DeviceAV) error) error
	AVRunOf(ctx context.Context, runID int64) (model.AVRun, error)
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
	snap := fleet.NewSnapshot(devices, syncedAt, runID)
	if runID == 0 {
		return snap, nil
	}
	av, err := st.AVRunOf(ctx, runID)
	switch {
	case apperr.Is(err, apperr.NotFound):
		av = model.AVRun{RunID: runID}
	case err != nil:
		return nil, err
	}
	if !av.OK {
		snap.AVUnknown = AVUnknownReason(av)
		return snap, nil
	}
	byID := make(map[string]*fleet.AV)
	err = st.EachDeviceAV(ctx, func(a model.DeviceAV) error {
		byID[a.MachineID] = avToFleet(a)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("syncer: load antivirus health: %w", err)
	}
	attachAV(snap.Devices, byID)
	return snap, nil
}
