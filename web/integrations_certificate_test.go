package web

import (
	"crypto/rsa"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"postern/internal/defender"
	"postern/internal/integration"
	"postern/internal/model"
	"postern/views/components"
)

// certForm is a Save with the certificate credential.
func (d *defenderEnv) certForm(certPEM, keyPEM string) url.Values {
	f := d.goodForm("")
	f.Set("credential", "certificate")
	f.Set("certificate_pem", certPEM)
	f.Set("private_key_pem", keyPEM)
	return f
}

// Pasted certificate material that cannot work is refused with 422 and a
// message next to its field, before Microsoft is asked; the key is never
// echoed.
func TestDefenderPastedCertificateRefused(t *testing.T) {
	d := newDefenderEnv(t, "Good~secret.value-0123456789abcdefghijklm")
	c := d.signedIn()
	now := time.Now()
	a, _ := defender.GenerateCertificate(2048, "a", now)
	b, _ := defender.GenerateCertificate(2048, "b", now)
	old, _ := defender.GenerateCertificate(2048, "old", now.Add(-3*365*24*time.Hour))
	cases := []struct {
		name, cert, key, field, want string
	}{
		{"bad PEM", "MIIBIjANBgkq", string(a.PrivateKeyPEM()), "certificate_pem", "PEM form"},
		{"key mismatch", a.CertificatePEM(), string(b.PrivateKeyPEM()), "private_key_pem", "does not belong to this certificate"},
		{"expired certificate", old.CertificatePEM(), string(old.PrivateKeyPEM()), "certificate_pem", "This certificate has expired"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := c.post("/settings/integrations/defender", d.certForm(tc.cert, tc.key))
			wantStatus(t, res, http.StatusUnprocessableEntity)
			doc := parse(t, res)
			if msg := text(doc.Find("#" + tc.field + "-error")); !strings.Contains(msg, tc.want) {
				t.Errorf("message next to %s = %q, want %q", tc.field, msg, tc.want)
			}
			if doc.Find("#"+tc.field+"-error a[href$='#certificate']").Length() != 1 {
				t.Errorf("the message does not link to the guide's certificate section")
			}
			if strings.Contains(res.body, "PRIVATE KEY") {
				t.Error("the form echoed the private key")
			}
			if doc.Find("#credential-certificate[checked]").Length() != 1 {
				t.Error("the re-rendered form forgot the Certificate choice")
			}
		})
	}
	if _, ok := d.integrationRow(t); ok {
		t.Error("refused input stored the integration")
	}
	if st := d.emu.Stats(); st.TokenRequests != 0 {
		t.Errorf("%d token requests for refused input", st.TokenRequests)
	}
}

// Generate shows the certificate to upload and a download link; the
// download is the public certificate alone; once uploaded, Save connects
// with it and the dialog then shows it as set.
func TestDefenderGenerateDownloadSave(t *testing.T) {
	d := newDefenderEnv(t, "Good~secret.value-0123456789abcdefghijklm")
	c := d.signedIn()
	form := d.certForm("", "")
	form.Set("key_bits", "3072")
	res := c.post("/settings/integrations/defender/certificate", form)
	wantStatus(t, res, http.StatusOK)
	doc := parse(t, res)
	thumb := text(doc.Find("[data-testid=pending-thumbprint]"))
	if len(thumb) != 40 || doc.Find(`a[href="/settings/integrations/defender/certificate.pem"]`).Length() == 0 {
		t.Fatalf("no pending certificate with a download link:\n%.3000s", res.body)
	}
	if v := doc.Find("#tenant_id").AttrOr("value", ""); v != form.Get("tenant_id") {
		t.Errorf("Generate lost the typed tenant: %q", v)
	}
	dl := c.get("/settings/integrations/defender/certificate.pem")
	wantStatus(t, dl, http.StatusOK)
	if !strings.Contains(dl.Header.Get("Content-Disposition"), "attachment") || strings.Contains(dl.body, "PRIVATE") {
		t.Fatalf("download: %s %q", dl.Header.Get("Content-Disposition"), dl.body)
	}
	cert, err := defender.ParsePublicCertificate([]byte(dl.body))
	if err != nil || defender.Thumbprint(cert) != thumb {
		t.Fatalf("downloaded certificate %v, thumbprint mismatch", err)
	}
	if key, ok := cert.PublicKey.(*rsa.PublicKey); !ok || key.N.BitLen() != 3072 {
		t.Errorf("generated key is not the RSA 3072 chosen")
	}
	// Not uploaded yet: Microsoft's refusal next to the certificate.
	res = c.post("/settings/integrations/defender", d.certForm("", ""))
	wantStatus(t, res, http.StatusUnprocessableEntity)
	if !strings.Contains(res.body, "AADSTS700027") {
		t.Fatalf("refusal lacks AADSTS700027:\n%.2000s", res.body)
	}
	d.emu.RegisterCertificate(cert)
	wantRedirect(t, c.post("/settings/integrations/defender", d.certForm("", "")), "/settings/integrations")
	d.waitSynced(t)
	row, _ := d.integrationRow(t)
	if row.Credential != integration.CredentialCertificate {
		t.Fatalf("stored credential %q", row.Credential)
	}
	card := parse(t, c.get("/settings/integrations"))
	if got := text(card.Find("[data-testid=credential]")); !strings.Contains(got, "Certificate "+thumb) {
		t.Errorf("the card names the credential %q, want the certificate %s", got, thumb)
	}
	manage := parse(t, c.get("/settings/integrations/defender"))
	if !strings.Contains(text(manage.Find("[data-testid=current-certificate]")), thumb) || manage.Find("[data-testid=pending-certificate]").Length() != 0 {
		t.Error("Manage does not show the saved certificate as set")
	}
	if st := d.worker.Status(); st.LastRun == nil || st.LastRun.Outcome != model.RunSuccess {
		t.Errorf("sync after saving the certificate: %+v", st.LastRun)
	}
}

func TestCertificateNotice(t *testing.T) {
	now := mustDate("2026-12-01")
	if msg, kind := certificateNotice(mustDate("2026-12-20"), now); !strings.Contains(msg, "certificate expires in 19 days") || kind != components.FlashWarning {
		t.Errorf("notice = %q, %q", msg, kind)
	}
	if msg, _ := certificateNotice(mustDate("2026-11-20"), now); !strings.Contains(msg, "certificate expired on") {
		t.Errorf("notice = %q", msg)
	}
	if msg, _ := certificateNotice(mustDate("2027-06-20"), now); msg != "" {
		t.Errorf("notice far ahead = %q", msg)
	}
}
