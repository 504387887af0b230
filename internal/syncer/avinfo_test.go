package syncer_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"postern/internal/emulator"
	"postern/internal/model"
	"postern/internal/syncer"
)

// latestAV is the report's latest row per machine, as the emulator serves it.
func latestAV(emu *emulator.Emulator) map[string]emulator.AVRow {
	out := map[string]emulator.AVRow{}
	for _, r := range emu.AVRows() {
		if old, ok := out[r.MachineID]; ok && !r.DataRefreshTimestamp.After(old.DataRefreshTimestamp) {
			continue
		}
		out[r.MachineID] = r
	}
	return out
}

func TestSyncReadsAntivirusHealth(t *testing.T) {
	e := newEnv(t, envOptions{machines: 60})
	run := e.sync(syncer.TriggerManual)
	if run.Outcome != model.RunSuccess {
		t.Fatalf("run %s: %s", run.Outcome, run.Error)
	}
	want := latestAV(e.emu)
	snap := e.holder.Load()

	if snap.AVUnknown != "" {
		t.Errorf("snapshot says antivirus health unknown: %s", snap.AVUnknown)
	}
	with := 0
	for _, d := range snap.Devices {
		w, ok := want[d.ID]
		switch {
		case !ok && d.AV != nil:
			t.Errorf("device %s has antivirus health the report does not list", d.ID)
		case ok && d.AV == nil:
			t.Errorf("device %s lacks its antivirus health", d.ID)
		case ok && (d.AV.Mode != w.AVMode || d.AV.SignatureUpToDate != w.AVIsSignatureUpToDate || !d.AV.RefreshedAt.Equal(w.DataRefreshTimestamp)):
			t.Errorf("device %s antivirus %+v, want the latest row %+v", d.ID, *d.AV, w)
		case ok:
			with++
		}
	}
	if with == 0 || with != len(want) {
		t.Errorf("%d devices carry antivirus health, want %d", with, len(want))
	}
	if n := e.count("SELECT COUNT(*) FROM device_av"); n != len(want) {
		t.Errorf("device_av holds %d rows, want %d", n, len(want))
	}
	av, err := e.st.AVRunOf(context.Background(), run.ID)
	if err != nil || !av.OK || av.Written != len(want) {
		t.Errorf("first run's report record %+v, %v; want ok with %d rows written", av, err, len(want))
	}

	// Nothing changed: the second run writes no row.
	run2 := e.sync(syncer.TriggerManual)
	av, err = e.st.AVRunOf(context.Background(), run2.ID)
	if err != nil || !av.OK || av.Written != 0 || av.Machines != len(want) {
		t.Errorf("unchanged run's report record %+v, %v; want ok, %d machines, 0 written", av, err, len(want))
	}

	// One machine's mode changes: one row is written.
	var id string
	for k := range want {
		id = k
		break
	}
	e.emu.SetAVOverride(id, func(r *emulator.AVRow) { r.AVMode = "1" })
	run3 := e.sync(syncer.TriggerManual)
	av, _ = e.st.AVRunOf(context.Background(), run3.ID)
	if av.Written != 1 {
		t.Errorf("a run with one changed row wrote %d", av.Written)
	}
	snap = e.holder.Load()
	if i, ok := snap.Index(id); !ok || snap.Devices[i].AV == nil || snap.Devices[i].AV.Mode != "1" {
		t.Errorf("device %s antivirus after the change is not mode 1", id)
	}
}

func TestSyncAntivirusFailureDoesNotFailTheRun(t *testing.T) {
	e := newEnv(t, envOptions{machines: 40})
	if run := e.sync(syncer.TriggerManual); run.Outcome != model.RunSuccess {
		t.Fatalf("first run %s", run.Outcome)
	}
	before := e.count("SELECT COUNT(*) FROM device_av")
	e.setFaults(emulator.Faults{AVInfoStatus: http.StatusForbidden})
	e.change() // the machines change meanwhile: the run must still apply them
	run := e.sync(syncer.TriggerManual)
	if run.Outcome != model.RunSuccess || run.Changed == 0 {
		t.Fatalf("run with the report failing: %s, %d changed (%s); want success with the changes", run.Outcome, run.Changed, run.Error)
	}
	snap := e.holder.Load()
	if !strings.Contains(snap.AVUnknown, "antivirus health report") || !strings.Contains(snap.AVUnknown, "403") {
		t.Errorf("snapshot AVUnknown %q, want the report and Microsoft's answer named", snap.AVUnknown)
	}
	for _, d := range snap.Devices {
		if d.AV != nil {
			t.Fatalf("device %s keeps antivirus health from an earlier run while this run's is unknown", d.ID)
		}
	}
	av, err := e.st.AVRunOf(context.Background(), run.ID)
	if err != nil || av.OK || av.Error == "" {
		t.Errorf("the run's report record %+v, %v; want not ok with the reason", av, err)
	}
	if n := e.count("SELECT COUNT(*) FROM device_av"); n != before {
		t.Errorf("device_av rows %d after a failed report, want the %d stored before", n, before)
	}
	// After a restart the snapshot says the same.
	e.restart()
	if got := e.holder.Load().AVUnknown; got != snap.AVUnknown {
		t.Errorf("after a restart AVUnknown %q, want %q", got, snap.AVUnknown)
	}
}

