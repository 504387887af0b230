package web

import (
	"time"

	"github.com/labstack/echo/v4"

	"postern/internal/posture"
)

// decide answers one enforcement request: the one code path behind
// evaluate and forward-auth, so both give the same verdicts, reasons,
// exceptions and Monitor-only semantics (docs/api.md#forward-auth).
//
// It also hands the decision to the decision log (recordDecision), so
// both endpoints are recorded alike.
func (s *Server) decide(c echo.Context, req posture.Request) (posture.Decision, EvaluateResponse) {
	dec := s.policy.Evaluate(req)
	s.recordDecision(c, req, &dec)
	res := EvaluateResponse{Allowed: dec.Allowed, Device: EvaluatedDevice{MatchedBy: dec.Match.MatchedBy},
		Checks: make([]EvaluatedItem, 0, len(dec.Checks)), EvaluatedAt: s.now().UTC().Format(time.RFC3339)}
	if !dec.ValidUntil.IsZero() {
		// RFC 3339 in whole seconds, rounded down: never past the moment.
		res.ValidUntil = dec.ValidUntil.UTC().Format(time.RFC3339)
	}
	if dec.Match.Device != nil {
		res.Device.DefenderMachineID = dec.Match.Device.ID
	}
	if res.Device.MatchedBy == "" {
		res.Device.MatchedBy = "none"
	}
	for _, r := range dec.Checks {
		reasons := r.Reasons
		if reasons == nil {
			reasons = []string{}
		}
		res.Checks = append(res.Checks, EvaluatedItem{ID: r.ID, Name: r.Name, Mode: r.Mode, Result: string(r.Result), Reasons: reasons})
	}
	return dec, res
}

// firstReason is the reason a gateway shows for an answer: for a denial
// the first reason of the first Enforce check that did not pass; for an
// allow, the first reason of any check (an exception, a Monitor-only
// failure), or "".
func firstReason(res *EvaluateResponse) string {
	if !res.Allowed {
		for _, c := range res.Checks {
			if c.Mode == posture.ModeEnforce && c.Result != string(posture.Pass) && len(c.Reasons) > 0 {
				return c.Reasons[0]
			}
		}
	}
	for _, c := range res.Checks {
		if len(c.Reasons) > 0 {
			return c.Reasons[0]
		}
	}
	return ""
}
