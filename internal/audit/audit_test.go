package audit_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"postern/internal/apperr"
	"postern/internal/audit"
	"postern/internal/testkit"
)

// Refused keeps who did what, marks the outcome by the error's kind and
// writes the error's safe message (or the refused fields) as the detail,
// never its cause.
func TestRefused(t *testing.T) {
	cause := errors.New("UNIQUE constraint failed: secret=hunter2")
	base := audit.Entry{Actor: "ada@example.com", SourceIP: "192.0.2.4", Action: audit.CheckCreated, Target: "Low risk",
		Outcome: audit.Success, Detail: "Microsoft Defender, enforce; {}"}
	fields := apperr.Fields(map[string]string{"source": "Microsoft Defender is disabled.", "name": "Use at most 80 characters."})
	fields.Err = cause
	for _, tc := range []struct {
		name            string
		err             error
		outcome, detail string
	}{
		{"not found", apperr.Wrap(cause, apperr.NotFound, "Posture check was not found."), audit.Failure, "Posture check was not found."},
		{"forbidden", apperr.New(apperr.Forbidden, "Only an owner may do this."), audit.Denied, "Only an owner may do this."},
		{"fields", fields, audit.Failure, "refused: name, source"},
		{"no safe message", cause, audit.Failure, apperr.MessageOf(cause)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := audit.Refused(base, tc.err)
			want := base
			want.Outcome, want.Detail = tc.outcome, tc.detail
			if got != want {
				t.Errorf("Refused = %+v, want %+v", got, want)
			}
			if strings.Contains(got.Detail, "hunter2") {
				t.Errorf("the detail %q carries the cause", got.Detail)
			}
		})
	}
}

// The target of a refusal may be the refused input: it is cut to
// MaxRefusedTarget characters of valid UTF-8.
func TestRefusedCutsTheTarget(t *testing.T) {
	long := strings.Repeat("é", audit.MaxRefusedTarget+1)
	got := audit.Refused(audit.Entry{Target: long}, apperr.New(apperr.Invalid, "x")).Target
	if want := strings.Repeat("é", audit.MaxRefusedTarget) + "…"; got != want {
		t.Errorf("target = %q, want %q", got, want)
	}
	if got := audit.Refused(audit.Entry{Target: "ok\xff"}, apperr.New(apperr.Invalid, "x")).Target; got != "ok\uFFFD" {
		t.Errorf("target = %q, want the invalid byte replaced", got)
	}
	exact := strings.Repeat("a", audit.MaxRefusedTarget)
	if got := audit.Refused(audit.Entry{Target: exact}, apperr.New(apperr.Invalid, "x")).Target; got != exact {
		t.Errorf("target = %q, want it whole", got)
	}
}

type appender struct {
	got []audit.Entry
	err error
}

func (a *appender) AppendAudit(_ context.Context, e audit.Entry) error {
	a.got = append(a.got, e)
	return a.err
}

// RecordRefusal appends the refused entry and returns the refusal; when
// the row cannot be written it logs that and still returns the refusal.
func TestRecordRefusal(t *testing.T) {
	refusal := apperr.New(apperr.NotFound, "API token was not found.")
	e := audit.Entry{Actor: "ada@example.com", Action: audit.APITokenRevoked, Target: "7", Outcome: audit.Success}

	var logs testkit.Buffer
	st := &appender{}
	if err := audit.RecordRefusal(context.Background(), st, logs.Logger(), e, refusal); err != refusal {
		t.Errorf("RecordRefusal = %v, want the refusal", err)
	}
	if len(st.got) != 1 || st.got[0] != audit.Refused(e, refusal) || logs.String() != "" {
		t.Errorf("appended %+v, logged %q; want the refused entry and no log", st.got, logs.String())
	}

	broken := &appender{err: errors.New("disk I/O error")}
	if err := audit.RecordRefusal(context.Background(), broken, logs.Logger(), e, refusal); err != refusal {
		t.Errorf("RecordRefusal with a failing store = %v, want the refusal", err)
	}
	if out := logs.String(); !strings.Contains(out, "level=ERROR") || !strings.Contains(out, "disk I/O error") || !strings.Contains(out, audit.APITokenRevoked) {
		t.Errorf("log = %q, want an error naming the action and the cause", out)
	}
}
