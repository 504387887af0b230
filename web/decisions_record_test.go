package web

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"postern/internal/model"
	"postern/internal/posture"
)

// Every deny and unknown that evaluate answers reaches the decision log
// with the device, the key it matched by, the checks and reasons, the
// token and the gateway's address; allows are counted per check in
// /metrics and sampled; the API's request lines are at debug level with a
// summary line at info.
func TestEvaluateRecordsDecisions(t *testing.T) {
	d, token, f := evSetupDefender(t)
	e := d.testEnv
	lowRisk := evSaveCheck(t, e, model.PostureCheck{Name: "Low risk only", DataSource: posture.SourceDefender, Enabled: true},
		posture.Spec{MaxRisk: "Medium"})

	if r := evaluate(t, e, token, map[string]any{"hostname": "ev-high-01"}); r.Allowed {
		t.Fatal("a High-risk device is allowed")
	}
	if r := evaluate(t, e, token, map[string]any{"defender_machine_id": f.low.ID}); !r.Allowed {
		t.Fatal("a Low-risk device is denied")
	}
	if r := evaluate(t, e, token, map[string]any{"hostname": "nowhere-99"}); r.Allowed {
		t.Fatal("an unknown device is allowed")
	}
	e.srv.decisions.Flush(context.Background())

	got, total, err := e.store.Decisions(context.Background(), model.DecisionFilter{})
	if err != nil || total != 3 {
		t.Fatalf("Decisions = %d, %v; want 3 (a deny, an unknown, a sampled allow)", total, err)
	}
	byResult := map[string]model.Decision{}
	for _, x := range got {
		byResult[x.Result] = x
	}
	deny := byResult[model.DecisionDenied]
	if deny.DeviceID != f.high.ID || deny.MatchedBy != "hostname" || deny.MatchedKey != "ev-high-01" ||
		!strings.EqualFold(deny.Hostname, f.high.ComputerDNSName) || deny.TokenName != "Gateway eu-west" || deny.TokenID == 0 ||
		deny.Source != "127.0.0.1" || deny.At.IsZero() {
		t.Errorf("denial recorded as %+v", deny)
	}
	if len(deny.Checks) != 1 || deny.Checks[0].ID != lowRisk.ID || deny.Checks[0].Result != "fail" ||
		len(deny.Checks[0].Reasons) != 1 || !strings.Contains(deny.Checks[0].Reasons[0], "risk score High") {
		t.Errorf("denial's checks = %+v", deny.Checks)
	}
	unk := byResult[model.DecisionUnknown]
	if unk.DeviceID != "" || unk.MatchedBy != "none" || unk.MatchedKey != "nowhere-99" || unk.Hostname != "nowhere-99" || len(unk.Checks) == 0 {
		t.Errorf("unknown recorded as %+v", unk)
	}
	if allow := byResult[model.DecisionAllowed]; allow.DeviceID != f.low.ID || allow.MatchedBy != "defender_machine_id" || len(allow.Checks) != 0 {
		t.Errorf("sampled allow recorded as %+v", allow)
	}

	m := e.client().do(http.MethodGet, "/metrics", nil, http.Header{"Authorization": {"Bearer " + token}})
	wantStatus(t, m, http.StatusOK)
	for _, want := range []string{
		`postern_decision_check_allowed_total{check="Low risk only",check_id="` + itoa(lowRisk.ID) + `"} 1`,
		`postern_decisions_total{result="denied"} 1`,
		`postern_decisions_total{result="unknown"} 1`,
		`postern_decisions_total{result="allowed"} 1`,
		`postern_decision_log_dropped_total 0`,
		`postern_decision_log_written_total 3`,
	} {
		if !strings.Contains(m.body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	logs := e.logs.String()
	for l := range strings.SplitSeq(logs, "\n") {
		if strings.Contains(l, "msg=request") && strings.Contains(l, "path="+evaluatePath) {
			t.Errorf("an API request logged at info: %s", l)
		}
	}
	// The request line (and its count) is written once the handler has
	// returned, which may be just after the client read the answer.
	for i := 0; i < 100 && e.srv.apiSummary.requests.Load() < 4; i++ {
		time.Sleep(10 * time.Millisecond)
	}
	e.srv.logAPISummary(context.Background())
	logs = e.logs.String()
	if !strings.Contains(logs, `level=INFO msg="api summary" requests=4 allowed=1 denied=2 errors=0`) {
		t.Errorf("no summary line (3 evaluations and /metrics, 1 allowed, 2 denied) in:\n%s", logs)
	}
}

// Forward-auth goes through the same hook: its denials are recorded with
// the token it took from X-Postern-Token, and a request that names no
// device is recorded as an unknown with the reason.
func TestForwardAuthRecordsDecisions(t *testing.T) {
	d, token, f := evSetupDefender(t)
	e := d.testEnv
	evSaveCheck(t, e, model.PostureCheck{Name: "Low risk only", DataSource: posture.SourceDefender, Enabled: true},
		posture.Spec{MaxRisk: "Medium"})
	wantStatus(t, faAsk(t, e, "GET", "", map[string]string{hdrToken: token, hdrDeviceID: f.high.ID}), http.StatusForbidden)
	wantStatus(t, faAsk(t, e, "GET", "", map[string]string{hdrToken: token}), http.StatusForbidden)
	e.srv.decisions.Flush(context.Background())
	// Both 403s are decisions: the summary counts them as denied, not
	// as errors (its count follows the answer, once the handler returns).
	for i := 0; i < 100 && e.srv.apiSummary.requests.Load() < 2; i++ {
		time.Sleep(10 * time.Millisecond)
	}
	if denied, errs := e.srv.apiSummary.denied.Load(), e.srv.apiSummary.errors.Load(); denied != 2 || errs != 0 {
		t.Errorf("the API summary counted %d denied and %d errors, want 2 and 0", denied, errs)
	}

	got, total, err := e.store.Decisions(context.Background(), model.DecisionFilter{})
	if err != nil || total != 2 {
		t.Fatalf("Decisions = %d, %v; want 2", total, err)
	}
	noID, deny := got[0], got[1]
	if got[0].At.Equal(got[1].At) && got[0].ID < got[1].ID {
		noID, deny = got[1], got[0]
	}
	if deny.Result != model.DecisionDenied || deny.DeviceID != f.high.ID || deny.MatchedBy != "defender_machine_id" ||
		deny.TokenName != "Gateway eu-west" {
		t.Errorf("forward-auth denial recorded as %+v", deny)
	}
	if noID.Result != model.DecisionUnknown || noID.MatchedBy != "none" || noID.TokenName != "Gateway eu-west" ||
		len(noID.Checks) != 1 || noID.Checks[0].Reasons[0] != reasonNoIdentity {
		t.Errorf("forward-auth refusal without identity recorded as %+v", noID)
	}
}
