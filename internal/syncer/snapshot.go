package syncer

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"postern/internal/apperr"
	"postern/internal/fleet"
	"postern/internal/model"
)

// Snapshots is what LoadSnapshot reads: the last successful run and every device.
type Snapshots interface {
	LastRun(ctx context.Context, integration string, outcomes ...string) (model.SyncRun, error)
	CountDevices(ctx context.Context) (int, error)
	EachSnapshotDevice(ctx context.Context, withAV bool, fn func(*model.SnapshotDevice) error) error
	AVRunOf(ctx context.Context, runID int64) (model.AVRun, error)
}

// LoadSnapshot builds the in-memory snapshot from the devices table, stamped
// with the last successful run, each device with the antivirus health the
// run read (none, and the snapshot's AVUnknown saying why, when it could
// not read the report).
func LoadSnapshot(ctx context.Context, st Snapshots, integration string) (*fleet.Snapshot, error) {
	return loadSnapshot(ctx, st, integration, 0)
}

// loadSnapshot is LoadSnapshot for about size devices (the snapshot it
// replaces; 0 when unknown: the store counts them), so that the slice is
// allocated once, not copied as it grows.
func loadSnapshot(ctx context.Context, st Snapshots, integration string, size int) (*fleet.Snapshot, error) {
	var syncedAt time.Time
	var runID int64
	run, err := st.LastRun(ctx, integration, model.RunSuccess)
	switch {
	case err == nil:
		syncedAt, runID = *run.FinishedAt, run.ID
	case !apperr.Is(err, apperr.NotFound):
		return nil, err
	}
	var avUnknown string
	withAV := false
	if runID != 0 {
		av, err := st.AVRunOf(ctx, runID)
		switch {
		case apperr.Is(err, apperr.NotFound):
			av = model.AVRun{RunID: runID}
		case err != nil:
			return nil, err
		}
		withAV, avUnknown = av.OK, AVUnknownReason(av)
	}
	if size == 0 {
		if size, err = st.CountDevices(ctx); err != nil {
			return nil, fmt.Errorf("syncer: count devices: %w", err)
		}
	}
	devices, err := readDevices(ctx, st, withAV, size+size/64+16)
	if err != nil {
		return nil, fmt.Errorf("syncer: load devices: %w", err)
	}
	snap := fleet.NewSnapshot(devices, syncedAt, runID)
	snap.AVUnknown = avUnknown
	return snap, nil
}

// readDevices reads every device, with its antivirus health when withAV,
// in id order (byID).
func readDevices(ctx context.Context, st Snapshots, withAV bool, size int) ([]fleet.Device, error) {
	devices := make([]fleet.Device, 0, size)
	var avs []fleet.AV // allocated together
	err := st.EachSnapshotDevice(ctx, withAV, func(d *model.SnapshotDevice) error {
		f := snapshotToFleet(d)
		if d.AV != nil {
			if len(avs) == cap(avs) {
				avs = make([]fleet.AV, 0, max(1024, cap(devices)-len(devices)))
			}
			avs = append(avs, avToFleetAV(d.AV))
			f.AV = &avs[len(avs)-1]
		}
		devices = append(devices, f)
		return nil
	})
	if err != nil {
		return nil, err
	}
	sortByID(devices)
	return devices, nil
}

// sortByID puts devices, read in the store's order, in id order. It sorts
// the ids with their positions, then moves each device once: a device is
// hundreds of bytes, too many to swap around a sort.
func sortByID(devices []fleet.Device) {
	if slices.IsSortedFunc(devices, byID) {
		return
	}
	type key struct {
		id string
		at int
	}
	keys := make([]key, len(devices))
	for i := range devices {
		keys[i] = key{devices[i].ID, i}
	}
	slices.SortFunc(keys, func(a, b key) int { return strings.Compare(a.id, b.id) })
	// Position i takes the device at keys[i].at: follow each cycle.
	for i := range keys {
		if keys[i].at < 0 || keys[i].at == i {
			continue
		}
		held := devices[i]
		j := i
		for {
			from := keys[j].at
			keys[j].at = -1
			if from == i {
				devices[j] = held
				break
			}
			devices[j] = devices[from]
			j = from
		}
	}
}
