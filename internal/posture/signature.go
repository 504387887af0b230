package posture

import (
	"strconv"
	"strings"
	"time"
)

// signatureFresh requires Defender Antivirus's security intelligence
// (signatures) to be up to date by the report's own flag, or, with a
// maximum age, published at most N days ago.
type signatureFresh struct {
	maxAge time.Duration // 0: the report's up-to-date flag decides
	want   string
}

func newSignatureFresh(upToDate bool, days int) Condition {
	if days < 0 {
		return misconfigured{"Security intelligence up to date", "maximum age of " + strconv.Itoa(days) + " days is negative"}
	}
	if days == 0 {
		return signatureFresh{want: "up to date"}
	}
	days = min(days, MaxSignatureAgeDays)
	return signatureFresh{maxAge: time.Duration(days) * 24 * time.Hour, want: "at most " + plural(int64(days), "day") + " old"}
}

func (signatureFresh) Name() string { return "Security intelligence up to date" }

func (s signatureFresh) Evaluate(in *Input) Outcome {
	av, reason, ok := avGate(in, "security intelligence", s.want)
	if !ok {
		return unknown(reason)
	}
	ver := ""
	if av.SignatureVersion != "" {
		ver = " " + shown(av.SignatureVersion)
	}
	if s.maxAge > 0 {
		if av.SignaturePublishedAt.IsZero() {
			return unknown("security intelligence" + ver + " has no publish time, required " + s.want + avAge(in, av))
		}
		if in.now().Sub(av.SignaturePublishedAt) <= s.maxAge {
			return passed
		}
		return fail("security intelligence" + ver + " published " + daysAgo(in.now(), av.SignaturePublishedAt) +
			", required " + s.want + avAge(in, av))
	}
	switch strings.ToLower(av.SignatureUpToDate) {
	case "true":
		return passed
	case "false":
		age := ""
		if !av.SignaturePublishedAt.IsZero() {
			age = ", published " + daysAgo(in.now(), av.SignaturePublishedAt)
		}
		return fail("security intelligence" + ver + " out of date" + age + ", required " + s.want + avAge(in, av))
	}
	return unknown("security intelligence up-to-date state Unknown, required " + s.want + avAge(in, av))
}
