package integration

import (
	"context"
	"fmt"
	"strings"
	"time"

	"postern/internal/apperr"
	"postern/internal/defender"
	"postern/internal/model"
	"postern/internal/secret"
)

// Credential kinds: how the app proves its identity to Entra ID.
const (
	CredentialSecret      = "secret"
	CredentialCertificate = "certificate"
)

// Form fields of a certificate credential.
const (
	FieldCredential  = "credential"
	FieldCertificate = defender.FieldCertificate
	FieldPrivateKey  = "private_key_pem"
)

// MaxPEMBytes bounds a pasted certificate or key (a 4096-bit key is ~3 KB).
const MaxPEMBytes = 64 << 10

// keyLocation binds the sealed private key of integration name.
func keyLocation(name string) secret.Location {
	return secret.Location{Table: "integrations", Column: "private_key", Row: name}
}

// pendingKeyLocation binds the sealed key of a generated, pending certificate.
func pendingKeyLocation(name string) secret.Location {
	return secret.Location{Table: "pending_certificates", Column: "private_key", Row: name}
}

// kindOf is a stored row's credential kind; rows from before certificates hold a secret.
func kindOf(in model.Integration) string {
	if in.Credential == CredentialCertificate {
		return CredentialCertificate
	}
	return CredentialSecret
}

// credential is the credential a Save would store.
type credential struct {
	kind    string
	secret  secret.Redacted
	cert    *defender.Certificate
	changed bool   // new: a pasted secret, pasted or generated certificate, or another kind
	source  string // for the audit log: "pasted", "generated", "kept"
}

// chooseCredential picks what Save validates and stores: a new secret, a
// pasted certificate, the generated pending one, or the stored credential.
// Problems name the field; nothing here is sent anywhere.
func (s *Service) chooseCredential(ctx context.Context, in Input, cur model.Integration, hasCurrent bool) (credential, error) {
	if in.Credential != CredentialCertificate {
		if in.ClientSecret != "" {
			return credential{kind: CredentialSecret, secret: in.ClientSecret, changed: true, source: "replaced"}, nil
		}
		plain, err := s.openSecret(cur.ClientSecret, secretLocation(Name))
		if err != nil {
			return credential{}, fmt.Errorf("integration: open stored secret: %w", err)
		}
		return credential{kind: CredentialSecret, secret: secret.Redacted(plain), source: "kept"}, nil
	}
	now := s.store.Now()
	if strings.TrimSpace(in.CertificatePEM) != "" || strings.TrimSpace(in.PrivateKeyPEM.Reveal()) != "" {
		c, err := parsePasted(in, now)
		if err != nil {
			return credential{}, err
		}
		return credential{kind: CredentialCertificate, cert: c, changed: true, source: "pasted"}, nil
	}
	pending, err := s.store.PendingCertificate(ctx, Name)
	if err == nil {
		c, err := s.openCertificate(pending.Certificate, pending.PrivateKey, pendingKeyLocation(Name), now)
		if err != nil {
			return credential{}, err
		}
		return credential{kind: CredentialCertificate, cert: c, changed: true, source: "generated"}, nil
	}
	if !apperr.Is(err, apperr.NotFound) {
		return credential{}, err
	}
	if hasCurrent && kindOf(cur) == CredentialCertificate {
		c, err := s.openCertificate(cur.Certificate, cur.PrivateKey, keyLocation(Name), now)
		if err != nil {
			return credential{}, err
		}
		return credential{kind: CredentialCertificate, cert: c, source: "kept"}, nil
	}
	return credential{}, Problems{FieldCertificate: "Generate a certificate, or paste a certificate and its private key."}
}

