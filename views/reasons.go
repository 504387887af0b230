package views

import (
	"regexp"
	"strconv"
	"strings"
	"time"

	"postern/views/components"
)

// dataAge finds the data's age in a reason as the posture rules write it
// for the gateway: "(Defender data from 2026-11-25T10:02:11Z" (RFC 3339,
// the same for every request between two syncs).
var dataAge = regexp.MustCompile(`\(Defender data from (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)`)

// ReasonText is a reason as a page shows it: the data's age in words
// ("Defender data from 3 minutes ago"), not an ISO timestamp, and the rest
// as readable (humanize).
func ReasonText(r string, now time.Time) string {
	return humanize(dataAge.ReplaceAllStringFunc(r, func(m string) string {
		t, err := time.Parse(time.RFC3339, dataAge.FindStringSubmatch(m)[1])
		if err != nil {
			return m
		}
		return "(Defender data from " + components.Ago(t, now)
	}))
}

// The posture rules write their reasons for the gateway, machine-stable:
// ages in whole hours ("last seen 14289 hours ago"), days, and times in
// RFC 3339. A page says them as a person reads them.
var (
	// hoursAgo is an age in hours ("first seen 5 hours ago"), with the
	// setting it is compared with in a Last seen within failure ("…,
	// required within 24 hours").
	hoursAgo = regexp.MustCompile(`\b(\d+) hours ago(, required within (\d+) hours?\b)?`)
	// bigNumber is a count of hours or days of four digits or more, to
	// get its thousands separators.
	bigNumber = regexp.MustCompile(`\b(\d{4,}) (hours|days)\b`)
	// rfc3339 is a moment left in a reason ("until 2026-11-27T04:55:40Z",
	// "antivirus report of …", "last successful sync …").
	rfc3339 = regexp.MustCompile(`\b\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z\b`)
)

// humanize rewrites a reason's ages and times for a page: an age of two
// days or more in days ("595 days ago"), numbers with thousands
// separators, moments in the console's DateTime ("2 Dec 2026, 10:05
// UTC"). A Last seen within failure keeps hours while days would not
// show that it is over the setting ("49 hours ago, required within 48
// hours", not "2 days ago").
func humanize(r string) string {
	r = hoursAgo.ReplaceAllStringFunc(r, func(m string) string {
		g := hoursAgo.FindStringSubmatch(m)
		h, _ := strconv.Atoi(g[1])
		if g[2] == "" {
			return ageInHours(h)
		}
		within, _ := strconv.Atoi(g[3])
		age := ageInHours(h)
		if h/24*24 <= within {
			age = components.Count(h) + " " + unit(h, "hour") + " ago"
		}
		return age + ", required within " + components.Count(within) + " " + unit(within, "hour")
	})
	r = bigNumber.ReplaceAllStringFunc(r, func(m string) string {
		g := bigNumber.FindStringSubmatch(m)
		n, err := strconv.Atoi(g[1])
		if err != nil {
			return m
		}
		return components.Count(n) + " " + g[2]
	})
	return rfc3339.ReplaceAllStringFunc(r, func(m string) string {
		t, err := time.Parse(time.RFC3339, m)
		if err != nil {
			return m
		}
		return components.DateTime(t)
	})
}

// ageInHours says an age given in whole hours: hours under two days, then
// whole days ("595 days ago").
func ageInHours(h int) string {
	if h < 48 {
		return components.Count(h) + " " + unit(h, "hour") + " ago"
	}
	return components.Count(h/24) + " days ago"
}

func unit(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

// ReasonGroup is the reasons of a list that come from one sync: the age
// of their data, said once above them, and the reasons without it.
type ReasonGroup struct {
	Age     string // "Defender data from 3 minutes ago (2 Dec 2026, 10:05 UTC)"; empty when the reasons differ
	Reasons [][]string
}

// GroupReasons takes the data's age out of every reason when all the
// reasons that give one give the same (plain) one, to say it once above
// them; otherwise each reason keeps its own age, in words.
func GroupReasons(lists [][]string, now time.Time) ReasonGroup {
	var at string
	same := true
	for _, rs := range lists {
		for _, r := range rs {
			m := dataAge.FindStringSubmatch(r)
			switch {
			case m == nil:
			case !strings.HasSuffix(r, m[0]+")"): // more said than the age: keep it
				same = false
			case at == "":
				at = m[1]
			case at != m[1]:
				same = false
			}
		}
	}
	g := ReasonGroup{Reasons: make([][]string, len(lists))}
	t, err := time.Parse(time.RFC3339, at)
	if !same || at == "" || err != nil {
		for i, rs := range lists {
			for _, r := range rs {
				g.Reasons[i] = append(g.Reasons[i], ReasonText(r, now))
			}
		}
		return g
	}
	g.Age = "Defender data from " + components.Ago(t, now) + " (" + components.DateTime(t) + ")"
	suffix := " (Defender data from " + at + ")"
	for i, rs := range lists {
		for _, r := range rs {
			g.Reasons[i] = append(g.Reasons[i], humanize(strings.TrimSuffix(r, suffix)))
		}
	}
	return g
}
