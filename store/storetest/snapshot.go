package storetest

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"postern/internal/model"
)

// snapshotEach: EachSnapshotDevice reads what EachDevice and EachDeviceAV
// read, field by field (in any order), NULLs as "" and zero, with the
// antivirus health joined only when asked for.
func snapshotEach(t *testing.T, s Store) {
	ctx := t.Context()
	ds := []model.Device{device(1, "v1"), sparse(2), device(3, "v1"), device(4, "v1")}
	ds[2].Tags, ds[3].Tags = []string{"with \"quote\"", "ü"}, []string{"all", "t0"} // device 0's tags, in another row
	syncRun(t, s, append(ds, device(5, "v1")))
	run := syncRun(t, s, ds)                                              // device 5 is removed now
	rows := []model.DeviceAV{avRow(1, "0"), avRow(3, "1"), avRow(9, "2")} // 9: a machine with no device
	rows[1].SignaturePublishedAt, rows[1].FullScanAt = nil, nil
	_, err := s.ApplyAV(ctx, model.AVRun{RunID: run.ID, OK: true, Machines: 3}, rows)
	must(t, err, "ApplyAV")

	var want []model.SnapshotDevice
	must(t, s.EachDevice(ctx, func(d model.Device) error { want = append(want, snapshotOf(d)); return nil }), "EachDevice")
	av := map[string]*model.SnapshotAV{}
	must(t, s.EachDeviceAV(ctx, func(a model.DeviceAV) error { av[a.MachineID] = snapshotAVOf(a); return nil }), "EachDeviceAV")
	for _, withAV := range []bool{false, true} {
		var got []model.SnapshotDevice
		must(t, s.EachSnapshotDevice(ctx, withAV, func(d *model.SnapshotDevice) error {
			c := *d
			if d.AV != nil {
				a := *d.AV
				c.AV = &a
			}
			got = append(got, c)
			return nil
		}), "EachSnapshotDevice")
		slices.SortFunc(got, func(a, b model.SnapshotDevice) int { return strings.Compare(a.ID, b.ID) })
		if len(got) != len(want) {
			t.Fatalf("EachSnapshotDevice(withAV %v) gave %d devices, want %d", withAV, len(got), len(want))
		}
		for i := range want {
			w := want[i]
			if withAV {
				w.AV = av[w.ID]
			}
			if !reflect.DeepEqual(got[i], w) {
				t.Errorf("EachSnapshotDevice(withAV %v) #%d\n%+v (av %+v)\nwant\n%+v (av %+v)", withAV, i, got[i], got[i].AV, w, w.AV)
			}
		}
	}
	stop := errors.New("stop")
	calls := 0
	err = s.EachSnapshotDevice(ctx, true, func(*model.SnapshotDevice) error { calls++; return stop })
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("EachSnapshotDevice whose fn fails: %v after %d calls, want fn's error after 1", err, calls)
	}
}

// snapshotOf is what EachSnapshotDevice should read for d.
func snapshotOf(d model.Device) model.SnapshotDevice {
	s := model.SnapshotDevice{ID: d.ID, Host: d.Host, AADDeviceID: val(d.AADDeviceID), OSPlatform: d.OSPlatform,
		OSVersion: val(d.OSVersion), OSBuild: val(d.OSBuild), HealthStatus: d.HealthStatus, RiskScore: val(d.RiskScore),
		ExposureLevel: val(d.ExposureLevel), OnboardingStatus: d.OnboardingStatus, AVStatus: val(d.AVStatus),
		IsAADJoined: d.IsAADJoined, MergedInto: val(d.MergedInto), PotentialDuplicate: d.PotentialDuplicate,
		IsExcluded: d.IsExcluded, ExclusionReason: val(d.ExclusionReason), RBACGroup: val(d.RBACGroup),
		AgentVersion: val(d.AgentVersion), DeviceValue: val(d.DeviceValue), FirstSeen: val(d.FirstSeen),
		LastSeen: val(d.LastSeen), Removed: d.RemovedAt != nil, Tags: d.Tags}
	if len(s.Tags) == 0 {
		s.Tags = nil
	}
	return s
}

func snapshotAVOf(a model.DeviceAV) *model.SnapshotAV {
	return &model.SnapshotAV{Mode: a.Mode, SignatureUpToDate: a.SignatureUpToDate, SignatureVersion: a.SignatureVersion,
		SignaturePublishedAt: val(a.SignaturePublishedAt), FullScanAt: val(a.FullScanAt), RefreshedAt: val(a.RefreshedAt)}
}

// val is *p, or the zero value for nil.
func val[T any](p *T) T {
	if p == nil {
		var zero T
		return zero
	}
	return *p
}
