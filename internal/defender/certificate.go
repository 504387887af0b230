package defender

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"log/slog"
	"math/big"
	"strings"
	"time"
)

// Certificate is an app credential without a secret: a certificate the
// admin registered on the app in Entra ID and its RSA private key, which
// signs the client assertion of each token request (RFC 7523). Its fields
// are unexported and every formatting path prints only the thumbprint, so
// the key cannot reach a log or a template by accident.
type Certificate struct {
	cert *x509.Certificate
	key  *rsa.PrivateKey
}

// Certificate key sizes Postern generates; Entra ID accepts RSA 2048 and up.
const (
	MinCertificateBits     = 2048
	DefaultCertificateBits = 2048
)

// CertificateBits are the sizes offered by Generate.
var CertificateBits = []int{2048, 3072}

// generatedLifetime is how long a generated certificate is valid: Entra's
// own portal suggests up to two years for a credential, and Postern warns
// 30 days before the end.
const generatedLifetime = 2 * 365 * 24 * time.Hour

// GenerateCertificate makes an RSA key pair of bits and a self-signed
// certificate for it, valid from now for two years, named after the app.
func GenerateCertificate(bits int, subject string, now time.Time) (*Certificate, error) {
	if bits < MinCertificateBits {
		return nil, fmt.Errorf("defender: certificate key of %d bits: at least %d", bits, MinCertificateBits)
	}
	key, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		return nil, fmt.Errorf("defender: generate key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("defender: certificate serial: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: subject},
		NotBefore:             now.Add(-5 * time.Minute).UTC(),
		NotAfter:              now.Add(generatedLifetime).UTC(),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("defender: create certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("defender: parse generated certificate: %w", err)
	}
	return &Certificate{cert: cert, key: key}, nil
}

// CertificateProblem is what is wrong with pasted certificate material, as
// a sentence an admin can act on.
type CertificateProblem string

func (p CertificateProblem) Error() string { return string(p) }

// Problems with pasted certificate material; none quotes the key.
const (
	ErrCertificatePEM     = CertificateProblem("Paste the certificate in PEM form: the text from -----BEGIN CERTIFICATE----- to -----END CERTIFICATE-----.")
	ErrKeyPEM             = CertificateProblem("Paste the private key in PEM form: the text from -----BEGIN PRIVATE KEY----- (or BEGIN RSA PRIVATE KEY) to its END line.")
	ErrKeyEncrypted       = CertificateProblem("This private key is protected by a passphrase, which Postern cannot use. Export it without one, for example: openssl pkey -in key.pem -out plain.pem")
	ErrKeyNotRSA          = CertificateProblem("Microsoft Entra ID signs in apps with RSA certificates only. Use an RSA key of at least 2,048 bits, or let Postern generate one.")
	ErrKeyTooSmall        = CertificateProblem("This RSA key is shorter than 2,048 bits, which Microsoft refuses. Use a longer key, or let Postern generate one.")
	ErrKeyMismatch        = CertificateProblem("This private key does not belong to this certificate. Paste the key that was created with the certificate.")
	ErrCertificateExpired = CertificateProblem("This certificate has expired. Generate a new one, or paste a current certificate and its key.")
	ErrCertificateFuture  = CertificateProblem("This certificate is not valid yet (its start date is in the future). Check this server's clock or use another certificate.")
)

// ParseCertificate reads a PEM certificate and its PEM private key (PKCS#8
// or PKCS#1), checks that they belong together and that the certificate is
// valid at now. Errors are the Err… sentences above; none quotes the key.
func ParseCertificate(certPEM, keyPEM []byte, now time.Time) (*Certificate, error) {
	cert, err := parseCertPEM(certPEM)
	if err != nil {
		return nil, err
	}
	key, err := parseKeyPEM(keyPEM)
	if err != nil {
		return nil, err
	}
	pub, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok {
		return nil, ErrKeyNotRSA
	}
	if !pub.Equal(&key.PublicKey) {
		return nil, ErrKeyMismatch
	}
	switch {
	case now.After(cert.NotAfter):
		return nil, ErrCertificateExpired
	case now.Before(cert.NotBefore):
		return nil, ErrCertificateFuture
	}
	return &Certificate{cert: cert, key: key}, nil
}

