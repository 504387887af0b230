// Package clientcert reads a device's identity from the client certificate
// a reverse proxy forwards to forward-auth (docs/api.md#client-certificates):
// nginx's $ssl_client_escaped_cert (URL-escaped PEM), Envoy's
// x-forwarded-client-cert (XFCC, Cert="…"), Traefik's
// X-Forwarded-Tls-Client-Cert (base64 DER, or the PEM body without its
// delimiters, URL-escaped in Traefik v2, a chain comma-separated) and
// Caddy's certificate_der_base64 placeholder.
//
// The certificate's fields are read with a tolerant parser of our own:
// Intune may join several URI SANs with commas in one value, which Go's
// crypto/x509 refuses to parse. crypto/x509 is used only to verify the
// chain when a CA bundle is configured.
package clientcert

import (
	"bytes"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// The request headers a forwarded certificate arrives in.
const (
	HeaderXFCC = "X-Forwarded-Client-Cert"     // Envoy
	HeaderTLS  = "X-Forwarded-Tls-Client-Cert" // nginx, Traefik, Caddy (as deploy/ sets them)
)

// maxHeader bounds the forwarded value read (a chain of a few certificates).
const maxHeader = 32 << 10

// Config says how the identity is read from a certificate.
type Config struct {
	// URIPrefixes are prefixes a URI SAN may carry before the Entra device
	// id (matched case-insensitively), besides a bare GUID.
	URIPrefixes []string
	// SubjectCN also takes the Entra device id from the subject common
	// name, as on Entra's own device certificates.
	SubjectCN bool
	// Roots, when set, is the CA bundle the certificate must chain to.
	Roots *x509.CertPool
	// Now is the verification time (time.Now when nil).
	Now func() time.Time
}

// Identity is what a certificate says about its device.
type Identity struct {
	EntraDeviceID string // lower case GUID, "" when none
	Hostname      string // the first DNS SAN, "" when none
}

// ErrNone means the request carries no forwarded certificate.
var ErrNone = errors.New("no client certificate")

// FromRequest reads the forwarded certificate from h and the identity
// from it. ErrNone when no certificate header is set (or set empty);
// another error says, in words fit for X-Postern-Reason, what was wrong.
func FromRequest(h http.Header, cfg *Config) (Identity, error) {
	der, err := Forwarded(h)
	if err != nil {
		return Identity{}, err
	}
	return cfg.Read(der)
}

// Forwarded returns the leaf certificate's DER from the headers the
// proxies use, XFCC first.
func Forwarded(h http.Header) ([]byte, error) {
	for _, name := range [...]string{HeaderXFCC, HeaderTLS} {
		vs := h.Values(name)
		if len(vs) == 0 || len(vs) == 1 && strings.TrimSpace(vs[0]) == "" {
			continue
		}
		if len(vs) > 1 {
			return nil, fmt.Errorf("%s appears more than once", name)
		}
		v := strings.TrimSpace(vs[0])
		if len(v) > maxHeader {
			return nil, fmt.Errorf("%s is longer than %d KiB", name, maxHeader>>10)
		}
		var der []byte
		var err error
		if name == HeaderXFCC {
			der, err = parseXFCC(v)
		} else {
			der, err = parseTLSHeader(v)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		return der, nil
	}
	return nil, ErrNone
}

// parseTLSHeader reads URL-escaped PEM (nginx), base64 DER (Caddy,
// Traefik) or a PEM body without delimiters, URL-escaped (Traefik v2);
// of a chain, the first certificate (the client's).
func parseTLSHeader(v string) ([]byte, error) {
	if strings.Contains(v, "%") {
		u, err := url.PathUnescape(v)
		if err != nil {
			return nil, errors.New("the value is not valid URL escaping")
		}
		v = u
	}
	if strings.Contains(v, "-----BEGIN") {
		return firstPEM(v)
	}
	first, _, _ := strings.Cut(v, ",")
	return decodeBase64(first)
}

// firstPEM returns the first CERTIFICATE block's bytes.
func firstPEM(v string) ([]byte, error) {
	// A form-style escaper writes the delimiters' spaces as "+".
	v = strings.NewReplacer("-----BEGIN+", "-----BEGIN ", "-----END+", "-----END ").Replace(v)
	rest := []byte(v)
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			return nil, errors.New("the PEM holds no CERTIFICATE block")
		}
		if b.Type == "CERTIFICATE" {
			return b.Bytes, nil
		}
	}
}

