package web

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"postern/internal/defender"
	"postern/internal/integration"
	"postern/views"
	"postern/views/components"
)

// certificateView is the public part of a certificate for the form.
func certificateView(c *integration.Certificate) *views.CertificateView {
	if c == nil {
		return nil
	}
	return &views.CertificateView{PEM: c.PEM, Thumbprint: c.Thumbprint, NotAfter: components.Date(c.NotAfter)}
}

// certificateForm fills the form's certificate part from the stored state.
func (s *Server) certificateForm(c echo.Context, f *views.ManageForm, d integration.Defender) error {
	f.Credential, f.KeyBits = d.Credential, defender.CertificateBits
	f.Current = certificateView(d.Certificate)
	pending, err := s.integration.PendingCertificate(c.Request().Context())
	if err != nil {
		return err
	}
	f.Pending = certificateView(pending)
	return nil
}

// keepCredentialInput puts the submitted credential choice back on a
// re-rendered form: the pasted public certificate, never a key or secret.
func keepCredentialInput(f *views.ManageForm, in integration.Input) {
	if in.Credential == integration.CredentialCertificate {
		f.Credential = integration.CredentialCertificate
	}
	if in.Credential == integration.CredentialSecret {
		f.Credential = integration.CredentialSecret
	}
	f.CertificatePEM = in.CertificatePEM
}

// defenderGenerateCertificate makes a key pair and certificate for the app
// and shows the form again, as typed, with the certificate to upload.
func (s *Server) defenderGenerateCertificate(c echo.Context) error {
	r := c.Request()
	if err := r.ParseForm(); err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, "The form could not be read.")
	}
	bits, _ := strconv.Atoi(r.PostFormValue(integration.FieldKeySize))
	_, genErr := s.integration.GenerateCertificate(r.Context(), bits)
	var problems integration.Problems
	if genErr != nil && !errors.As(genErr, &problems) {
		return genErr
	}
	f, err := s.manageForm(c)
	if err != nil {
		return err
	}
	f.TenantID, f.ClientID = r.PostFormValue("tenant_id"), r.PostFormValue("client_id")
	f.Cloud, f.Region = r.PostFormValue("cloud"), r.PostFormValue("region")
	f.OutageGrace = r.PostFormValue(integration.FieldOutageGrace)
	f.Credential = integration.CredentialCertificate
	status := http.StatusOK
	if problems != nil {
		f.Errors, status = problems, http.StatusUnprocessableEntity
	} else {
		s.logger(c).Info("defender certificate generated", "bits", bits, "thumbprint", f.Pending.Thumbprint)
	}
	return s.renderManage(c, status, f, isHTMX(c))
}

// defenderCertificate downloads the public certificate to upload in Entra:
// the generated one waiting to be saved, or else the one in use.
func (s *Server) defenderCertificate(c echo.Context) error {
	ctx := c.Request().Context()
	pending, err := s.integration.PendingCertificate(ctx)
	if err != nil {
		return err
	}
	cert := pending
	if cert == nil {
		d, err := s.integration.Defender(ctx)
		if err != nil {
			return err
		}
		cert = d.Certificate
	}
	if cert == nil {
		return echo.NewHTTPError(http.StatusNotFound, "No certificate is set. Generate one in Manage.")
	}
	name := "postern-defender-" + strings.ToLower(cert.Thumbprint[:8]) + ".pem"
	c.Response().Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", name))
	return c.Blob(http.StatusOK, "application/x-pem-file", []byte(cert.PEM))
}

// certificateNotice warns within 30 days of the certificate's expiry and
// errors after it.
func certificateNotice(expires, now time.Time) (string, string) {
	day := components.Date(expires)
	today := now.UTC().Truncate(24 * time.Hour)
	days := int(expires.Sub(today).Hours() / 24)
	switch {
	case days < 0:
		return "The certificate expired on " + day + ". Syncing fails until you generate a new certificate in Manage, upload it in Entra and save.", components.FlashError
	case days <= int(secretWarningWindow.Hours()/24):
		return fmt.Sprintf("The certificate expires in %d days (%s). Generate a new certificate in Manage, upload it in Entra and save before then.", days, day), components.FlashWarning
	}
	return "", ""
}

// credentialText names the credential in use on the card.
func credentialText(d integration.Defender) string {
	if d.Credential == integration.CredentialCertificate && d.Certificate != nil {
		return "Certificate " + d.Certificate.Thumbprint + ", expires " + components.Date(d.Certificate.NotAfter)
	}
	return "Client secret"
}
