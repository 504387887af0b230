package views

import (
	"slices"
	"testing"
	"time"
)

func TestReasonsGiveTheDataAgeInWords(t *testing.T) {
	now := time.Date(2026, 12, 2, 10, 8, 0, 0, time.UTC)
	r := "risk score High exceeds the allowed Medium (Defender data from 2026-12-02T10:05:00Z)"
	if got := ReasonText(r, now); got != "risk score High exceeds the allowed Medium (Defender data from 3 minutes ago)" {
		t.Errorf("ReasonText = %q", got)
	}
	other := "health status Inactive is not Active (Defender data from 2026-12-02T10:05:00Z)"
	g := GroupReasons([][]string{{r}, {other, "no Defender machine matches this device"}}, now)
	if g.Age != "Defender data from 3 minutes ago (2 Dec 2026, 10:05 UTC)" {
		t.Errorf("shared age %q", g.Age)
	}
	if !slices.Equal(g.Reasons[0], []string{"risk score High exceeds the allowed Medium"}) ||
		!slices.Equal(g.Reasons[1], []string{"health status Inactive is not Active", "no Defender machine matches this device"}) {
		t.Errorf("reasons %q", g.Reasons)
	}
	// Two syncs, or more said than the age: each reason keeps its own age.
	older := "health status Inactive is not Active (Defender data from 2026-12-02T08:05:00Z)"
	kept := "risk score High exceeds the allowed Medium (Defender data from 2026-12-02T10:05:00Z, kept during an outage)"
	for _, lists := range [][][]string{{{r}, {older}}, {{kept}}} {
		g := GroupReasons(lists, now)
		if g.Age != "" {
			t.Errorf("%q: shared age %q, want none", lists, g.Age)
		}
		for _, rs := range g.Reasons {
			for _, x := range rs {
				if dataAge.MatchString(x) {
					t.Errorf("a reason keeps its ISO time: %q", x)
				}
			}
		}
	}
}
