package storetest

import (
	"fmt"
	"testing"
	"time"

	"postern/internal/apperr"
	"postern/internal/audit"
	"postern/internal/model"
	"postern/internal/secret"
)

func testIntegrations(t *testing.T, open Opener) {
	cases(t, open,
		tcase{"SaveRoundTrip", integrationRoundTrip},
		tcase{"SaveChecksTheVersion", integrationConflict},
		tcase{"Update", integrationUpdate},
	)
}

func sampleIntegration(name, sealed string) model.Integration {
	expires := time.Date(2027, 1, 31, 0, 0, 0, 0, time.UTC)
	errAt := at(8, 15)
	return model.Integration{Name: name, TenantID: "tenant-" + name, ClientID: "client-" + name, ClientSecret: sealed,
		SecretExpiresOn: &expires, Cloud: "global", Region: "eu", Enabled: true, LastError: "403 from Defender",
		LastErrorCode: "forbidden", LastErrorAt: &errAt, ConfiguredBy: "admin@example.com",
		ConfiguredAt: at(8, 0), UpdatedAt: at(8, 30)}
}

func integrationRoundTrip(t *testing.T, s Store) {
	ctx := t.Context()
	_, err := s.Integration(ctx, "defender")
	wantKind(t, err, apperr.NotFound, "Integration of an empty store")
	if all, err := s.Integrations(ctx); err != nil || len(all) != 0 {
		t.Errorf("Integrations of an empty store = %+v, %v", all, err)
	}
	want := sampleIntegration("defender", "pst:v1:sealed")
	must(t, s.SaveIntegration(ctx, want, 0, entry(audit.IntegrationConfigured, "defender")), "SaveIntegration")
	wantAudit(t, s, audit.IntegrationConfigured, 1)
	want.Version = 1
	wantIntegration(t, s, want)

	plain := model.Integration{Name: "another", TenantID: "t", ClientID: "c", ClientSecret: "", Cloud: "global",
		ConfiguredBy: "x", ConfiguredAt: at(1, 0), UpdatedAt: at(1, 0)}
	must(t, s.SaveIntegration(ctx, plain, 0, entry(audit.IntegrationConfigured, "another")), "SaveIntegration")
	plain.Version = 1
	wantIntegration(t, s, plain) // no expiry, no error time, disabled
	all, err := s.Integrations(ctx)
	must(t, err, "Integrations")
	if len(all) != 2 || all[0].Name != "another" || all[1].Name != "defender" {
		t.Errorf("Integrations = %+v, want another and defender, by name", all)
	}
}

func wantIntegration(t *testing.T, s Store, want model.Integration) {
	t.Helper()
	got, err := s.Integration(t.Context(), want.Name)
	must(t, err, "Integration")
	if !sameTimePtr(got.SecretExpiresOn, want.SecretExpiresOn) || !sameTimePtr(got.LastErrorAt, want.LastErrorAt) ||
		!sameTime(got.ConfiguredAt, want.ConfiguredAt) || !sameTime(got.UpdatedAt, want.UpdatedAt) {
		t.Errorf("integration times read back as %+v, want %+v", got, want)
	}
	got.SecretExpiresOn, got.LastErrorAt, got.ConfiguredAt, got.UpdatedAt = nil, nil, want.ConfiguredAt, want.UpdatedAt
	want.SecretExpiresOn, want.LastErrorAt = nil, nil
	if got != want {
		t.Errorf("integration read back as\n%+v\nwant\n%+v", got, want)
	}
}

func integrationConflict(t *testing.T, s Store) {
	ctx := t.Context()
	in := sampleIntegration("defender", "pst:v1:one")
	wantKind(t, s.SaveIntegration(ctx, in, 3, entry(audit.IntegrationConfigured, "")), apperr.Conflict,
		"SaveIntegration at version 3 of a missing row")
	must(t, s.SaveIntegration(ctx, in, 0, entry(audit.IntegrationConfigured, "")), "SaveIntegration")
	in.TenantID = "changed"
	must(t, s.SaveIntegration(ctx, in, 1, entry(audit.IntegrationConfigured, "")), "SaveIntegration at the read version")
	for _, v := range []int64{0, 1, 3} {
		stale := in
		stale.TenantID = fmt.Sprintf("stale %d", v)
		wantKind(t, s.SaveIntegration(ctx, stale, v, entry(audit.IntegrationConfigured, "")), apperr.Conflict,
			fmt.Sprintf("SaveIntegration at version %d of a row at 2", v))
	}
	in.Version = 2
	wantIntegration(t, s, in)
	wantAudit(t, s, audit.IntegrationConfigured, 2) // the refused saves audited nothing
}