// decodeBase64 decodes base64 with or without padding, ignoring line
// breaks and spaces.
func decodeBase64(s string) ([]byte, error) {
	s = strings.Map(func(r rune) rune {
		if r == ' ' || r == '\t' || r == '\r' || r == '\n' {
			return -1
		}
		return r
	}, s)
	if s == "" {
		return nil, errors.New("the value is empty")
	}
	der, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		der, err = base64.RawStdEncoding.DecodeString(strings.TrimRight(s, "="))
	}
	if err != nil {
		return nil, errors.New("the value is neither PEM nor base64 DER")
	}
	return der, nil
}

// parseXFCC reads Envoy's header: elements separated by commas, each
// key=value pairs separated by semicolons, values optionally quoted; the
// certificate is Cert (URL-escaped PEM). The first element with a Cert is
// the client's: the proxy that terminated the client's TLS added it.
func parseXFCC(v string) ([]byte, error) {
	for _, elem := range splitQuoted(v, ',') {
		for _, pair := range splitQuoted(elem, ';') {
			k, val, ok := strings.Cut(strings.TrimSpace(pair), "=")
			if !ok || !strings.EqualFold(k, "Cert") {
				continue
			}
			val = unquote(val)
			pemText, err := url.PathUnescape(val)
			if err != nil {
				return nil, errors.New("the Cert value is not valid URL escaping")
			}
			return firstPEM(pemText)
		}
	}
	return nil, errors.New(`no element carries Cert="…" (set Envoy's forward_client_cert_details with cert: true)`)
}

