package storetest

import (
	"testing"

	"postern/internal/apperr"
	"postern/internal/audit"
	"postern/internal/model"
	"postern/internal/secret"
)

func testCertificates(t *testing.T, open Opener) {
	cases(t, open,
		tcase{"PendingRoundTripAndSealed", pendingRoundTrip},
		tcase{"SavingWithItEndsPending", pendingEndsOnSave},
	)
}

func samplePending(cert, key string) model.PendingCertificate {
	return model.PendingCertificate{Name: "defender", Certificate: cert, PrivateKey: key, CreatedBy: "admin@example.com", CreatedAt: at(9, 0)}
}

// A pending certificate is stored with its audit entry, replaced by the
// next, and its sealed key is one of the sealed values Reseal rewrites.
func pendingRoundTrip(t *testing.T, s Store) {
	ctx := t.Context()
	_, err := s.PendingCertificate(ctx, "defender")
	wantKind(t, err, apperr.NotFound, "PendingCertificate of an empty store")
	must(t, s.SavePendingCertificate(ctx, samplePending("cert-1", "sealed-1"), entry(audit.CertificateGenerated, "defender")), "SavePendingCertificate")
	must(t, s.SavePendingCertificate(ctx, samplePending("cert-2", "sealed-2"), entry(audit.CertificateGenerated, "defender")), "SavePendingCertificate")
	wantAudit(t, s, audit.CertificateGenerated, 2)
	got, err := s.PendingCertificate(ctx, "defender")
	must(t, err, "PendingCertificate")
	if got.Certificate != "cert-2" || got.PrivateKey != "sealed-2" || got.CreatedBy != "admin@example.com" || !got.CreatedAt.Equal(at(9, 0)) {
		t.Errorf("pending certificate read back as %+v", got)
	}
	vals, err := s.SealedValues(ctx)
	must(t, err, "SealedValues")
	want := secret.Stored{Location: secret.Location{Table: "pending_certificates", Column: "private_key", Row: "defender"}, Value: "sealed-2"}
	if len(vals) != 1 || vals[0] != want {
		t.Errorf("SealedValues = %+v, want %+v", vals, want)
	}
	n, err := s.Reseal(ctx, func(v secret.Stored) (string, error) { return "resealed-" + v.Value, nil },
		func(int) audit.Entry { return entry(audit.KeyRotated, "k2") })
	if err != nil || n != 1 {
		t.Fatalf("Reseal = %d, %v; want 1", n, err)
	}
	if got, _ := s.PendingCertificate(ctx, "defender"); got.PrivateKey != "resealed-sealed-2" {
		t.Errorf("pending key after Reseal = %q", got.PrivateKey)
	}
}

// Saving the integration with the pending certificate ends it; saving with
// another certificate, or a secret, leaves it pending. The stored key is a
// sealed value of its own.
func pendingEndsOnSave(t *testing.T, s Store) {
	ctx := t.Context()
	must(t, s.SavePendingCertificate(ctx, samplePending("cert-new", "sealed-new"), entry(audit.CertificateGenerated, "defender")), "SavePendingCertificate")
	in := sampleIntegration("defender", "")
	in.Credential, in.Certificate, in.PrivateKey = "certificate", "cert-old", "sealed-old"
	must(t, s.SaveIntegration(ctx, in, 0, entry(audit.IntegrationConfigured, "defender")), "SaveIntegration")
	if _, err := s.PendingCertificate(ctx, "defender"); err != nil {
		t.Fatalf("saving another certificate ended the pending one: %v", err)
	}
	got, err := s.Integration(ctx, "defender")
	must(t, err, "Integration")
	if got.Credential != "certificate" || got.Certificate != "cert-old" || got.PrivateKey != "sealed-old" {
		t.Errorf("certificate columns read back as %q %q %q", got.Credential, got.Certificate, got.PrivateKey)
	}
	vals, _ := s.SealedValues(ctx)
	if len(vals) != 2 {
		t.Errorf("SealedValues = %+v, want the stored and the pending key", vals)
	}
	in.Certificate, in.PrivateKey = "cert-new", "sealed-new-stored"
	must(t, s.SaveIntegration(ctx, in, got.Version, entry(audit.IntegrationConfigured, "defender")), "SaveIntegration")
	_, err = s.PendingCertificate(ctx, "defender")
	wantKind(t, err, apperr.NotFound, "PendingCertificate after saving with it")
}
