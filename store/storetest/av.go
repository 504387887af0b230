package storetest

import (
	"reflect"
	"testing"

	"postern/internal/apperr"
	"postern/internal/model"
)

func testAV(t *testing.T, open Opener) {
	cases(t, open,
		tcase{"WritesOnlyChanges", avWritesOnlyChanges},
		tcase{"FailureKeepsRows", avFailureKeepsRows},
	)
}

func avRow(i int, mode string) model.DeviceAV {
	pub, full := at(3, i%60), at(1, i%60)
	return model.DeviceAV{MachineID: device(i, "").ID, Mode: mode, SignatureVersion: "1.419.1.0", SignatureUpToDate: "True",
		SignaturePublishedAt: &pub, EngineVersion: "1.1.24090.11", EngineUpToDate: "True", PlatformVersion: "4.18.24090.11",
		PlatformUpToDate: "Unknown", QuickScanResult: "Completed", FullScanAt: &full, FullScanResult: "Completed",
		RefreshedAt: &pub, Hash: int64(i)*10 + int64(len(mode))}
}

func avWritesOnlyChanges(t *testing.T, s Store) {
	ctx := t.Context()
	run := syncRun(t, s, devices(1, 4, "v1"))
	rows := []model.DeviceAV{avRow(1, "0"), avRow(2, "0"), avRow(3, "1")}
	res, err := s.ApplyAV(ctx, model.AVRun{RunID: run.ID, OK: true, Machines: 3}, rows)
	must(t, err, "ApplyAV")
	if res.Written != 3 {
		t.Errorf("first ApplyAV wrote %d rows, want 3", res.Written)
	}
	run2 := syncRun(t, s, devices(1, 4, "v1"))
	res, err = s.ApplyAV(ctx, model.AVRun{RunID: run2.ID, OK: true, Machines: 3}, rows)
	must(t, err, "ApplyAV again")
	if res.Written != 0 {
		t.Errorf("ApplyAV of the same rows wrote %d, want 0", res.Written)
	}
	// One changes, one leaves the report.
	run3 := syncRun(t, s, devices(1, 4, "v1"))
	changed := avRow(2, "4x")
	res, err = s.ApplyAV(ctx, model.AVRun{RunID: run3.ID, OK: true, Machines: 2}, []model.DeviceAV{avRow(1, "0"), changed})
	must(t, err, "ApplyAV with a change")
	if res.Written != 2 {
		t.Errorf("ApplyAV with one change and one gone wrote %d, want 2", res.Written)
	}
	got, err := s.DeviceAV(ctx, changed.MachineID)
	must(t, err, "DeviceAV")
	wantAV(t, got, changed)
	_, err = s.DeviceAV(ctx, avRow(3, "").MachineID)
	wantKind(t, err, apperr.NotFound, "DeviceAV of a machine the report dropped")
	n := 0
	must(t, s.EachDeviceAV(ctx, func(model.DeviceAV) error { n++; return nil }), "EachDeviceAV")
	if n != 2 {
		t.Errorf("EachDeviceAV gave %d rows, want 2", n)
	}
	r, err := s.AVRunOf(ctx, run3.ID)
	must(t, err, "AVRunOf")
	if !r.OK || r.Machines != 2 || r.Written != 2 {
		t.Errorf("AVRunOf = %+v, want ok, 2 machines, 2 written", r)
	}
}

func avFailureKeepsRows(t *testing.T, s Store) {
	ctx := t.Context()
	run := syncRun(t, s, devices(1, 3, "v1"))
	rows := []model.DeviceAV{avRow(1, "0"), avRow(2, "0")}
	_, err := s.ApplyAV(ctx, model.AVRun{RunID: run.ID, OK: true, Machines: 2}, rows)
	must(t, err, "ApplyAV")
	run2 := syncRun(t, s, devices(1, 3, "v1"))
	res, err := s.ApplyAV(ctx, model.AVRun{RunID: run2.ID, Error: "Microsoft answered 403.", ErrorCode: "403"}, nil)
	must(t, err, "ApplyAV of a failure")
	if res.Written != 0 {
		t.Errorf("a failed report wrote %d rows, want 0", res.Written)
	}
	got, err := s.DeviceAV(ctx, rows[0].MachineID)
	must(t, err, "DeviceAV after a failed report")
	wantAV(t, got, rows[0])
	r, err := s.AVRunOf(ctx, run2.ID)
	must(t, err, "AVRunOf")
	if r.OK || r.Error != "Microsoft answered 403." || r.ErrorCode != "403" {
		t.Errorf("AVRunOf the failed run = %+v, want its error", r)
	}
	_, err = s.AVRunOf(ctx, run2.ID+1)
	wantKind(t, err, apperr.NotFound, "AVRunOf a run that did not ask")
}

func wantAV(t *testing.T, got, want model.DeviceAV) {
	t.Helper()
	if !sameTimePtr(got.SignaturePublishedAt, want.SignaturePublishedAt) || !sameTimePtr(got.FullScanAt, want.FullScanAt) ||
		!sameTimePtr(got.RefreshedAt, want.RefreshedAt) || !sameTimePtr(got.QuickScanAt, want.QuickScanAt) {
		t.Errorf("antivirus health of %s: times %+v, want %+v", want.MachineID, got, want)
	}
	got.SignaturePublishedAt, got.FullScanAt, got.RefreshedAt, got.QuickScanAt = nil, nil, nil, nil
	want.SignaturePublishedAt, want.FullScanAt, want.RefreshedAt, want.QuickScanAt = nil, nil, nil, nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("antivirus health = %+v, want %+v", got, want)
	}
}
