package web

import (
	"context"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"

	"postern/internal/model"
	"postern/internal/posture"
)

// recordDecision is the decision log's one hook (docs/decision-log.md).
// Every handler that answers an enforcement request (evaluate and
// forward-auth) calls it once with the request and the decision it
// answered, after deciding and before writing the answer. It never blocks
// and never fails the request:
//   - it counts the answer for the per-minute API summary (allowed or
//     denied);
//   - an allow is counted under each check that passed in it (/metrics)
//     and, one in --decision-log-sample, recorded;
//   - every deny and unknown is recorded.
//
// Recording hands a model.Decision to the decision log's bounded buffer,
// which a background goroutine writes in batches; a full buffer drops the
// decision and counts it (postern_decision_log_dropped_total).
func (s *Server) recordDecision(c echo.Context, req posture.Request, dec *posture.Decision) {
	if ri := infoOf(c.Request().Context()); ri != nil {
		ri.decided = true
	}
	if dec.Allowed {
		s.apiSummary.allowed.Add(1)
	} else {
		s.apiSummary.denied.Add(1)
	}
	l := s.decisions
	if l == nil {
		return
	}
	result := model.DecisionAllowed
	if dec.Allowed {
		if !l.Allowed(dec.Checks) {
			return
		}
	} else {
		result = model.DecisionUnknown
		for i := range dec.Checks {
			if dec.Checks[i].Mode == posture.ModeEnforce && dec.Checks[i].Result == posture.Fail {
				result = model.DecisionDenied
				break
			}
		}
		l.Counted(result)
	}
	d := model.Decision{At: s.now(), MatchedBy: dec.Match.MatchedBy, Result: result, Source: c.RealIP(), TokenID: requestTokenID(c)}
	if d.MatchedBy == "" {
		d.MatchedBy = posture.MatchedByNone
	}
	if m := dec.Match.Device; m != nil {
		d.DeviceID, d.Hostname = m.ID, m.Host
	} else {
		d.Hostname = req.Hostname
	}
	switch dec.Match.MatchedBy {
	case posture.MatchedByDefenderID:
		d.MatchedKey = req.DefenderMachineID
	case posture.MatchedByAADID:
		d.MatchedKey = req.AADDeviceID
	case posture.MatchedByHostname:
		d.MatchedKey = req.Hostname
	default:
		d.MatchedKey = firstNonEmpty(req.DefenderMachineID, req.AADDeviceID, req.Hostname)
	}
	d.Checks = recordedChecks(dec.Checks)
	l.Enqueue(d)
}

// recordedChecks are the checks of a decision the log keeps: those that
// did not pass, or passed with a reason (an exception). The reasons share
// one backing array with the answer being written, which is reused once
// it is: they are copied, into one array for them all, since the flusher
// reads them later.
func recordedChecks(rs []posture.CheckResult) []model.DecisionCheck {
	n, reasons := 0, 0
	for i := range rs {
		if keptInLog(&rs[i]) {
			n, reasons = n+1, reasons+len(rs[i].Reasons)
		}
	}
	if n == 0 {
		return nil
	}
	out, all := make([]model.DecisionCheck, 0, n), make([]string, 0, reasons)
	for i := range rs {
		r := &rs[i]
		if !keptInLog(r) {
			continue
		}
		c := model.DecisionCheck{ID: r.ID, Name: r.Name, Mode: r.Mode, Result: string(r.Result)}
		if len(r.Reasons) > 0 {
			start := len(all)
			all = append(all, r.Reasons...)
			c.Reasons = all[start:len(all):len(all)]
		}
		out = append(out, c)
	}
	return out
}

func keptInLog(r *posture.CheckResult) bool { return r.Result != posture.Pass || len(r.Reasons) > 0 }

// recordNoIdentity records a forward-auth refusal that never reached a
// decision because the request named no device it could read: an unknown
// with the problem as its one reason, under no check.
func (s *Server) recordNoIdentity(c echo.Context, problem string) {
	dec := posture.Decision{Checks: []posture.CheckResult{{Name: "Device identity", Mode: posture.ModeEnforce,
		Result: posture.Unknown, Reasons: []string{problem}}}}
	s.recordDecision(c, posture.Request{}, &dec)
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

// decided reports whether the request was answered with a decision
// (recordDecision saw it).
func decided(c echo.Context) bool {
	ri := infoOf(c.Request().Context())
	return ri != nil && ri.decided
}

// requestTokenID is the id of the API token the request presented, as the
// token middleware admitted it, or 0.
func requestTokenID(c echo.Context) int64 {
	if ri := infoOf(c.Request().Context()); ri != nil {
		return ri.tokenID
	}
	return 0
}

// apiCounts are the API's requests since the last summary line.
type apiCounts struct {
	requests, allowed, denied, errors atomic.Uint64
}

// isAPIPath: the machine clients' paths, whose per-request log lines are
// at debug level.
func isAPIPath(p string) bool { return strings.HasPrefix(p, "/api/") || p == "/metrics" }

// observeAPI counts one API request for the summary. An error is an
// answer of 400 or more that is not a decision: a denial's 403 is counted
// as denied by recordDecision, a refused token's 403 is an error.
func (s *Server) observeAPI(c echo.Context, status int) {
	s.apiSummary.requests.Add(1)
	if status >= 400 && !decided(c) {
		s.apiSummary.errors.Add(1)
	}
}

// RunAPISummary writes, every minute until ctx ends, one INFO line that
// sums up the API requests of that minute (requests, allowed, denied,
// errors): the per-request lines are at debug level, since an access log
// at 20,000 requests a second floods journald. A quiet minute writes
// nothing.
func (s *Server) RunAPISummary(ctx context.Context, every time.Duration) error {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			s.logAPISummary(ctx)
			return nil
		case <-t.C:
			s.logAPISummary(ctx)
		}
	}
}

func (s *Server) logAPISummary(ctx context.Context) {
	a := &s.apiSummary
	req, allowed, denied, errs := a.requests.Swap(0), a.allowed.Swap(0), a.denied.Swap(0), a.errors.Swap(0)
	if req == 0 {
		return
	}
	s.log.LogAttrs(ctx, slog.LevelInfo, "api summary", slog.Uint64("requests", req), slog.Uint64("allowed", allowed),
		slog.Uint64("denied", denied), slog.Uint64("errors", errs))
}
