package storetest

import (
	"slices"
	"testing"
	"time"

	"postern/internal/apperr"
	"postern/internal/audit"
	"postern/internal/model"
)

func testExceptions(t *testing.T, open Opener) {
	cases(t, open,
		tcase{"CreateAndFilter", exceptionFilters},
		tcase{"Revoke", exceptionRevoke},
	)
}

// exceptionIDs lists what Exceptions(f) returns, by reason.
func exceptionReasons(t *testing.T, s Store, f model.ExceptionFilter) []string {
	t.Helper()
	xs, err := s.Exceptions(t.Context(), f)
	must(t, err, "Exceptions")
	var out []string
	for _, x := range xs {
		out = append(out, x.Reason)
	}
	return out
}

func exceptionFilters(t *testing.T, s Store) {
	ctx := t.Context()
	c := saveCheck(t, s, "Firewall")
	other := saveCheck(t, s, "Antivirus")
	now := s.Now()
	for _, x := range []model.Exception{
		{DeviceID: "dev-1", CheckID: c.ID, Reason: "one", ExpiresAt: now.Add(time.Hour)},
		{DeviceID: "dev-1", Reason: "all checks", ExpiresAt: now.Add(time.Hour)},
		{DeviceID: "dev-1", CheckID: other.ID, Reason: "other check", ExpiresAt: now.Add(time.Hour)},
		{DeviceID: "dev-1", CheckID: c.ID, Reason: "expired", ExpiresAt: now.Add(-time.Hour)},
		{DeviceID: "dev-2", CheckID: c.ID, Reason: "other device", ExpiresAt: now.Add(time.Hour)},
	} {
		x.CreatedBy = "alice"
		got, err := s.CreateException(ctx, x, entry(audit.ExceptionCreated, x.DeviceID))
		must(t, err, "CreateException")
		if got.ID == 0 || !recent(s, got.CreatedAt) || got.RevokedAt != nil {
			t.Errorf("CreateException = %+v", got)
		}
	}
	wantAudit(t, s, audit.ExceptionCreated, 5)
	for _, tc := range []struct {
		name string
		f    model.ExceptionFilter
		want []string // newest first
	}{
		{"all", model.ExceptionFilter{}, []string{"other device", "expired", "other check", "all checks", "one"}},
		{"device", model.ExceptionFilter{DeviceID: "dev-1"}, []string{"expired", "other check", "all checks", "one"}},
		{"check, with every-check ones", model.ExceptionFilter{CheckID: c.ID}, []string{"other device", "expired", "all checks", "one"}},
		{"active", model.ExceptionFilter{DeviceID: "dev-1", ActiveAt: now}, []string{"other check", "all checks", "one"}},
		{"all three", model.ExceptionFilter{DeviceID: "dev-1", CheckID: c.ID, ActiveAt: now}, []string{"all checks", "one"}},
		{"none", model.ExceptionFilter{DeviceID: "dev-9"}, nil},
	} {
		if got := exceptionReasons(t, s, tc.f); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
	xs, err := s.Exceptions(ctx, model.ExceptionFilter{DeviceID: "dev-2"})
	must(t, err, "Exceptions")
	if x := xs[0]; x.CheckID != c.ID || x.CreatedBy != "alice" || !sameTime(x.ExpiresAt, now.Add(time.Hour)) || x.RevokedBy != "" {
		t.Errorf("exception read back as %+v", x)
	}
}

func exceptionRevoke(t *testing.T, s Store) {
	ctx := t.Context()
	now := s.Now()
	x, err := s.CreateException(ctx, model.Exception{DeviceID: "dev-1", Reason: "travel", ExpiresAt: now.Add(time.Hour),
		CreatedBy: "alice"}, entry(audit.ExceptionCreated, "dev-1"))
	must(t, err, "CreateException")
	wantKind(t, s.RevokeException(ctx, "dev-2", x.ID, "bob", entry(audit.ExceptionRevoked, "dev-2")), apperr.NotFound,
		"revoking an exception through another device")
	must(t, s.RevokeException(ctx, "dev-1", x.ID, "bob", entry(audit.ExceptionRevoked, "dev-1")), "RevokeException")
	wantKind(t, s.RevokeException(ctx, "dev-1", x.ID, "bob", entry(audit.ExceptionRevoked, "dev-1")), apperr.NotFound,
		"revoking twice")
	wantKind(t, s.RevokeException(ctx, "dev-1", x.ID+100, "bob", entry(audit.ExceptionRevoked, "dev-1")), apperr.NotFound,
		"revoking an unknown exception")
	wantAudit(t, s, audit.ExceptionRevoked, 1)
	xs, err := s.Exceptions(ctx, model.ExceptionFilter{DeviceID: "dev-1"})
	must(t, err, "Exceptions")
	if len(xs) != 1 || xs[0].RevokedAt == nil || !recent(s, *xs[0].RevokedAt) || xs[0].RevokedBy != "bob" {
		t.Errorf("after revoking: %+v", xs)
	}
	if got := exceptionReasons(t, s, model.ExceptionFilter{ActiveAt: now}); len(got) != 0 {
		t.Errorf("active exceptions after revoking: %q", got)
	}
}
