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

// The rules write ages in whole hours and moments in RFC 3339 for the
// gateway; a page says them in sensible units, with thousands separators,
// and in the console's date format.
func TestReasonsReadAsAPersonReadsThem(t *testing.T) {
	now := time.Date(2026, 12, 2, 10, 8, 0, 0, time.UTC)
	cases := []struct{ reason, want string }{
		{"last seen 14289 hours ago, required within 24 hours (Defender data from 2026-12-02T10:05:00Z)",
			"last seen 595 days ago, required within 24 hours (Defender data from 3 minutes ago)"},
		{"last seen 31 hours ago, required within 24 hours", "last seen 31 hours ago, required within 24 hours"},
		// Days that would not show the device is over the setting stay hours.
		{"last seen 49 hours ago, required within 48 hours", "last seen 49 hours ago, required within 48 hours"},
		{"last seen 745 hours ago, required within 720 hours", "last seen 31 days ago, required within 720 hours"},
		{"last seen 8800 hours ago, required within 8784 hours", "last seen 8,800 hours ago, required within 8,784 hours"},
		{"last seen 9000 hours ago, required within 8784 hours", "last seen 375 days ago, required within 8,784 hours"},
		{"last seen 40000 hours ago, required within 1 hour", "last seen 1,666 days ago, required within 1 hour"},
		{"new device: first seen 5 hours ago, allowed for 24 hours while its first report arrives (until 2026-11-27T04:55:40Z)",
			"new device: first seen 5 hours ago, allowed for 24 hours while its first report arrives (until 27 Nov 2026, 04:55 UTC)"},
		{"new device: first seen 700 hours ago, allowed for 720 hours while its first report arrives (until 2026-12-03T04:55:40Z)",
			"new device: first seen 29 days ago, allowed for 720 hours while its first report arrives (until 3 Dec 2026, 04:55 UTC)"},
		{"last full scan 1234 days ago, required within 7 days (antivirus report of 2026-11-25T06:00:00Z)",
			"last full scan 1,234 days ago, required within 7 days (antivirus report of 25 Nov 2026, 06:00 UTC)"},
		{"Microsoft Defender data is stale (last successful sync 2026-11-30T22:00:00Z)",
			"Microsoft Defender data is stale (last successful sync 30 Nov 2026, 22:00 UTC)"},
	}
	for _, c := range cases {
		if got := ReasonText(c.reason, now); got != c.want {
			t.Errorf("ReasonText(%q)\n = %q\nwant %q", c.reason, got, c.want)
		}
	}
	// Said once above them, the reasons read the same way.
	g := GroupReasons([][]string{{"last seen 14289 hours ago, required within 24 hours (Defender data from 2026-12-02T10:05:00Z)"}}, now)
	if g.Age == "" || !slices.Equal(g.Reasons[0], []string{"last seen 595 days ago, required within 24 hours"}) {
		t.Errorf("grouped: age %q, reasons %q", g.Age, g.Reasons)
	}
}
