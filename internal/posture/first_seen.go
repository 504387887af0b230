package posture

import (
	"strconv"
	"time"
)

// firstSeenGrace lets a new device through a check it does not pass while
// its first full report arrives: Defender's first report of a device can
// take hours, and until then its signals are missing or stale. It applies
// only to a device Defender first saw less than the grace ago, and it says
// so in a reason, with the failures kept beside it as information.
func firstSeenGrace(s *Spec, in *Input) (string, bool) {
	h := s.FirstSeenGraceHours
	if h <= 0 || in.Device == nil || in.Device.FirstSeen.IsZero() {
		return "", false
	}
	if _, gated := defenderGate(in); gated {
		return "", false
	}
	h = min(h, MaxFirstSeenGraceHrs)
	grace := time.Duration(h) * time.Hour
	age := in.now().Sub(in.Device.FirstSeen)
	if age < 0 || age >= grace {
		return "", false
	}
	hours := int64(age / time.Hour)
	return "new device: first seen " + plural(hours, "hour") + " ago, allowed for " + strconv.Itoa(h) +
		" hours while its first report arrives (until " + in.Device.FirstSeen.Add(grace).UTC().Format(time.RFC3339) + ")" +
		dataSuffix(in), true
}
