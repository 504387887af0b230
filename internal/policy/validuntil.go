package policy

import (
	"strings"
	"time"

	"postern/internal/fleet"
	"postern/internal/posture"
)

// validUntil is the earliest moment after now at which the same data (the
// same snapshot, checks and exceptions) could give device d another
// verdict on its own (docs/api.md#valid-until): the Defender data turning
// stale or the outage grace ending, one of its exceptions expiring, a
// "Last seen within" window closing, a first-seen grace ending, the
// antivirus signatures passing their maximum age or the last full scan
// leaving its "Full scan within" window. Zero when
// nothing would move it. Each moment counts whether or not it changes this
// device's verdict in the end: the answer may be cached until then, never
// longer. Reasons that quote an age ("last seen 50 hours ago") are not
// verdicts and do not count.
func validUntil(s *state, fresh Freshness, d *fleet.Device, now time.Time) time.Time {
	var until time.Time
	add := func(t time.Time) {
		if t.After(now) && (until.IsZero() || t.Before(until)) {
			until = t
		}
	}
	defender := false
	for i := range s.checks {
		c := &s.checks[i]
		if !c.Enabled || c.Source != posture.SourceDefender {
			continue
		}
		defender = true
		if d == nil {
			continue
		}
		if h := c.Spec.LastSeenHours; h > 0 && !d.LastSeen.IsZero() {
			add(d.LastSeen.Add(time.Duration(min(h, 24*366)) * time.Hour))
		}
		if h := c.Spec.FirstSeenGraceHours; h > 0 && !d.FirstSeen.IsZero() {
			add(d.FirstSeen.Add(time.Duration(min(h, posture.MaxFirstSeenGraceHrs)) * time.Hour))
		}
		if av := d.AV; av != nil {
			// The antivirus windows, capped as their conditions cap them.
			const day = 24 * time.Hour
			if n := c.Spec.SignatureMaxAgeDays; n > 0 && !av.SignaturePublishedAt.IsZero() {
				add(av.SignaturePublishedAt.Add(time.Duration(min(n, posture.MaxSignatureAgeDays)) * day))
			}
			if n := c.Spec.FullScanDays; n > 0 && !av.FullScanAt.IsZero() {
				add(av.FullScanAt.Add(time.Duration(min(n, posture.MaxFullScanDays)) * day))
			}
		}
	}
	if defender && s.defenderEnabled {
		add(fresh.next(now))
	}
	if d != nil {
		for _, x := range s.exceptions {
			if strings.EqualFold(strings.TrimSpace(x.DeviceID), d.ID) {
				add(x.ExpiresAt)
			}
		}
	}
	return until
}
