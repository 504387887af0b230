package integration_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"postern/internal/audit"
	"postern/internal/defender"
	"postern/internal/integration"
	"postern/internal/secret"
)

// certInput is a Save with the certificate credential and nothing pasted:
// the generated pending certificate, or the one in use.
func (e *env) certInput() integration.Input {
	in := e.good()
	in.ClientSecret, in.Credential = "", integration.CredentialCertificate
	return in
}

// The whole journey of a generated certificate: generated (audited, key
// sealed, nothing in use changes), refused by Microsoft until uploaded,
// then validated, stored sealed, and used for syncing.
func TestGeneratedCertificateJourney(t *testing.T) {
	e := newEnv(t, "Crt8Q~cert.Zq3vK_w9-Leak.Me.Not~x")
	before := e.configure() // a working secret first
	cert, err := e.svc.GenerateCertificate(asAdmin(), 2048)
	if err != nil {
		t.Fatalf("GenerateCertificate: %v", err)
	}
	if !strings.Contains(cert.PEM, "BEGIN CERTIFICATE") || strings.Contains(cert.PEM, "PRIVATE") {
		t.Fatalf("public certificate PEM looks wrong: %.60s", cert.PEM)
	}
	gen := e.audit(audit.CertificateGenerated)
	if len(gen) != 1 || !strings.Contains(gen[0].Detail, cert.Thumbprint) || gen[0].Actor != admin.Email {
		t.Fatalf("audit of the generation = %+v", gen)
	}
	if got := e.row(); got.Version != before.Version || got.ClientSecret != before.ClientSecret {
		t.Fatalf("generating changed the credential in use")
	}
	vals, _ := e.st.SealedValues(context.Background())
	if len(vals) != 2 || vals[1].Location.Table != "pending_certificates" || !strings.HasPrefix(vals[1].Value, "pst:v1:") {
		t.Fatalf("sealed values = %+v, want the secret and the pending key", vals)
	}

	// Not uploaded in Entra yet: refused on the certificate field, nothing stored.
	_, err = e.svc.Configure(asAdmin(), e.certInput())
	var de *defender.Error
	if !errors.As(err, &de) || de.Code != "AADSTS700027" || de.Field != integration.FieldCertificate {
		t.Fatalf("Configure before upload = %v, want AADSTS700027 on the certificate field", err)
	}
	if got := e.row(); got.Version != before.Version || got.Credential != integration.CredentialSecret {
		t.Fatalf("a refused certificate changed the stored row")
	}

	// Uploaded: saved, sealed, pending gone, the client signs in with it.
	if err := e.emu.RegisterCertificatePEM([]byte(cert.PEM)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Configure(asAdmin(), e.certInput()); err != nil {
		t.Fatalf("Configure after upload = %v", err)
	}
	row := e.row()
	if row.Credential != integration.CredentialCertificate || row.ClientSecret != "" || row.Certificate != cert.PEM ||
		!strings.HasPrefix(row.PrivateKey, "pst:v1:") {
		t.Fatalf("stored row: credential %q, secret %q, certificate stored %v, key %.12s", row.Credential, row.ClientSecret, row.Certificate == cert.PEM, row.PrivateKey)
	}
	if row.SecretExpiresOn == nil || row.SecretExpiresOn.Format(time.DateOnly) != cert.NotAfter.UTC().Format(time.DateOnly) {
		t.Errorf("expiry = %v, want the certificate's end %s", row.SecretExpiresOn, cert.NotAfter)
	}
	if p, _ := e.svc.PendingCertificate(context.Background()); p != nil {
		t.Errorf("the generated certificate is still pending after it was saved")
	}
	d, _ := e.svc.Defender(context.Background())
	if d.Credential != integration.CredentialCertificate || d.Certificate == nil || d.Certificate.Thumbprint != cert.Thumbprint || d.SecretSet {
		t.Errorf("Defender() = credential %q, certificate %+v, secret set %v", d.Credential, d.Certificate, d.SecretSet)
	}
	last := e.audit(audit.IntegrationConfigured)
	if detail := last[len(last)-1].Detail; !strings.Contains(detail, "certificate generated (thumbprint "+cert.Thumbprint) {
		t.Errorf("audit detail %q does not say the generated certificate is in use", detail)
	}
	c, _, err := e.svc.Client(context.Background())
	if err != nil {
		t.Fatalf("Client: %v", err)
	}
	if err := c.Validate(context.Background()); err != nil {
		t.Fatalf("the stored certificate does not sign in: %v", err)
	}
	// Save again with nothing new keeps the certificate.
	if _, err := e.svc.Configure(asAdmin(), e.certInput()); err != nil {
		t.Fatalf("Configure keeping the certificate = %v", err)
	}
	if e.row().PrivateKey == "" {
		t.Error("a Save with nothing new dropped the certificate")
	}
	if n := e.auditCount(audit.IntegrationConfigured, audit.Failure); n != 1 {
		t.Errorf("%d refused saves audited, want 1", n)
	}
}

// Rotate-key re-encrypts the certificate's key with the secrets, and the
// start-up check opens it.
func TestResealCoversCertificateKey(t *testing.T) {
	e := newEnv(t, "Crt8Q~reseal.Zq3vK_w9-Leak.Me.Not~x")
	cert, err := e.svc.GenerateCertificate(asAdmin(), 2048)
	if err != nil {
		t.Fatal(err)
	}
	e.emu.RegisterCertificatePEM([]byte(cert.PEM))
	if _, err := e.svc.Configure(asAdmin(), e.certInput()); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.GenerateCertificate(asAdmin(), 2048); err != nil { // a pending one too
		t.Fatal(err)
	}
	next, _, err := e.kr.WithNewKey()
	if err != nil {
		t.Fatal(err)
	}
	n, err := e.svc.Reseal(asAdmin(), next)
	if err != nil || n != 2 {
		t.Fatalf("Reseal = %d, %v; want the stored and the pending key", n, err)
	}
	used, _ := e.service(next).KeysInUse(context.Background())
	if used[next.ActiveID()] != 2 || len(used) != 1 {
		t.Errorf("keys in use after reseal = %v", used)
	}
	svc := e.service(next)
	if err := svc.CheckSecrets(context.Background()); err != nil {
		t.Fatalf("CheckSecrets after reseal: %v", err)
	}
	c, _, err := svc.Client(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(context.Background()); err != nil {
		t.Fatalf("the resealed certificate does not sign in: %v", err)
	}
}

// A pasted certificate and key are checked before Microsoft is asked.
func TestPastedCertificateProblems(t *testing.T) {
	e := newEnv(t, "Crt8Q~paste.Zq3vK_w9-Leak.Me.Not~x")
	now := time.Now()
	a, _ := defender.GenerateCertificate(2048, "a", now)
	b, _ := defender.GenerateCertificate(2048, "b", now)
	old, _ := defender.GenerateCertificate(2048, "old", now.Add(-3*365*24*time.Hour))
	tests := []struct {
		name, cert, key, field string
		want                   string
	}{
		{"key of another certificate", a.CertificatePEM(), string(b.PrivateKeyPEM()), integration.FieldPrivateKey, "does not belong"},
		{"expired certificate", old.CertificatePEM(), string(old.PrivateKeyPEM()), integration.FieldCertificate, "expired"},
		{"not PEM", "hello", string(a.PrivateKeyPEM()), integration.FieldCertificate, "PEM"},
		{"key missing", a.CertificatePEM(), "", integration.FieldPrivateKey, "private key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := e.certInput()
			in.CertificatePEM, in.PrivateKeyPEM = tt.cert, secret.Redacted(tt.key)
			_, err := e.svc.Configure(asAdmin(), in)
			var p integration.Problems
			if !errors.As(err, &p) || !strings.Contains(p[tt.field], tt.want) {
				t.Fatalf("Configure = %v (%v), want %q on %s", err, p, tt.want, tt.field)
			}
		})
	}
	if st := e.emu.Stats(); st.TokenRequests != 0 {
		t.Errorf("%d token requests for refused input, want 0", st.TokenRequests)
	}
	// Pasted and uploaded: accepted.
	e.emu.RegisterCertificate(a.X509())
	in := e.certInput()
	in.CertificatePEM, in.PrivateKeyPEM = a.CertificatePEM(), secret.Redacted(a.PrivateKeyPEM())
	if _, err := e.svc.Configure(asAdmin(), in); err != nil {
		t.Fatalf("Configure(pasted) = %v", err)
	}
	raw := strings.Join(e.rawRows(), "\n")
	if strings.Contains(raw, "PRIVATE KEY") {
		t.Error("the integrations row holds the private key in plain text")
	}
}
