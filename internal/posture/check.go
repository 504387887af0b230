package posture

import (
	"strings"
	"time"
)

// Check is a posture check as the admin configured it.
type Check struct {
	ID     int64
	Name   string
	Source string // SourceDefender or SourceDeviceReport
	Mode   string // ModeEnforce (also when empty) or ModeMonitor
	// Enabled: disabled checks are skipped and not listed.
	Enabled bool
	// WhenUnavailable decides a check whose conditions are unknown but
	// none failed: UnavailableDeny (also when empty) or UnavailableAllow.
	WhenUnavailable string
	Spec            Spec

	conditions []Condition // built once by Compile
	compiled   bool
}

// Compile returns a copy of checks with their conditions built, so that
// evaluation neither parses nor lower-cases anything. Call it whenever
// the checks change, not per request.
func Compile(checks []Check) []Check {
	out := make([]Check, len(checks))
	copy(out, checks)
	for i := range out {
		out[i].conditions = compileConditions(out[i].Spec, out[i].Source)
		out[i].compiled = true
	}
	return out
}

// Conditions are the check's compiled conditions, in evaluation order.
func (c *Check) Conditions() []Condition {
	if c.compiled {
		return c.conditions
	}
	return compileConditions(c.Spec, c.Source)
}

func compileConditions(s Spec, source string) []Condition {
	cs := s.Conditions(source)
	if len(cs) == 0 {
		// Fail closed: a stored check that tests nothing must not pass.
		problem := "no conditions for data source " + quoteSource(source)
		return []Condition{misconfigured{"Configuration", problem}}
	}
	return cs
}

func quoteSource(s string) string {
	switch s {
	case SourceDefender, SourceDeviceReport:
		return s
	}
	return "\"" + shown(s) + "\" (unknown)"
}

func (c *Check) mode() string {
	if c.Mode == ModeMonitor {
		return ModeMonitor
	}
	return ModeEnforce
}

// Exception lets one device through failing or unknown checks until it
// expires. The console requires a reason and an expiry and audits both.
type Exception struct {
	ID        int64
	DeviceID  string // Defender machine id
	CheckID   int64  // 0: every check
	Reason    string
	CreatedBy string
	ExpiresAt time.Time
}

// CheckResult is one enabled check's verdict, as the enforcement API
// returns it (docs/design.md#enforcement-api).
type CheckResult struct {
	ID      int64    `json:"id"`
	Name    string   `json:"name"`
	Mode    string   `json:"mode"`
	Result  Result   `json:"result"`
	Reasons []string `json:"reasons"`
	// Excepted: an exception turned a fail or unknown into this pass.
	Excepted bool `json:"excepted,omitempty"`
}

// Decision answers "may this device pass?".
type Decision struct {
	Allowed bool
	Match   Match
	Checks  []CheckResult
	// ValidUntil is the earliest moment the same data could give another
	// verdict (zero: none is known); set by policy.Engine.Evaluate.
	ValidUntil time.Time

	// reasons is the one backing array of every check's Reasons, kept so
	// that EvaluateInto can reuse it.
	reasons []string
}

var noReasons = []string{}

// CopyFrom makes d a copy of src in d's own Checks array (reused, as
// EvaluateInto reuses it). The checks' Reasons stay src's: src must never
// change afterwards, as a Clone does not.
func (d *Decision) CopyFrom(src *Decision) {
	checks, reasons := append(d.Checks[:0], src.Checks...), d.reasons
	*d = *src
	d.Checks, d.reasons = checks, reasons
}

// Clone is a copy of d with arrays of its own: an EvaluateInto into d
// later, which reuses d's arrays, leaves the clone as it was.
func (d *Decision) Clone() *Decision {
	c := *d
	n := 0
	for _, r := range d.Checks {
		n += len(r.Reasons)
	}
	c.Checks, c.reasons = make([]CheckResult, len(d.Checks)), make([]string, 0, n)
	for i, r := range d.Checks {
		if len(r.Reasons) > 0 {
			start := len(c.reasons)
			c.reasons = append(c.reasons, r.Reasons...)
			r.Reasons = c.reasons[start:len(c.reasons):len(c.reasons)]
		}
		c.Checks[i] = r
	}
	return &c
}

