package views

import (
	"regexp"
	"strings"
	"time"

	"postern/views/components"
)

// dataAge finds the data's age in a reason as the posture rules write it
// for the gateway: "(Defender data from 2026-11-25T10:02:11Z" (RFC 3339,
// the same for every request between two syncs).
var dataAge = regexp.MustCompile(`\(Defender data from (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)`)

// ReasonText is a reason as a page shows it: the data's age in words
// ("Defender data from 3 minutes ago"), not an ISO timestamp.
func ReasonText(r string, now time.Time) string {
	return dataAge.ReplaceAllStringFunc(r, func(m string) string {
		t, err := time.Parse(time.RFC3339, dataAge.FindStringSubmatch(m)[1])
		if err != nil {
			return m
		}
		return "(Defender data from " + components.Ago(t, now)
	})
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
			g.Reasons[i] = append(g.Reasons[i], strings.TrimSuffix(r, suffix))
		}
	}
	return g
}
