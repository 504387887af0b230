package syncer

import (
	"fmt"
	"time"
)

// Microsoft's call limits per app (docs/defender-api.md#rate-limits-and-retry-after): the machine list and
// the antivirus health report each have their own.
const (
	MachinesPerMinute = 100
	MachinesPerHour   = 1500
	AVInfoPerMinute   = 30
	AVInfoPerHour     = 1000
)

// maxPageSize is Defender's own limit on $top, and what the client asks
// for when no page size is set.
const maxPageSize = 10000

// Plan is what a sync's calls depend on: how many machines it lists, how
// many per page (0: Defender's maximum), and how often it runs. AVPageSize,
// when not 0, also plans the antivirus health report's pages.
type Plan struct {
	Devices    int
	PageSize   int
	AVPageSize int
	Interval   time.Duration
}

// Budget is a Plan's calls against Microsoft's limits.
type Budget struct {
	Plan
	CallsPerSync   int // machine list pages
	CallsPerHour   int // at the planned interval
	AVCallsPerSync int
	AVCallsPerHour int
	// MinInterval is the shortest interval, in whole minutes, at which
	// every sync stays inside both limits of both endpoints.
	MinInterval time.Duration
}

// PlanCalls counts the calls of p's syncs. A listing of n machines at s
// per page takes n/s + 1 pages: it stops at the first short page, which is
// empty when n is a multiple of s.
func PlanCalls(p Plan) Budget {
	if p.PageSize <= 0 || p.PageSize > maxPageSize {
		p.PageSize = maxPageSize
	}
	b := Budget{Plan: p, CallsPerSync: pages(p.Devices, p.PageSize)}
	b.CallsPerHour = perHour(b.CallsPerSync, p.Interval)
	b.MinInterval = minInterval(b.CallsPerSync, MachinesPerMinute, MachinesPerHour)
	if p.AVPageSize > 0 {
		b.AVCallsPerSync = pages(p.Devices, min(p.AVPageSize, maxPageSize))
		b.AVCallsPerHour = perHour(b.AVCallsPerSync, p.Interval)
		b.MinInterval = max(b.MinInterval, minInterval(b.AVCallsPerSync, AVInfoPerMinute, AVInfoPerHour))
	}
	return b
}

func pages(devices, size int) int { return max(devices, 0)/size + 1 }

// perHour is the calls an hour of syncs every interval make, rounded up.
func perHour(calls int, interval time.Duration) int {
	if interval <= 0 {
		return 0
	}
	return int((int64(calls)*int64(time.Hour) + int64(interval) - 1) / int64(interval))
}

// minInterval is the shortest whole number of minutes between syncs of
// calls each that stays within perMinute (a sync's calls take at least
// calls/perMinute minutes) and perHour.
func minInterval(calls, perMinute, perHour int) time.Duration {
	m := max(ceilDiv(calls*60, perHour), ceilDiv(calls, perMinute), 1)
	return time.Duration(m) * time.Minute
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// Fits reports whether syncs at the planned interval stay inside the
// limits (an interval of whole minutes, at least MinInterval).
func (b Budget) Fits() bool { return b.Interval >= b.MinInterval }

// MinPageSize is the smallest page size at which syncs at the planned
// interval fit Microsoft's machine list limits, or 0 when no page size can.
func (b Budget) MinPageSize() int {
	minutes := int(b.Interval / time.Minute)
	maxCalls := min(MachinesPerHour*minutes/60, MachinesPerMinute*minutes)
	if maxCalls < 1 {
		return 0
	}
	size := max(b.Devices, 0)/maxCalls + 1 // pages(n, size) <= maxCalls
	if size > maxPageSize {
		return 0
	}
	return size
}

// Refusal says, with the numbers, why the plan does not fit and what to
// change.
func (b Budget) Refusal() string {
	msg := fmt.Sprintf("listing %s machines at %s per page takes %s calls per sync; every %s that is %s calls an hour, more than the %s an hour Microsoft allows",
		count(b.Devices), count(b.PageSize), count(b.CallsPerSync), b.Interval, count(b.CallsPerHour), count(MachinesPerHour))
	if b.AVCallsPerSync > 0 && b.AVCallsPerHour > AVInfoPerHour {
		msg = fmt.Sprintf("the antivirus health report of %s machines at %s per page takes %s calls per sync; every %s that is %s calls an hour, more than the %s an hour Microsoft allows",
			count(b.Devices), count(b.AVPageSize), count(b.AVCallsPerSync), b.Interval, count(b.AVCallsPerHour), count(AVInfoPerHour))
	}
	msg += fmt.Sprintf(". Set sync-interval to at least %s", b.MinInterval)
	if s := b.MinPageSize(); s > 0 && s > b.PageSize {
		msg += fmt.Sprintf(" or defender-page-size to at least %s", count(s))
	}
	return msg + "."
}

// StretchedText says on the card that the interval was stretched.
func StretchedText(d time.Duration) string {
	return fmt.Sprintf("The sync interval is stretched to %d min to stay inside Microsoft's %s calls/hour: the fleet has grown past what the configured interval allows.",
		int(d/time.Minute), count(MachinesPerHour))
}
