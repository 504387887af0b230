package posture

import (
	"strconv"
	"time"
)

// fullScan requires a full antivirus scan within N days, by the report's
// fullScanTime.
type fullScan struct {
	within time.Duration
	want   string
}

func newFullScan(days int) Condition {
	if days < 0 {
		return misconfigured{"Full scan within", "full scan within " + strconv.Itoa(days) + " days is negative"}
	}
	days = min(days, MaxFullScanDays)
	return fullScan{within: time.Duration(days) * 24 * time.Hour, want: "within " + plural(int64(days), "day")}
}

func (fullScan) Name() string { return "Full scan within" }

func (f fullScan) Evaluate(in *Input) Outcome {
	av, reason, ok := avGate(in, "last full scan", f.want)
	if !ok {
		return unknown(reason)
	}
	if av.FullScanAt.IsZero() {
		return fail("no full scan reported, required " + f.want + avAge(in, av))
	}
	if in.now().Sub(av.FullScanAt) <= f.within {
		return passed
	}
	return fail("last full scan " + daysAgo(in.now(), av.FullScanAt) + ", required " + f.want + avAge(in, av))
}
