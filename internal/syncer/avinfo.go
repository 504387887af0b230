package syncer

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"postern/internal/apperr"
	"postern/internal/defender"
	"postern/internal/fleet"
	"postern/internal/model"
)

// avFetch is what a run got from Defender's antivirus health report: the
// latest row per machine in both stored and snapshot form, or why not.
type avFetch struct {
	rows     []model.DeviceAV // sorted by machine id
	byID     map[string]*fleet.AV
	machines int
	err      error
}

// startAV reads the antivirus health report, and converts it, in the
// background. The channel always delivers exactly one result.
func (w *Worker) startAV(ctx context.Context, client *defender.Client) <-chan avFetch {
	out := make(chan avFetch, 1)
	opts := w.opts.List
	opts.PageSize = defender.AVPageSize
	go func() {
		rows, _, err := client.ListAVInfo(ctx, opts)
		if err != nil {
			out <- avFetch{err: err}
			return
		}
		out <- avRows(rows)
	}()
	return out
}

// avRows converts the report's latest rows, in machine id order, to their
// stored and snapshot forms. The times and the snapshot rows are allocated
// in one block each, not one per time and per machine.
func avRows(rows []defender.AVInfo) avFetch {
	f := avFetch{rows: make([]model.DeviceAV, len(rows)), byID: make(map[string]*fleet.AV, len(rows)), machines: len(rows)}
	times := make([]time.Time, 0, 4*len(rows))
	at := func(t defender.Time) *time.Time {
		if t.IsZero() {
			return nil
		}
		times = append(times, t.Time) // within its capacity: earlier pointers stay valid
		return &times[len(times)-1]
	}
	snap := make([]fleet.AV, len(rows))
	for i := range rows {
		r := &rows[i]
		a := &f.rows[i]
		*a = model.DeviceAV{
			MachineID: r.MachineID, Mode: string(r.AVMode), SignatureVersion: string(r.SignatureVersion),
			SignatureUpToDate: string(r.SignatureUpToDate), EngineVersion: string(r.EngineVersion),
			EngineUpToDate: string(r.EngineUpToDate), PlatformVersion: string(r.PlatformVersion),
			PlatformUpToDate: string(r.PlatformUpToDate), QuickScanResult: string(r.QuickScanResult),
			FullScanResult:       string(r.FullScanResult),
			SignaturePublishedAt: at(r.SignaturePublishTime), QuickScanAt: at(r.QuickScanTime),
			FullScanAt: at(r.FullScanTime), RefreshedAt: at(r.DataRefreshTimestamp),
		}
		a.Hash = avHash(a)
		snap[i] = fleet.AV{Mode: a.Mode, SignatureUpToDate: a.SignatureUpToDate, SignatureVersion: a.SignatureVersion,
			SignaturePublishedAt: r.SignaturePublishTime.Time, FullScanAt: r.FullScanTime.Time, RefreshedAt: r.DataRefreshTimestamp.Time}
		f.byID[a.MachineID] = &snap[i]
	}
	return f
}

// errAVLate is why a report that outlived Options.AVGrace is unknown.
var errAVLate = errors.New("the antivirus health report was not read in time")

// awaitAV returns what the report got, within Options.AVGrace of the
// machines' publication, else cancels it and calls it late.
func (w *Worker) awaitAV(avc <-chan avFetch, cancel context.CancelFunc) avFetch {
	t := time.NewTimer(w.opts.AVGrace)
	defer t.Stop()
	select {
	case f := <-avc:
		return f
	case <-t.C:
		cancel()
		if f := <-avc; f.err == nil {
			return f // it finished as the grace ran out
		}
		return avFetch{err: fmt.Errorf("%w: not within %s of the machine listing", errAVLate, w.opts.AVGrace)}
	}
}

// publishWithAV publishes a successful run's devices (fetched, indexed
// while the run was applied) with the run's antivirus health when the
// report is already read; otherwise with each device's health as the
// previous snapshot had it, and then, once the report is read (or late),
// again with this run's. Either way the run's report is recorded only once
// it is published.
func (w *Worker) publishWithAV(ctx context.Context, run model.SyncRun, fetched *fleet.Snapshot, avc <-chan avFetch, cancel context.CancelFunc) {
	var av avFetch
	ready := true
	select {
	case av = <-avc:
	default:
		ready = false
	}
	var byID map[string]*fleet.AV
	if ready {
		if byID = av.byID; byID == nil { // the report failed: no device has health
			byID = map[string]*fleet.AV{}
		}
		attachAV(fetched.Devices, byID)
		fetched.AVUnknown = avUnknown(run.ID, av)
	} else {
		old := w.fleet.Load()
		carryAV(fetched.Devices, old)
		fetched.AVUnknown = old.AVUnknown
	}
	if err := w.publishRun(ctx, run, fetched, byID); err != nil {
		w.log.Error("sync: publish snapshot", "run", run.ID, "err", err)
	}
	if !ready {
		av = w.awaitAV(avc, cancel)
		w.publishAV(run, av)
	}
	w.recordAV(ctx, run.ID, av)
}

