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
		tcase{"Page", exceptionPage},
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

// ExceptionPage pages Exceptions' answer and names the device and check.
func exceptionPage(t *testing.T, s Store) {
	ctx := t.Context()
	syncRun(t, s, devices(0, 2, "v1"))
	c := saveCheck(t, s, "Firewall")
	now := s.Now()
	host := device(0, "").Host
	for i, x := range []model.Exception{
		{DeviceID: device(0, "").ID, CheckID: c.ID, Reason: "r0", ExpiresAt: now.Add(time.Hour)},
		{DeviceID: device(1, "").ID, Reason: "r1", ExpiresAt: now.Add(-time.Hour)},
		{DeviceID: "gone", Reason: "r2", ExpiresAt: now.Add(time.Hour)},
		{DeviceID: device(0, "").ID, Reason: "r3", ExpiresAt: now.Add(2 * time.Hour)},
	} {
		x.CreatedBy = "alice"
		got, err := s.CreateException(ctx, x, entry(audit.ExceptionCreated, x.DeviceID))
		must(t, err, "CreateException")
		if i == 3 {
			must(t, s.RevokeException(ctx, x.DeviceID, got.ID, "bob", entry(audit.ExceptionRevoked, x.DeviceID)), "RevokeException")
		}
	}
	reasons := func(ls []model.ExceptionListing) (out []string) {
		for _, l := range ls {
			out = append(out, l.Reason)
		}
		return out
	}
	for _, tc := range []struct {
		name          string
		f             model.ExceptionFilter
		limit, offset int
		want          []string
		total         int
	}{
		{"all", model.ExceptionFilter{}, 10, 0, []string{"r3", "r2", "r1", "r0"}, 4},
		{"a page", model.ExceptionFilter{}, 2, 1, []string{"r2", "r1"}, 4},
		{"past the end", model.ExceptionFilter{}, 2, 8, nil, 4},
		{"active", model.ExceptionFilter{ActiveAt: now}, 10, 0, []string{"r2", "r0"}, 2},
		{"one device", model.ExceptionFilter{DeviceID: device(0, "").ID}, 10, 0, []string{"r3", "r0"}, 2},
	} {
		ls, total, err := s.ExceptionPage(ctx, tc.f, tc.limit, tc.offset)
		must(t, err, "ExceptionPage")
		if got := reasons(ls); !slices.Equal(got, tc.want) || total != tc.total {
			t.Errorf("%s: %q of %d, want %q of %d", tc.name, got, total, tc.want, tc.total)
		}
	}
	ls, _, err := s.ExceptionPage(ctx, model.ExceptionFilter{}, 10, 0)
	must(t, err, "ExceptionPage")
	if l := ls[3]; l.Host != host || l.CheckName != "Firewall" || l.CheckID != c.ID || l.CreatedBy != "alice" {
		t.Errorf("r0 listed as %+v", l)
	}
	if l := ls[1]; l.Host != "" || l.CheckName != "" || l.DeviceID != "gone" {
		t.Errorf("r2 (no such device, every check) listed as %+v", l)
	}
	if l := ls[0]; l.RevokedAt == nil || l.RevokedBy != "bob" {
		t.Errorf("r3 (revoked) listed as %+v", l)
	}
}
