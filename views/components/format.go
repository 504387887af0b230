package components

import (
	"strconv"
	"time"
)

// Count formats n with thousands separators, as admins read numbers.
func Count(n int) string {
	s := strconv.Itoa(n)
	neg := n < 0
	if neg {
		s = s[1:]
	}
	var out []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	if neg {
		return "-" + string(out)
	}
	return string(out)
}

// Ago renders a time relative to now in plain words: "just now",
// "5 minutes ago", "in 2 hours".
func Ago(t, now time.Time) string {
	d := now.Sub(t)
	future := d < 0
	if future {
		d = -d
	}
	var s string
	switch {
	case d < 45*time.Second && future:
		return "in under a minute"
	case d < 45*time.Second:
		return "just now"
	case d < 90*time.Second:
		s = "1 minute"
	case d < time.Hour:
		s = plural(int(d.Round(time.Minute)/time.Minute), "minute")
	case d < 36*time.Hour:
		s = plural(int(d.Round(time.Hour)/time.Hour), "hour")
	default:
		s = plural(int(d.Round(24*time.Hour)/(24*time.Hour)), "day")
	}
	if future {
		return "in " + s
	}
	return s + " ago"
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return strconv.Itoa(n) + " " + unit + "s"
}

// DateTimeLayout is the console's one way of writing a moment: "2 Dec
// 2026, 10:05 UTC". Every absolute time on a page uses it (DateTime).
const DateTimeLayout = "2 Jan 2006, 15:04 UTC"

// DateTime writes t in DateTimeLayout, in UTC.
func DateTime(t time.Time) string { return t.UTC().Format(DateTimeLayout) }

// Date writes a day alone (a secret's expiry date) the same way: "2 Dec 2026".
func Date(t time.Time) string { return t.Format("2 Jan 2006") }
