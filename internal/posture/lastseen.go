package posture

import (
	"strconv"
	"time"
)

// maxLastSeenHours bounds the setting so hours × time.Hour cannot overflow.
const maxLastSeenHours = 24 * 366

// lastSeen requires Defender's lastSeen within N hours. lastSeen is the
// last full device report, about daily (docs/defender-api.md#last-seen), hence the
// editor's minimum of 48 (MinLastSeenHours).
type lastSeen struct {
	within time.Duration
	want   string // "24 hours"
}

func newLastSeen(hours int) Condition {
	if hours < 0 {
		return misconfigured{"Last seen within", "last seen within " + strconv.Itoa(hours) + " hours is negative"}
	}
	hours = min(hours, maxLastSeenHours)
	return lastSeen{within: time.Duration(hours) * time.Hour, want: plural(int64(hours), "hour")}
}

func (lastSeen) Name() string { return "Last seen within" }

func (l lastSeen) Evaluate(in *Input) Outcome {
	if r, ok := defenderGate(in); ok {
		return unknown(r)
	}
	t := in.Device.LastSeen
	if t.IsZero() {
		return unknown("last seen not reported, required within " + l.want + dataSuffix(in))
	}
	age := in.now().Sub(t)
	if age <= l.within {
		return passed
	}
	// Round up: "24 hours ago" must not describe a failure of "within
	// 24", and a failure is at least 2 hours old, so always plural.
	h := int64((age + time.Hour - 1) / time.Hour)
	var buf [20]byte
	return fail("last seen " + string(strconv.AppendInt(buf[:0], h, 10)) + " hours ago, required within " + l.want + dataSuffix(in))
}

func plural(n int64, unit string) string {
	s := strconv.FormatInt(n, 10) + " " + unit
	if n != 1 {
		s += "s"
	}
	return s
}