// Evaluate runs the enabled checks, in the order given, against one
// device. The device is allowed when every enabled Enforce check passes;
// Monitor checks are reported but never deny. Exceptions apply last.
// checks should come from Compile; others are compiled on the fly.
func Evaluate(checks []Check, exceptions []Exception, in Input, matched Match) Decision {
	var d Decision
	EvaluateInto(&d, checks, exceptions, in, matched)
	return d
}

// EvaluateInto is Evaluate writing the decision into d, reusing the arrays
// of an earlier decision held in d (the enforcement API recycles them):
// what d's Checks and their Reasons held before is overwritten.
func EvaluateInto(d *Decision, checks []Check, exceptions []Exception, in Input, matched Match) {
	if in.Device == nil {
		in.Device = matched.Device
	}
	if in.Now.IsZero() {
		in.Now = time.Now()
	}
	in.prepare()

	var exBuf [4]*Exception
	mine := deviceExceptions(exBuf[:0], exceptions, &in)

	n := 0
	for i := range checks {
		if checks[i].Enabled {
			n++
		}
	}
	results := d.Checks[:0]
	if cap(results) < n {
		results = make([]CheckResult, 0, n)
	}
	// All reasons share one backing array; ends[i] closes check i's span.
	reasons := d.reasons[:0]
	*d = Decision{Allowed: true, Match: matched}
	var endBuf [32]int
	ends := endBuf[:0]
	for i := range checks {
		c := &checks[i]
		if !c.Enabled {
			continue
		}
		start := len(reasons)
		var res Result
		res, reasons = c.evaluate(&in, reasons)
		cr := CheckResult{ID: c.ID, Name: c.Name, Mode: c.mode()}
		if res != Pass {
			if e := pickException(mine, c.ID); e != nil {
				reasons = insertAt(reasons, start, exceptionReason(e))
				res, cr.Excepted = Pass, true
			}
		}
		cr.Result = res
		if res != Pass && cr.Mode == ModeEnforce {
			d.Allowed = false
		}
		results = append(results, cr)
		ends = append(ends, len(reasons))
	}
	start := 0
	for i, end := range ends {
		results[i].Reasons = noReasons
		if end > start {
			results[i].Reasons = reasons[start:end:end]
		}
		start = end
	}
	d.Checks, d.reasons = results, reasons
}

// Results is Evaluate reduced to the verdicts, for whole-fleet passes (the
// counts and history recomputed after every sync). It appends to dst the
// result of each enabled check, in order and exceptions applied, and
// returns the device's overall verdict: Pass when Evaluate would allow it,
// else Fail when an Enforce check fails, else Unknown (an Enforce check
// lacks data). It builds no answer and keeps no reasons; the conditions
// still word theirs.
func Results(checks []Check, exceptions []Exception, in Input, matched Match, dst []Result) (out []Result, overall Result) {
	in.terseFor(matched)

	var exBuf [4]*Exception
	mine := deviceExceptions(exBuf[:0], exceptions, &in)
	overall = Pass
	for i := range checks {
		c := &checks[i]
		if !c.Enabled {
			continue
		}
		res, _ := c.evaluate(&in, nil)
		if res != Pass && pickException(mine, c.ID) != nil {
			res = Pass
		}
		if c.mode() == ModeEnforce {
			switch {
			case res == Fail:
				overall = Fail
			case res != Pass && overall == Pass:
				overall = Unknown
			}
		}
		dst = append(dst, res)
	}
	return dst, overall
}