func integrationUpdate(t *testing.T, s Store) {
	ctx := t.Context()
	noop := func(*model.Integration) {}
	wantKind(t, s.UpdateIntegration(ctx, "defender", noop, entry(audit.IntegrationDisabled, "")), apperr.NotFound,
		"UpdateIntegration of a missing row")
	wantAudit(t, s, audit.IntegrationDisabled, 0)
	in := sampleIntegration("defender", "pst:v1:one")
	must(t, s.SaveIntegration(ctx, in, 0, entry(audit.IntegrationConfigured, "")), "SaveIntegration")
	var seen model.Integration
	must(t, s.UpdateIntegration(ctx, "defender", func(cur *model.Integration) {
		seen = *cur
		cur.Enabled, cur.LastError, cur.LastErrorAt, cur.UpdatedAt = false, "", nil, at(9, 0)
	}, entry(audit.IntegrationDisabled, "defender")), "UpdateIntegration")
	if seen.TenantID != in.TenantID || seen.Version != 1 {
		t.Errorf("change saw %+v, want the stored row at version 1", seen)
	}
	in.Enabled, in.LastError, in.LastErrorAt, in.UpdatedAt, in.Version = false, "", nil, at(9, 0), 2
	wantIntegration(t, s, in)
	wantAudit(t, s, audit.IntegrationDisabled, 1)
}

func testSealed(t *testing.T, open Opener) {
	cases(t, open,
		tcase{"ListAndReseal", sealedReseal},
		tcase{"ResealIsAllOrNothing", sealedAllOrNothing},
	)
}

// sealedFixture stores two integrations with sealed secrets and one without.
func sealedFixture(t *testing.T, s Store) {
	for name, sealed := range map[string]string{"alpha": "sealed-alpha", "beta": "sealed-beta", "empty": ""} {
		must(t, s.SaveIntegration(t.Context(), sampleIntegration(name, sealed), 0, entry(audit.IntegrationConfigured, name)),
			"SaveIntegration")
	}
}

func sealedReseal(t *testing.T, s Store) {
	ctx := t.Context()
	if vals, err := s.SealedValues(ctx); err != nil || len(vals) != 0 {
		t.Errorf("SealedValues of an empty store = %+v, %v", vals, err)
	}
	sealedFixture(t, s)
	wantSealed(t, s, "sealed-")
	n, err := s.Reseal(ctx, func(v secret.Stored) (string, error) { return "resealed-" + v.Row, nil },
		func(n int) audit.Entry {
			e := entry(audit.KeyRotated, "master key k2")
			e.Detail = fmt.Sprintf("%d stored secrets re-encrypted", n)
			return e
		})
	if err != nil || n != 2 {
		t.Fatalf("Reseal = %d, %v; want 2", n, err)
	}
	wantSealed(t, s, "resealed-")
	if e := wantAudit(t, s, audit.KeyRotated, 1); e.Detail != "2 stored secrets re-encrypted" {
		t.Errorf("Reseal audited %q, want the count", e.Detail)
	}
	// A rewritten value is a change of its row: a concurrent save must not undo it.
	if in, err := s.Integration(ctx, "alpha"); err != nil || in.Version != 2 {
		t.Errorf("alpha after Reseal: version %d, %v; want 2", in.Version, err)
	}
}

// wantSealed checks SealedValues lists the sealed secrets of alpha and
// beta, values prefix+name, each at its location, and not the empty one.
func wantSealed(t *testing.T, s Store, prefix string) {
	t.Helper()
	vals, err := s.SealedValues(t.Context())
	must(t, err, "SealedValues")
	got := map[string]secret.Stored{}
	for _, v := range vals {
		got[v.Row] = v
	}
	for _, row := range []string{"alpha", "beta"} {
		want := secret.Stored{Location: secret.Location{Table: "integrations", Column: "client_secret", Row: row}, Value: prefix + row}
		if got[row] != want {
			t.Errorf("sealed value of %s = %+v, want %+v", row, got[row], want)
		}
	}
	if len(vals) != 2 {
		t.Errorf("SealedValues = %+v, want only alpha's and beta's", vals)
	}
}

func sealedAllOrNothing(t *testing.T, s Store) {
	sealedFixture(t, s)
	calls := 0
	_, err := s.Reseal(t.Context(), func(v secret.Stored) (string, error) {
		if calls++; calls == 2 {
			return "", fmt.Errorf("cannot open %s", v.Row)
		}
		return "resealed-" + v.Row, nil
	}, func(int) audit.Entry { return entry(audit.KeyRotated, "") })
	if err == nil {
		t.Fatal("Reseal whose second value fails succeeded")
	}
	wantSealed(t, s, "sealed-")
	wantAudit(t, s, audit.KeyRotated, 0)
}
