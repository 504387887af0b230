package integration

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"postern/internal/actor"
	"postern/internal/apperr"
	"postern/internal/audit"
	"postern/internal/defender"
	"postern/internal/model"
)

// Certificate is what the console may show of a certificate: the public
// part only.
type Certificate struct {
	PEM        string // the public certificate, to upload in Entra
	Thumbprint string // SHA-1, as the Entra admin center lists it
	NotAfter   time.Time
	Subject    string
}

func publicCertificate(certPEM string) *Certificate {
	c, err := defender.ParsePublicCertificate([]byte(certPEM))
	if err != nil {
		return nil
	}
	return &Certificate{PEM: certPEM, Thumbprint: defender.Thumbprint(c), NotAfter: c.NotAfter, Subject: c.Subject.CommonName}
}

// certificateSubject names generated certificates, so that an admin
// recognises them among the app's credentials in Entra.
const certificateSubject = "Postern Microsoft Defender integration"

// GenerateCertificate makes an RSA key pair of bits and a self-signed
// certificate and keeps them as the pending certificate: the admin uploads
// the certificate in Entra and then saves with it, so the credential in
// use keeps working until the new one is validated. It replaces an earlier
// pending certificate. The key is sealed and never shown.
func (s *Service) GenerateCertificate(ctx context.Context, bits int) (*Certificate, error) {
	by, err := actor.Admin(ctx)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(defender.CertificateBits, bits) {
		return nil, Problems{FieldKeySize: "Choose a key size of 2048 or 3072 bits."}
	}
	now := s.store.Now()
	c, err := defender.GenerateCertificate(bits, certificateSubject, now)
	if err != nil {
		return nil, err
	}
	sealed, err := s.keyring.Load().Seal(c.PrivateKeyPEM(), pendingKeyLocation(Name))
	if err != nil {
		return nil, fmt.Errorf("integration: seal private key: %w", err)
	}
	p := model.PendingCertificate{Name: Name, Certificate: c.CertificatePEM(), PrivateKey: sealed, CreatedBy: by.Email, CreatedAt: now}
	e := audit.As(by, audit.CertificateGenerated, "Microsoft Defender")
	e.Detail = fmt.Sprintf("RSA %d, thumbprint %s, valid until %s; not in use until saved", bits, c.Thumbprint(), c.NotAfter().UTC().Format(time.DateOnly))
	if err := s.store.SavePendingCertificate(ctx, p, e); err != nil {
		return nil, err
	}
	return publicCertificate(p.Certificate), nil
}

// FieldKeySize is the Generate button's key size.
const FieldKeySize = "key_bits"

// PendingCertificate is the generated certificate waiting to be saved, or nil.
func (s *Service) PendingCertificate(ctx context.Context) (*Certificate, error) {
	p, err := s.store.PendingCertificate(ctx, Name)
	if apperr.Is(err, apperr.NotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return publicCertificate(p.Certificate), nil
}

// credentialChanges reports whether Save with in would change the stored
// credential beyond its secret: another kind, a pasted certificate, or a
// generated one waiting.
func (s *Service) credentialChanges(ctx context.Context, in Input, cur model.Integration) bool {
	if in.Credential != kindOf(cur) {
		return true
	}
	if in.Credential != CredentialCertificate {
		return false
	}
	if strings.TrimSpace(in.CertificatePEM) != "" || in.PrivateKeyPEM != "" {
		return true
	}
	_, err := s.store.PendingCertificate(ctx, Name)
	return !apperr.Is(err, apperr.NotFound)
}