// parsePasted reads a pasted certificate and key, with a message per field.
func parsePasted(in Input, now time.Time) (*defender.Certificate, error) {
	certPEM, keyPEM := strings.TrimSpace(in.CertificatePEM), strings.TrimSpace(in.PrivateKeyPEM.Reveal())
	switch {
	case certPEM == "":
		return nil, Problems{FieldCertificate: "Paste the certificate that goes with the private key."}
	case keyPEM == "":
		return nil, Problems{FieldPrivateKey: "Paste the certificate's private key. It is stored encrypted and never shown again."}
	case len(certPEM) > MaxPEMBytes:
		return nil, Problems{FieldCertificate: "This is too long for a certificate (at most 64 KB)."}
	case len(keyPEM) > MaxPEMBytes:
		return nil, Problems{FieldPrivateKey: "This is too long for a private key (at most 64 KB)."}
	}
	c, err := defender.ParseCertificate([]byte(certPEM), []byte(keyPEM), now)
	if p, ok := err.(defender.CertificateProblem); ok {
		field := FieldPrivateKey
		switch p {
		case defender.ErrCertificatePEM, defender.ErrCertificateExpired, defender.ErrCertificateFuture:
			field = FieldCertificate
		}
		return nil, Problems{field: p.Error()}
	}
	return c, err
}

// openCertificate opens a stored certificate and its sealed key.
func (s *Service) openCertificate(certPEM, sealed string, loc secret.Location, now time.Time) (*defender.Certificate, error) {
	key, err := s.openSecret(sealed, loc)
	if err != nil {
		return nil, fmt.Errorf("integration: open stored private key: %w", err)
	}
	c, err := defender.ParseCertificate([]byte(certPEM), key, now)
	if err == defender.ErrCertificateExpired {
		return nil, Problems{FieldCertificate: "The certificate Postern holds has expired. Generate a new one, upload it in Entra, then save."}
	}
	if err != nil {
		return nil, fmt.Errorf("integration: stored certificate: %w", err)
	}
	return c, nil
}

// credentials are the stored row's credentials, opened, for a client.
func (s *Service) credentials(in model.Integration) (defender.Credentials, error) {
	creds := defender.Credentials{TenantID: in.TenantID, ClientID: in.ClientID,
		Cloud: defender.Cloud(in.Cloud), Region: defender.Region(in.Region)}
	if kindOf(in) == CredentialCertificate {
		key, err := s.openSecret(in.PrivateKey, keyLocation(Name))
		if err != nil {
			return creds, fmt.Errorf("integration: open stored private key: %w", err)
		}
		// An expired certificate still signs: Microsoft answers, and its
		// refusal is what the card shows.
		c, err := defender.ParseCertificate([]byte(in.Certificate), key, certificateTime(in.Certificate))
		if err != nil {
			return creds, fmt.Errorf("integration: stored certificate: %w", err)
		}
		creds.Certificate = c
		return creds, nil
	}
	plain, err := s.openSecret(in.ClientSecret, secretLocation(Name))
	if err != nil {
		return creds, fmt.Errorf("integration: open stored secret: %w", err)
	}
	creds.ClientSecret = secret.Redacted(plain)
	return creds, nil
}

// certificateTime is a moment inside certPEM's validity, to open it
// regardless of today's date.
func certificateTime(certPEM string) time.Time {
	c, err := defender.ParsePublicCertificate([]byte(certPEM))
	if err != nil {
		return time.Time{}
	}
	return c.NotBefore.Add(time.Second)
}

// sealCredential seals cred into row: the secret, or the certificate and its key.
func (s *Service) sealCredential(cred credential, row *model.Integration) error {
	kr := s.keyring.Load()
	row.Credential = cred.kind
	if cred.kind == CredentialCertificate {
		sealed, err := kr.Seal(cred.cert.PrivateKeyPEM(), keyLocation(Name))
		if err != nil {
			return fmt.Errorf("integration: seal private key: %w", err)
		}
		row.Certificate, row.PrivateKey = cred.cert.CertificatePEM(), sealed
		day := cred.cert.NotAfter().UTC().Truncate(24 * time.Hour)
		row.SecretExpiresOn = &day
		return nil
	}
	sealed, err := kr.Seal([]byte(cred.secret.Reveal()), secretLocation(Name))
	if err != nil {
		return fmt.Errorf("integration: seal secret: %w", err)
	}
	row.ClientSecret = sealed
	return nil
}

// auditText says in the audit log what Save did with the credential.
func (cred credential) auditText() string {
	if cred.kind == CredentialCertificate {
		return "certificate " + cred.source + " (thumbprint " + cred.cert.Thumbprint() + ", expires " + cred.cert.NotAfter().UTC().Format(time.DateOnly) + ")"
	}
	return "secret " + cred.source
}