// A report slower than Options.AVGrace never holds the machines back: the
// run applies them, and its antivirus health is unknown, "late".
func TestSyncAntivirusLateDoesNotHoldTheMachines(t *testing.T) {
	e := newEnv(t, envOptions{machines: 40, avGrace: 50 * time.Millisecond})
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	e.onRequest(func(r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/deviceavinfo") {
			select { // until the test ends or the run gives up on it
			case <-release:
			case <-r.Context().Done():
			}
		}
	})
	run := e.sync(syncer.TriggerManual)
	if run.Outcome != model.RunSuccess || run.Added != 40 {
		t.Fatalf("run with a stalled report: %s, %d added (%s); want success with 40", run.Outcome, run.Added, run.Error)
	}
	av, err := e.st.AVRunOf(context.Background(), run.ID)
	if err != nil || av.OK || av.ErrorCode != "late" || !strings.Contains(av.Error, "50ms of the machine listing") {
		t.Errorf("the run's report record %+v, %v; want not ok, late, naming the grace", av, err)
	}
	if snap := e.holder.Load(); snap.Active != 40 || !strings.Contains(snap.AVUnknown, "late") {
		t.Errorf("snapshot active %d, AVUnknown %q; want 40 and the late report named", snap.Active, snap.AVUnknown)
	}
}

// The antivirus health report is read once the machines are listed, beside
// their apply. When it is not read by the time they are published, the
// machines go out at once, each with the health it had; this run's health
// follows in a second publication, and only then is it recorded.
func TestSyncPublishesTheMachinesBeforeASlowReport(t *testing.T) {
	e := newEnv(t, envOptions{machines: 30})
	if run := e.sync(syncer.TriggerManual); run.Outcome != model.RunSuccess {
		t.Fatalf("first run %s: %s", run.Outcome, run.Error)
	}
	first := latestAV(e.emu)
	e.change()    // the machines change too
	var id string // a machine in the report before and after the change
	for k := range latestAV(e.emu) {
		if _, ok := first[k]; ok {
			id = k
			break
		}
	}
	modeOf := func() string {
		snap := e.holder.Load()
		if i, ok := snap.Index(id); ok && snap.Devices[i].AV != nil {
			return snap.Devices[i].AV.Mode
		}
		return "none"
	}
	before := modeOf()
	if before == "none" || before == "2" {
		t.Fatalf("device %s antivirus mode %q after the first run, want a mode other than 2", id, before)
	}
	e.emu.SetAVOverride(id, func(r *emulator.AVRow) { r.AVMode = "2" })
	release := make(chan struct{})
	e.onRequest(func(r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/deviceavinfo") {
			<-release
		}
	})
	prev := e.holder.Load()
	status := e.w.Status()
	e.w.Trigger(syncer.TriggerManual)
	e.waitFor("the machines of the second run to be published", func() bool { return e.holder.Load().RunID > prev.RunID })
	snap := e.holder.Load()
	stored := e.storedRun(snap.RunID)
	if stored.Outcome != model.RunSuccess || stored.Changed == 0 {
		t.Errorf("the published run is recorded as %s with %d changed; want success with the changes", stored.Outcome, stored.Changed)
	}
	if got := modeOf(); got != before || snap.AVUnknown != prev.AVUnknown {
		t.Errorf("while the report is read, device %s has mode %q (AVUnknown %q); want the %q it had", id, got, snap.AVUnknown, before)
	}
	if av, err := e.st.AVRunOf(context.Background(), snap.RunID); err == nil && av.RunID == snap.RunID {
		t.Errorf("the run's report is recorded (%+v) before it is published", av)
	}
	close(release)
	run := e.waitRun(status)
	if got := modeOf(); run.ID != snap.RunID || got != "2" {
		t.Errorf("after run %d ended, device %s has mode %q; want run %d with mode 2", run.ID, id, got, snap.RunID)
	}
	if av, err := e.st.AVRunOf(context.Background(), run.ID); err != nil || !av.OK || av.Written == 0 {
		t.Errorf("the run's report record %+v, %v; want ok with the changed rows written", av, err)
	}
}