// splitQuoted splits s at sep outside double quotes.
func splitQuoted(s string, sep byte) []string {
	var out []string
	quoted, esc, start := false, false, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case esc:
			esc = false
		case c == '\\' && quoted:
			esc = true
		case c == '"':
			quoted = !quoted
		case c == sep && !quoted:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

func unquote(v string) string {
	v = strings.TrimSpace(v)
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		v = strings.ReplaceAll(strings.ReplaceAll(v[1:len(v)-1], `\"`, `"`), `\\`, `\`)
	}
	return v
}

// The parts of a certificate this package reads, decoded with
// encoding/asn1 (RFC 5280 section 4.1).
type certificate struct {
	TBS    tbsCertificate
	SigAlg asn1.RawValue
	Sig    asn1.BitString
}

type tbsCertificate struct {
	Version    int `asn1:"optional,explicit,default:0,tag:0"`
	Serial     *big.Int
	SigAlg     asn1.RawValue
	Issuer     asn1.RawValue
	Validity   asn1.RawValue
	Subject    asn1.RawValue
	PublicKey  asn1.RawValue
	IssuerUID  asn1.BitString   `asn1:"optional,tag:1"`
	SubjectUID asn1.BitString   `asn1:"optional,tag:2"`
	Extensions []pkix.Extension `asn1:"optional,explicit,tag:3"`
}

var (
	oidSAN = asn1.ObjectIdentifier{2, 5, 29, 17}
	oidCN  = asn1.ObjectIdentifier{2, 5, 4, 3}
	guidRE = regexp.MustCompile(`^\{?([0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12})\}?$`)
)

// Read verifies der when a CA bundle is configured and reads its identity.
func (cfg *Config) Read(der []byte) (Identity, error) {
	id, _, err := cfg.read(der)
	return id, err
}

// read is Read that also says until when a verified certificate is valid
// (zero when it was not verified).
func (cfg *Config) read(der []byte) (Identity, time.Time, error) {
	var notAfter time.Time
	id, err := cfg.readAt(der, &notAfter)
	return id, notAfter, err
}

func (cfg *Config) readAt(der []byte, notAfter *time.Time) (Identity, error) {
	var c certificate
	rest, err := asn1.Unmarshal(der, &c)
	if err != nil || len(rest) > 0 {
		return Identity{}, errors.New("the certificate is not valid DER")
	}
	if cfg.Roots != nil {
		until, err := cfg.verify(der)
		if err != nil {
			return Identity{}, err
		}
		*notAfter = until
	}
	var id Identity
	var uris []string
	for _, ext := range c.TBS.Extensions {
		if !ext.Id.Equal(oidSAN) {
			continue
		}
		var names []asn1.RawValue
		if rest, err := asn1.Unmarshal(ext.Value, &names); err != nil || len(rest) > 0 {
			return Identity{}, errors.New("the certificate's subject alternative names are malformed")
		}
		for _, n := range names {
			if n.Class != asn1.ClassContextSpecific {
				continue
			}
			switch n.Tag {
			case 2: // dNSName
				if id.Hostname == "" && len(n.Bytes) <= 255 && printable(n.Bytes) {
					id.Hostname = strings.TrimSuffix(string(n.Bytes), ".")
				}
			case 6: // uniformResourceIdentifier
				uris = append(uris, string(n.Bytes))
			}
		}
	}
	for _, u := range uris {
		if id.EntraDeviceID = cfg.deviceIDFromURI(u); id.EntraDeviceID != "" {
			break
		}
	}
	if id.EntraDeviceID == "" && cfg.SubjectCN {
		var subject pkix.RDNSequence
		if rest, err := asn1.Unmarshal(c.TBS.Subject.FullBytes, &subject); err == nil && len(rest) == 0 {
			for _, rdn := range subject {
				for _, atv := range rdn {
					if s, ok := atv.Value.(string); ok && atv.Type.Equal(oidCN) && id.EntraDeviceID == "" {
						if m := guidRE.FindStringSubmatch(strings.TrimSpace(s)); m != nil {
							id.EntraDeviceID = strings.ToLower(m[1])
						}
					}
				}
			}
		}
	}
	if id.EntraDeviceID == "" && id.Hostname == "" {
		what := "no URI SAN with an Entra device id and no DNS SAN"
		if cfg.SubjectCN {
			what += ", and the subject CN is not a device id"
		}
		return id, errors.New("the client certificate names no device: " + what)
	}
	return id, nil
}

// deviceIDFromURI finds the Entra device id in one URI SAN value, which
// may hold several joined by commas. The on-premises SID tag
// (tag:microsoft.com,2022-09-14:sid:…) and Intune's own id
// (IntuneDeviceId://…), which Defender does not report, are not device ids.
func (cfg *Config) deviceIDFromURI(v string) string {
	parts := strings.Split(v, ",")
	for i := 0; i < len(parts); i++ {
		p := strings.TrimSpace(parts[i])
		low := strings.ToLower(p)
		switch {
		case low == "tag:microsoft.com": // its date and sid follow after the comma
			i++
			continue
		case strings.HasPrefix(low, "tag:"), strings.HasPrefix(low, "intunedeviceid:"):
			continue
		}
		if m := guidRE.FindStringSubmatch(p); m != nil {
			return strings.ToLower(m[1])
		}
		for _, pre := range cfg.URIPrefixes {
			if pre != "" && len(p) > len(pre) && strings.EqualFold(p[:len(pre)], pre) {
				if m := guidRE.FindStringSubmatch(p[len(pre):]); m != nil {
					return strings.ToLower(m[1])
				}
			}
		}
	}
	return ""
}

func printable(b []byte) bool {
	return len(b) > 0 && bytes.IndexFunc(b, func(r rune) bool { return r <= ' ' || r >= 0x7f }) < 0
}