// evaluate appends the check's reasons to reasons. A check fails if any
// condition fails; if none fails and one is unknown, WhenUnavailable
// decides, and on allow the unknown reasons stay as information.
func (c *Check) evaluate(in *Input, reasons []string) (Result, []string) {
	res, reasons := c.conditionsResult(in, reasons)
	if res == Unknown && c.WhenUnavailable == UnavailableAllow {
		return Pass, reasons
	}
	return res, reasons
}

// conditionsResult is the conditions' verdict before When data is
// unavailable decides: Unknown stays Unknown.
func (c *Check) conditionsResult(in *Input, reasons []string) (Result, []string) {
	if outOfScope(&c.Spec, in) {
		return Pass, reasons
	}
	res, reasons := c.conditionsVerdict(in, reasons)
	if res != Pass {
		if r, ok := firstSeenGrace(&c.Spec, in); ok {
			if !in.terse {
				reasons = append(reasons, r)
			}
			return Pass, reasons
		}
	}
	return res, reasons
}

// conditionsVerdict runs the conditions: a fail wins, then an unknown.
func (c *Check) conditionsVerdict(in *Input, reasons []string) (Result, []string) {
	conds := c.conditions
	if !c.compiled {
		conds = compileConditions(c.Spec, c.Source)
	}
	start := len(reasons)
	failed, unsure := false, false
	for _, cond := range conds {
		o := cond.Evaluate(in)
		switch o.Result {
		case Pass:
			continue
		case Unknown:
			unsure = true
		default: // Fail, or anything unexpected: fail closed
			failed = true
		}
		if in.terse {
			continue
		}
		if o.Reason == "" {
			o.Reason = cond.Name() + ": not met"
		}
		if reasons == nil {
			reasons = make([]string, 0, 24) // one allocation for a typical request
		}
		reasons = appendOnce(reasons, start, o.Reason)
	}
	switch {
	case failed:
		return Fail, reasons
	case unsure:
		return Unknown, reasons
	}
	return Pass, reasons
}

// appendOnce appends r unless reasons[start:] has it already: with no
// matching machine every Defender condition gives the same reason.
func appendOnce(reasons []string, start int, r string) []string {
	for _, x := range reasons[start:] {
		if x == r {
			return reasons
		}
	}
	return append(reasons, r)
}

func insertAt(s []string, i int, v string) []string {
	s = append(s, "")
	copy(s[i+1:], s[i:])
	s[i] = v
	return s
}

// deviceExceptions appends to dst the unexpired exceptions for the
// matched machine; expiry is exclusive.
func deviceExceptions(dst []*Exception, all []Exception, in *Input) []*Exception {
	if in.Device == nil {
		return dst
	}
	for i := range all {
		e := &all[i]
		if e.ExpiresAt.After(in.Now) && strings.EqualFold(strings.TrimSpace(e.DeviceID), in.Device.ID) {
			dst = append(dst, e)
		}
	}
	return dst
}

// pickException prefers an exception for this very check over one for
// every check, then the one that lasts longest; ties go to the lower id.
func pickException(mine []*Exception, checkID int64) *Exception {
	var best *Exception
	for _, e := range mine {
		if e.CheckID != checkID && e.CheckID != 0 {
			continue
		}
		if best == nil || better(e, best, checkID) {
			best = e
		}
	}
	return best
}

func better(a, b *Exception, checkID int64) bool {
	if as, bs := a.CheckID == checkID, b.CheckID == checkID; as != bs {
		return as
	}
	if !a.ExpiresAt.Equal(b.ExpiresAt) {
		return a.ExpiresAt.After(b.ExpiresAt)
	}
	return a.ID < b.ID
}

func exceptionReason(e *Exception) string {
	return "exception by " + e.CreatedBy + " until " + e.ExpiresAt.UTC().Format(time.DateOnly) + ": " + e.Reason
}

// terseFor readies in to judge matched without building reasons: the
// device, the clock, and the prepared lookups.
func (in *Input) terseFor(matched Match) {
	if in.Device == nil {
		in.Device = matched.Device
	}
	if in.Now.IsZero() {
		in.Now = time.Now()
	}
	in.prepare()
	in.terse = true
}
