package policy_test

import (
	"context"
	"strings"
	"testing"

	"postern/internal/actor"
	"postern/internal/apperr"
	"postern/internal/audit"
	"postern/internal/policy"
	"postern/internal/posture"
)

// Each switch before Disable is its own audited change, made in force at
// once; a check of another source and an unknown switch are refused.
func TestSwitchChecksAuditsEachSwitch(t *testing.T) {
	svc, e, st := newServiceWith(t, nil, true)
	ctx := actor.NewContext(context.Background(), owner)
	defender := func(name string) policy.CheckInput {
		return policy.CheckInput{Name: name, Source: posture.SourceDefender, Mode: posture.ModeEnforce,
			WhenUnavailable: posture.UnavailableDeny, Enabled: true, Spec: posture.Spec{MaxRisk: "Medium"}}
	}
	a, err := svc.SaveCheck(ctx, defender("Risk"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := svc.SaveCheck(ctx, defender("Risk strict"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := svc.SaveCheck(ctx, reportCheck("Firewall"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.SwitchChecks(context.Background(), map[int64]string{a.ID: policy.SwitchMonitor}); !apperr.Is(err, apperr.Forbidden) {
		t.Errorf("without an admin: %v", err)
	}
	if _, err := svc.SwitchChecks(ctx, map[int64]string{a.ID: "delete"}); !apperr.Is(err, apperr.Invalid) {
		t.Errorf("an unknown switch: %v", err)
	}
	if _, err := svc.SwitchChecks(ctx, map[int64]string{r.ID: policy.SwitchAllow}); !apperr.Is(err, apperr.Invalid) {
		t.Errorf("a Device report check: %v", err)
	}
	done, err := svc.SwitchChecks(ctx, map[int64]string{a.ID: policy.SwitchMonitor, b.ID: policy.SwitchAllow})
	if err != nil || len(done) != 2 {
		t.Fatalf("switch: %v, %+v", err, done)
	}
	for _, c := range e.Checks() {
		switch c.ID {
		case a.ID:
			if c.Mode != posture.ModeMonitor || c.WhenUnavailable != posture.UnavailableDeny {
				t.Errorf("Risk in force as %+v", c)
			}
		case b.ID:
			if c.Mode != posture.ModeEnforce || c.WhenUnavailable != posture.UnavailableAllow {
				t.Errorf("Risk strict in force as %+v", c)
			}
		}
	}
	updated := audit.CheckUpdated
	entries, _, err := st.AuditEntries(context.Background(), audit.Filter{Action: &updated})
	if err != nil || len(entries) != 2 {
		t.Fatalf("audit: %v, %+v", err, entries)
	}
	for _, en := range entries {
		if en.Actor != owner.Email || !strings.Contains(en.Detail, "before disabling Microsoft Defender") {
			t.Errorf("audit entry %+v", en)
		}
	}
}