// ParsePublicCertificate reads a PEM certificate alone, as stored for
// display and registered in the emulator.
func ParsePublicCertificate(certPEM []byte) (*x509.Certificate, error) { return parseCertPEM(certPEM) }

func parseCertPEM(b []byte) (*x509.Certificate, error) {
	for rest := b; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil, ErrCertificatePEM
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, ErrCertificatePEM
		}
		return cert, nil
	}
}

func parseKeyPEM(b []byte) (*rsa.PrivateKey, error) {
	for rest := b; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			if strings.Contains(string(b), "ENCRYPTED") {
				return nil, ErrKeyEncrypted
			}
			return nil, ErrKeyPEM
		}
		switch block.Type {
		case "ENCRYPTED PRIVATE KEY":
			return nil, ErrKeyEncrypted
		case "RSA PRIVATE KEY":
			if block.Headers["Proc-Type"] != "" {
				return nil, ErrKeyEncrypted
			}
			key, err := x509.ParsePKCS1PrivateKey(block.Bytes)
			if err != nil {
				return nil, ErrKeyPEM
			}
			return checkKeySize(key)
		case "PRIVATE KEY":
			k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
			if err != nil {
				return nil, ErrKeyPEM
			}
			key, ok := k.(*rsa.PrivateKey)
			if !ok {
				return nil, ErrKeyNotRSA
			}
			return checkKeySize(key)
		case "EC PRIVATE KEY", "OPENSSH PRIVATE KEY":
			return nil, ErrKeyNotRSA
		}
	}
}

func checkKeySize(key *rsa.PrivateKey) (*rsa.PrivateKey, error) {
	if key.N.BitLen() < MinCertificateBits {
		return nil, ErrKeyTooSmall
	}
	return key, nil
}

// CertificatePEM is the public certificate in PEM form, to upload in Entra.
func (c *Certificate) CertificatePEM() string { return CertPEM(c.cert) }

// CertPEM encodes a certificate in PEM form.
func CertPEM(cert *x509.Certificate) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}))
}

// PrivateKeyPEM is the private key in PKCS#8 PEM form, for sealing. It is
// the one way out of the key; each use is visible in review.
func (c *Certificate) PrivateKeyPEM() []byte {
	der, _ := x509.MarshalPKCS8PrivateKey(c.key) // an RSA key always marshals
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// X509 is the public certificate.
func (c *Certificate) X509() *x509.Certificate { return c.cert }

// NotAfter is when the certificate expires: Microsoft refuses it after.
func (c *Certificate) NotAfter() time.Time { return c.cert.NotAfter }

// Thumbprint is the SHA-1 hex thumbprint the Entra admin center lists
// under Certificates & secrets, so an admin can match the two.
func (c *Certificate) Thumbprint() string { return Thumbprint(c.cert) }

// Thumbprint is the upper-case SHA-1 hex of cert, as Entra shows it.
func Thumbprint(cert *x509.Certificate) string {
	sum := sha1.Sum(cert.Raw)
	return strings.ToUpper(hex.EncodeToString(sum[:]))
}

// ThumbprintS256 is the SHA-256 of the certificate's DER bytes, the
// x5t#S256 header of a client assertion.
func ThumbprintS256(cert *x509.Certificate) []byte {
	sum := sha256.Sum256(cert.Raw)
	return sum[:]
}

// String shows the thumbprint only.
func (c *Certificate) String() string { return "certificate " + c.Thumbprint() }

// GoString keeps %#v from printing the key.
func (c *Certificate) GoString() string { return c.String() }

// Format covers every other verb, so no fmt path prints the key.
func (c *Certificate) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(c.String())) }

// LogValue keeps slog handlers from printing the key.
func (c *Certificate) LogValue() slog.Value { return slog.StringValue(c.String()) }
