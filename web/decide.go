package web

import (
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"postern/internal/posture"
)

// decide answers one enforcement request: the one code path behind
// evaluate and forward-auth, so both give the same verdicts, reasons,
// exceptions and Monitor-only semantics (docs/api.md#forward-auth). Each
// endpoint then writes the decision in its own shape: evaluate as JSON
// (fillResponse), forward-auth as a status and headers.
//
// It also hands the decision to the decision log (recordDecision), so
// both endpoints are recorded alike. The decision is written into a's,
// reusing its arrays.
func (s *Server) decide(c echo.Context, req posture.Request, a *answer) *posture.Decision {
	s.policy.EvaluateInto(&a.dec, req)
	s.recordDecision(c, req, &a.dec)
	return &a.dec
}

// answer is what one enforcement answer is built in: the decision, and for
// evaluate the response and the bytes it is encoded into. answers recycles
// them, so that an answer allocates next to nothing of its own; an answer
// is put back only once written (c.Blob and writeText have sent the bytes
// by the time they return).
type answer struct {
	dec posture.Decision
	res EvaluateResponse
	buf []byte
}

var answers = sync.Pool{New: func() any { return &answer{buf: make([]byte, 0, 4096)} }}

// release returns a to the pool, unless it grew past what is worth
// keeping (an outsized answer is left to the collector).
func (a *answer) release() {
	if cap(a.buf) > 64<<10 {
		return
	}
	clear(a.res.Checks) // the reasons belong to the decision, reused next
	answers.Put(a)
}

// matchedBy is the key dec's device was found by, or "none".
func matchedBy(dec *posture.Decision) string {
	if dec.Match.MatchedBy == "" {
		return posture.MatchedByNone
	}
	return dec.Match.MatchedBy
}

// deviceID is the Defender machine id of dec's device, or "".
func deviceID(dec *posture.Decision) string {
	if dec.Match.Device == nil {
		return ""
	}
	return dec.Match.Device.ID
}

// validUntil is dec's ValidUntil in RFC 3339, whole seconds rounded down
// (never past the moment), or "" when none is known.
func validUntil(dec *posture.Decision) string {
	if dec.ValidUntil.IsZero() {
		return ""
	}
	return dec.ValidUntil.UTC().Format(time.RFC3339)
}

// fillResponse makes res evaluate's answer for dec, evaluated at now. It
// reuses res.Checks' array, and the reasons are dec's own.
func fillResponse(res *EvaluateResponse, dec *posture.Decision, now time.Time) {
	*res = EvaluateResponse{Allowed: dec.Allowed, Device: EvaluatedDevice{DefenderMachineID: deviceID(dec), MatchedBy: matchedBy(dec)},
		Checks: res.Checks[:0], EvaluatedAt: now.UTC().Format(time.RFC3339), ValidUntil: validUntil(dec)}
	if res.Checks == nil {
		res.Checks = make([]EvaluatedItem, 0, len(dec.Checks))
	}
	for _, r := range dec.Checks {
		res.Checks = append(res.Checks, evaluatedItem(r))
	}
}

// evaluatedItem is check result r as the API answers it: no reasons is an
// empty list, never null.
func evaluatedItem(r posture.CheckResult) EvaluatedItem {
	reasons := r.Reasons
	if reasons == nil {
		reasons = []string{}
	}
	return EvaluatedItem{ID: r.ID, Name: r.Name, Mode: r.Mode, Result: string(r.Result), Reasons: reasons}
}

// firstReason is the reason a gateway shows for a decision: for a denial
// the first reason of the first Enforce check that did not pass; for an
// allow, the first reason of any check (an exception, a Monitor-only
// failure), or "".
func firstReason(dec *posture.Decision) string {
	if !dec.Allowed {
		for _, c := range dec.Checks {
			if c.Mode == posture.ModeEnforce && c.Result != posture.Pass && len(c.Reasons) > 0 {
				return c.Reasons[0]
			}
		}
	}
	for _, c := range dec.Checks {
		if len(c.Reasons) > 0 {
			return c.Reasons[0]
		}
	}
	return ""
}
