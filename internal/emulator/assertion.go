package emulator

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// jwtBearer is the client_assertion_type of a JWT client assertion (RFC 7523).
const jwtBearer = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// RegisterCertificate adds cert to the app's certificates, as an admin
// uploading it under Certificates & secrets would. Entra refuses it after
// its NotAfter ("The key used is expired").
func (e *Emulator) RegisterCertificate(cert *x509.Certificate) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.certs = append(e.certs, cert)
}

// RegisterCertificatePEM registers every certificate in the PEM text b.
func (e *Emulator) RegisterCertificatePEM(b []byte) error {
	n := 0
	for {
		var block *pem.Block
		block, b = pem.Decode(b)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return fmt.Errorf("emulator: certificate: %w", err)
		}
		e.RegisterCertificate(cert)
		n++
	}
	if n == 0 {
		return errors.New("emulator: no PEM certificate found")
	}
	return nil
}

// RegisterCertificateFile registers the PEM certificates of a file
// (emulate-defender --client-cert FILE).
func (e *Emulator) RegisterCertificateFile(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("emulator: %w", err)
	}
	return e.RegisterCertificatePEM(b)
}

// assertionHeader is the part of a client assertion's JOSE header Entra reads.
type assertionHeader struct {
	Alg     string `json:"alg"`
	X5t     string `json:"x5t"`
	X5tS256 string `json:"x5t#S256"`
}

// assertionClaims are the claims Entra checks (RFC 7523 §3).
type assertionClaims struct {
	Aud string `json:"aud"`
	Iss string `json:"iss"`
	Sub string `json:"sub"`
	JTI string `json:"jti"`
	Nbf int64  `json:"nbf"`
	Exp int64  `json:"exp"`
}

// certDocs is where Entra's assertion errors send the reader.
const certDocs = "Review the documentation at https://docs.microsoft.com/en-us/azure/active-directory/develop/active-directory-certificate-credentials ."

// checkAssertion verifies a certificate credential the way Entra does:
// the assertion's shape, the registered certificate it names, its
// signature and that certificate's validity, then audience, issuer and time.
func (e *Emulator) checkAssertion(r *http.Request, form url.Values, clientID string, now time.Time) *aadError {
	if t := form.Get("client_assertion_type"); t != jwtBearer {
		return aadErr(400, "invalid_request", 900144, "The request body must contain the following parameter: 'client_assertion_type'.")
	}
	parts := strings.Split(form.Get("client_assertion"), ".")
	var head assertionHeader
	var claims assertionClaims
	if len(parts) != 3 || decodeSegment(parts[0], &head) != nil || decodeSegment(parts[1], &claims) != nil {
		return aadErr(400, "invalid_request", 50027, "JWT token is invalid or malformed.")
	}
	if head.X5t == "" && head.X5tS256 == "" {
		return aadErr(401, "invalid_client", 50027, "Invalid JWT token. No certificate thumbprint specified in token header.")
	}
	cert, used := e.certFor(head)
	if cert == nil {
		return aadErr(401, "invalid_client", 700027, "The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found., Thumbprint of key used by client: '%s', Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '%s'. Review the documentation at https://docs.microsoft.com/en-us/graph/deployments if you're not using a global cloud.]", used, clientID)
	}
	found := fmt.Sprintf("Found key 'Start=%s, End=%s'", cert.NotBefore.UTC().Format("01/02/2006 15:04:05"), cert.NotAfter.UTC().Format("01/02/2006 15:04:05"))
	if !validSignature(cert, head.Alg, parts) {
		return aadErr(401, "invalid_client", 700027, "Client assertion failed signature validation. [Reason - The provided signature value did not match the expected signature value., Thumbprint of key used by client: '%s', %s]", used, found)
	}
	if now.After(cert.NotAfter) || now.Before(cert.NotBefore) {
		return aadErr(401, "invalid_client", 700027, "Client assertion failed signature validation. [Reason - The key used is expired., Thumbprint of key used by client: '%s', %s]", used, found)
	}
	if !strings.EqualFold(strings.TrimSuffix(claims.Aud, "/"), tokenURL(r)) {
		return aadErr(401, "invalid_client", 50012, "Client assertion audience claim does not match Realm issuer. %s", certDocs)
	}
	if !strings.EqualFold(claims.Iss, clientID) || !strings.EqualFold(claims.Sub, clientID) {
		return aadErr(401, "invalid_client", 50048, "Subject mismatches Issuer claim in the client assertion.")
	}
	const skew = 5 * time.Minute
	if claims.Exp == 0 || now.Add(-skew).Unix() > claims.Exp || now.Add(skew).Unix() < claims.Nbf {
		return aadErr(401, "invalid_client", 700024, "Client assertion is not within its valid time range. Current time: %s, assertion valid from %s, expiry time of assertion %s. %s",
			now.UTC().Format("2006-01-02T15:04:05.0000000Z"), time.Unix(claims.Nbf, 0).UTC().Format("2006-01-02T15:04:05.0000000Z"),
			time.Unix(claims.Exp, 0).UTC().Format("2006-01-02T15:04:05.0000000Z"), certDocs)
	}
	return nil
}

// certFor finds the registered certificate the header names, and the
// thumbprint the error messages quote (SHA-1 hex, as Entra shows it).
func (e *Emulator) certFor(h assertionHeader) (*x509.Certificate, string) {
	s256, _ := base64.RawURLEncoding.DecodeString(strings.TrimRight(h.X5tS256, "="))
	s1, _ := base64.RawURLEncoding.DecodeString(strings.TrimRight(h.X5t, "="))
	e.mu.Lock()
	certs := e.certs
	e.mu.Unlock()
	for _, c := range certs {
		a, b := sha256.Sum256(c.Raw), sha1.Sum(c.Raw)
		if (len(s256) > 0 && bytes.Equal(a[:], s256)) || (len(s1) > 0 && bytes.Equal(b[:], s1)) {
			return c, strings.ToUpper(hex.EncodeToString(b[:]))
		}
	}
	if len(s1) > 0 {
		return nil, strings.ToUpper(hex.EncodeToString(s1))
	}
	return nil, strings.ToUpper(hex.EncodeToString(s256))
}

// validSignature checks an RS256 or PS256 signature over the first two
// segments with cert's RSA key.
func validSignature(cert *x509.Certificate, alg string, parts []string) bool {
	pub, ok := cert.PublicKey.(*rsa.PublicKey)
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if !ok || err != nil {
		return false
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	switch alg {
	case "RS256":
		return rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig) == nil
	case "PS256":
		return rsa.VerifyPSS(pub, crypto.SHA256, sum[:], sig, nil) == nil
	}
	return false
}

func decodeSegment(s string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// tokenURL is the address the request was sent to, which an assertion's
// aud must name.
func tokenURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + r.URL.Path
}
