// Package clientcerttest makes a test CA and device certificates, and
// forwards them as each reverse proxy does, for the tests of
// internal/clientcert and forward-auth.
package clientcerttest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"net/url"
	"strings"
	"testing"
	"time"
)

// CA is a test certificate authority.
type CA struct {
	Cert *x509.Certificate
	key  *ecdsa.PrivateKey
	Pool *x509.CertPool
}

// Device describes a device certificate: URI SAN values (written as they
// are, commas and all), DNS names, subject CN.
type Device struct {
	URIs []string
	DNS  []string
	CN   string
	// ServerAuthOnly issues it for server authentication only.
	ServerAuthOnly bool
}

var serial int64 = 100

// NewCA makes a CA valid around now.
func NewCA(t testing.TB, name string, now time.Time) *CA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial++
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &CA{Cert: cert, key: key, Pool: pool}
}

// Issue makes a client-authentication certificate for d and returns its DER.
func (ca *CA) Issue(t testing.TB, d Device) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial++
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: d.CN},
		NotBefore: ca.Cert.NotBefore, NotAfter: ca.Cert.NotAfter, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	if d.ServerAuthOnly {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	}
	// The SAN extension is written by hand: crypto/x509 would refuse a URI
	// SAN such as "guid,urn:x" that Intune writes.
	var names []asn1.RawValue
	for _, u := range d.URIs {
		names = append(names, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 6, Bytes: []byte(u)})
	}
	for _, n := range d.DNS {
		names = append(names, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 2, Bytes: []byte(n)})
	}
	if len(names) > 0 {
		val, err := asn1.Marshal(names)
		if err != nil {
			t.Fatal(err)
		}
		tmpl.ExtraExtensions = []pkix.Extension{{Id: asn1.ObjectIdentifier{2, 5, 29, 17}, Value: val}}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// PEM encodes der.
func PEM(der []byte) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

// Nginx is $ssl_client_escaped_cert: URL-escaped PEM.
func Nginx(der []byte) string { return escape(PEM(der)) }

// escape percent-encodes all but unreserved characters, as nginx and
// Envoy do (a space is %20).
func escape(s string) string { return strings.ReplaceAll(url.QueryEscape(s), "+", "%20") }

// Envoy is an XFCC value with the certificate as Cert (URL-escaped PEM).
func Envoy(der []byte) string {
	return `By=spiffe://example.com/gw;Hash=abc;Cert="` + escape(PEM(der)) + `";Subject="CN=x";URI=`
}

// Base64 is Caddy's certificate_der_base64 and Traefik's base64 DER.
func Base64(der []byte) string { return base64.StdEncoding.EncodeToString(der) }

// TraefikV2 is the PEM body without its delimiters, URL-escaped, and a
// chain comma-separated.
func TraefikV2(chain ...[]byte) string {
	var parts []string
	for _, der := range chain {
		body := PEM(der)
		body = strings.TrimPrefix(body, "-----BEGIN CERTIFICATE-----\n")
		body = strings.TrimSuffix(body, "-----END CERTIFICATE-----\n")
		parts = append(parts, escape(strings.ReplaceAll(body, "\n", "")))
	}
	return strings.Join(parts, ",")
}