// publishAV publishes the snapshot of run again, with the antivirus health
// of av.
func (w *Worker) publishAV(run model.SyncRun, av avFetch) {
	w.publishMu.Lock()
	defer w.publishMu.Unlock()
	cur := w.fleet.Load()
	if cur.RunID != run.ID {
		return // the publish failed; the store has the devices, and the report
	}
	devices := slices.Clone(cur.Devices)
	attachAV(devices, av.byID)
	snap := fleet.NewSnapshot(devices, cur.SyncedAt, cur.RunID)
	snap.AVUnknown = avUnknown(run.ID, av)
	w.swap(snap)
}

// avUnknown is the snapshot's AVUnknown for a run's report.
func avUnknown(runID int64, f avFetch) string {
	if f.err == nil {
		return ""
	}
	return AVUnknownReason(avResult(runID, f))
}

// carryAV gives each device the antivirus health old has for it.
func carryAV(devices []fleet.Device, old *fleet.Snapshot) {
	for i := range devices {
		if j, ok := old.Index(devices[i].ID); ok {
			devices[i].AV = old.Devices[j].AV
		}
	}
}

// avResult words a report fetch for the run's record.
func avResult(runID int64, f avFetch) model.AVRun {
	r := model.AVRun{RunID: runID, OK: f.err == nil, Machines: f.machines}
	if f.err == nil {
		return r
	}
	var de *defender.Error
	switch {
	case errors.As(f.err, &de):
		r.Error, r.ErrorCode = de.Message, de.Code
	case errors.Is(f.err, errAVLate):
		r.Error, r.ErrorCode = "The antivirus health report was "+strings.TrimPrefix(f.err.Error(), errAVLate.Error()+": ")+"; the machines were applied without it.", "late"
	case errors.Is(f.err, context.Canceled), errors.Is(f.err, context.DeadlineExceeded):
		r.Error, r.ErrorCode = "The antivirus health report was not read before the sync ended.", "cancelled"
	default:
		r.Error, r.ErrorCode = "The antivirus health report could not be read: "+apperr.MessageOf(f.err), "internal"
	}
	return r
}

// AVUnknownReason is what the posture reasons and the device page say when
// a run's antivirus health is unknown.
func AVUnknownReason(r model.AVRun) string {
	if r.OK {
		return ""
	}
	msg := strings.TrimSpace(r.Error)
	if msg == "" {
		return "the last sync did not read the antivirus health report"
	}
	if r.ErrorCode != "" {
		msg = r.ErrorCode + ": " + msg
	}
	return "the last sync could not read the antivirus health report (" + strings.TrimSuffix(msg, ".") + ")"
}

// recordAV stores what the run got from the report: the rows that
// changed, or why the run's antivirus health is unknown.
func (w *Worker) recordAV(ctx context.Context, runID int64, f avFetch) {
	res := avResult(runID, f)
	if !res.OK {
		w.log.Warn("sync: antivirus health unknown for this run", "run", runID, "error_code", res.ErrorCode, "error", res.Error)
	}
	if _, err := w.store.ApplyAV(ctx, res, f.rows); err != nil {
		w.log.Error("sync: record antivirus health", "run", runID, "err", err)
	}
}

// attachAV sets every device's AV from byID (nil when the report lacks it).
func attachAV(devices []fleet.Device, byID map[string]*fleet.AV) {
	for i := range devices {
		devices[i].AV = byID[devices[i].ID]
	}
}

// avHash is FNV-1a (64-bit) over every field of a, strings each ended by
// a zero byte and times as little-endian Unix nanoseconds (0 when unknown):
// a sync writes a row only when its hash changed.
func avHash(a *model.DeviceAV) int64 {
	const prime = 1099511628211
	h := uint64(14695981039346656037)
	for _, s := range [...]string{a.MachineID, a.Mode, a.SignatureVersion, a.SignatureUpToDate, a.EngineVersion,
		a.EngineUpToDate, a.PlatformVersion, a.PlatformUpToDate, a.QuickScanResult, a.FullScanResult} {
		for i := 0; i < len(s); i++ {
			h = (h ^ uint64(s[i])) * prime
		}
		h *= prime // the zero byte
	}
	for _, t := range [...]*time.Time{a.SignaturePublishedAt, a.QuickScanAt, a.FullScanAt, a.RefreshedAt} {
		var n uint64
		if t != nil {
			n = uint64(t.UnixNano())
		}
		for range 8 {
			h = (h ^ n&0xff) * prime
			n >>= 8
		}
	}
	return int64(h)
}
