package syncer_test

import (
	"strings"
	"testing"
	"time"

	"postern/internal/defender"
	"postern/internal/fleet"
	"postern/internal/model"
	"postern/internal/syncer"
)

func TestPlanCalls(t *testing.T) {
	for _, c := range []struct {
		name                     string
		plan                     syncer.Plan
		perSync, perHour, avSync int
		minInterval              time.Duration
		fits                     bool
		minPage                  int
	}{
		{"empty tenant", syncer.Plan{Devices: 0, PageSize: 2000, Interval: 5 * time.Minute}, 1, 12, 0, time.Minute, true, 1},
		{"1,000 at 2,000", syncer.Plan{Devices: 1000, PageSize: 2000, Interval: 5 * time.Minute}, 1, 12, 0, time.Minute, true, 9},
		{"exact multiple asks one empty page", syncer.Plan{Devices: 4000, PageSize: 2000, Interval: 5 * time.Minute}, 3, 36, 0, time.Minute, true, 33},
		{"100k at 2,000 every 5 min", syncer.Plan{Devices: 100000, PageSize: 2000, Interval: 5 * time.Minute}, 51, 612, 0, 3 * time.Minute, true, 801},
		{"100k at 2,000 every minute", syncer.Plan{Devices: 100000, PageSize: 2000, Interval: time.Minute}, 51, 3060, 0, 3 * time.Minute, false, 4001},
		{"100k at 100 every 5 min", syncer.Plan{Devices: 100000, PageSize: 100, Interval: 5 * time.Minute}, 1001, 12012, 0, 41 * time.Minute, false, 801},
		{"no page size: Defender's maximum", syncer.Plan{Devices: 100000, Interval: time.Minute}, 11, 660, 0, time.Minute, true, 4001},
		{"1M at 1,000 every 5 min", syncer.Plan{Devices: 1000000, PageSize: 1000, Interval: 5 * time.Minute}, 1001, 12012, 0, 41 * time.Minute, false, 8001},
		{"AV report 200k at 10,000 every minute", syncer.Plan{Devices: 200000, PageSize: 10000, AVPageSize: 10000, Interval: time.Minute}, 21, 1260, 21, 2 * time.Minute, false, 8001},
	} {
		b := syncer.PlanCalls(c.plan)
		if b.CallsPerSync != c.perSync || b.CallsPerHour != c.perHour || b.AVCallsPerSync != c.avSync || b.MinInterval != c.minInterval || b.Fits() != c.fits {
			t.Errorf("%s: calls/sync %d, calls/hour %d, AV calls/sync %d, min interval %s, fits %v; want %d, %d, %d, %s, %v",
				c.name, b.CallsPerSync, b.CallsPerHour, b.AVCallsPerSync, b.MinInterval, b.Fits(), c.perSync, c.perHour, c.avSync, c.minInterval, c.fits)
		}
		if got := b.MinPageSize(); got != c.minPage {
			t.Errorf("%s: min page size %d, want %d", c.name, got, c.minPage)
		}
		if s := b.MinPageSize(); s > 0 && !syncer.PlanCalls(syncer.Plan{Devices: c.plan.Devices, PageSize: s, Interval: c.plan.Interval}).Fits() {
			t.Errorf("%s: the advised page size %d does not fit", c.name, s)
		}
		if !b.Fits() {
			if !syncer.PlanCalls(syncer.Plan{Devices: c.plan.Devices, PageSize: c.plan.PageSize, AVPageSize: c.plan.AVPageSize, Interval: b.MinInterval}).Fits() {
				t.Errorf("%s: the advised interval %s does not fit", c.name, b.MinInterval)
			}
		}
	}
	msg := syncer.PlanCalls(syncer.Plan{Devices: 100000, PageSize: 2000, Interval: time.Minute}).Refusal()
	for _, want := range []string{"100,000 machines", "51 calls per sync", "3,060 calls an hour", "1,500 an hour", "sync-interval to at least 3m0s", "defender-page-size to at least 4,001"} {
		if !strings.Contains(msg, want) {
			t.Errorf("refusal %q lacks %q", msg, want)
		}
	}
}

// A stored fleet that the configured page size and interval cannot list
// inside Microsoft's hourly budget is refused at start, with the numbers;
// a worker whose fleet grew past it stretches the interval instead.
func TestWorkerKeepsTheCallBudget(t *testing.T) {
	e := newEnv(t, envOptions{machines: 300, list: defender.ListOptions{PageSize: 10}})
	if run := e.sync(syncer.TriggerManual); run.Outcome != model.RunSuccess || run.Seen != 300 {
		t.Fatalf("first run %s seen %d", run.Outcome, run.Seen)
	}
	opts := syncer.Options{Interval: time.Minute, List: defender.ListOptions{PageSize: 10}}
	err := syncer.New(e.st, e.svc, &fleet.Holder{}, e.wlog, opts).Load(t.Context())
	if err == nil {
		t.Fatal("Load accepted 31 calls a minute")
	}
	for _, want := range []string{"sync-interval", "300 machines at 10 per page takes 31 calls per sync", "1,860 calls an hour", "at least 2m0s"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("refusal %q lacks %q", err, want)
		}
	}
	// The same fleet grown under a running worker: the interval stretches.
	if st := syncer.New(e.st, e.svc, e.holder, e.wlog, opts).Status(); st.Stretched != 2*time.Minute {
		t.Errorf("stretched to %s, want 2m0s", st.Stretched)
	}
	if st := e.w.Status(); st.Stretched != 0 {
		t.Errorf("an hourly sync of 300 machines stretched to %s, want not at all", st.Stretched)
	}
	if got := syncer.StretchedText(2 * time.Minute); !strings.Contains(got, "stretched to 2 min to stay inside Microsoft's 1,500 calls/hour") {
		t.Errorf("card text %q", got)
	}
}
