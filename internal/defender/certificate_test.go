package defender_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"postern/internal/defender"
)

func pemOf(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func TestParseCertificate(t *testing.T) {
	now := time.Now()
	a, b := newCert(t, now), newCert(t, now)
	certA, keyA, keyB := []byte(a.CertificatePEM()), a.PrivateKeyPEM(), b.PrivateKeyPEM()
	rsaA, _ := x509.ParsePKCS8PrivateKey(pemBlock(t, keyA))
	pkcs1 := pemOf("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsaA.(*rsa.PrivateKey)))
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecDER, _ := x509.MarshalPKCS8PrivateKey(ec)
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	smallDER, _ := x509.MarshalPKCS8PrivateKey(small)
	tests := []struct {
		name      string
		cert, key []byte
		at        time.Time
		want      error
	}{
		{"generated pair", certA, keyA, now, nil},
		{"PKCS#1 key", certA, pkcs1, now, nil},
		{"both in one paste", append(append([]byte{}, certA...), keyA...), append(append([]byte{}, certA...), keyA...), now, nil},
		{"not PEM", []byte("MIIC..."), keyA, now, defender.ErrCertificatePEM},
		{"key pasted as certificate", keyA, keyA, now, defender.ErrCertificatePEM},
		{"no key", certA, []byte(""), now, defender.ErrKeyPEM},
		{"key of another certificate", certA, keyB, now, defender.ErrKeyMismatch},
		{"encrypted key", certA, pemOf("ENCRYPTED PRIVATE KEY", []byte{1, 2, 3}), now, defender.ErrKeyEncrypted},
		{"EC key", certA, pemOf("PRIVATE KEY", ecDER), now, defender.ErrKeyNotRSA},
		{"1024-bit key", certA, pemOf("PRIVATE KEY", smallDER), now, defender.ErrKeyTooSmall},
		{"expired", certA, keyA, now.Add(3 * 365 * 24 * time.Hour), defender.ErrCertificateExpired},
		{"not yet valid", certA, keyA, now.Add(-time.Hour), defender.ErrCertificateFuture},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := defender.ParseCertificate(tt.cert, tt.key, tt.at)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if err == nil && c.Thumbprint() != a.Thumbprint() {
				t.Errorf("thumbprint %s, want %s", c.Thumbprint(), a.Thumbprint())
			}
		})
	}
}

func pemBlock(t *testing.T, b []byte) []byte {
	t.Helper()
	block, _ := pem.Decode(b)
	if block == nil {
		t.Fatal("no PEM block")
	}
	return block.Bytes
}

// No formatting path shows the private key.
func TestCertificateNeverPrintsKey(t *testing.T) {
	c := newCert(t, time.Now())
	key := string(pemBlock(t, c.PrivateKeyPEM()))
	keyB64 := strings.Join(strings.Split(string(c.PrivateKeyPEM()), "\n")[1:3], "")
	for _, s := range []string{fmt.Sprint(c), fmt.Sprintf("%v %+v %#v %s %x %q", c, c, c, c, c, c),
		fmt.Sprintf("%+v", struct{ C *defender.Certificate }{c})} {
		if strings.Contains(s, key) || strings.Contains(s, keyB64) || strings.Contains(s, "PRIVATE") {
			t.Errorf("formatted certificate shows the key: %.80s", s)
		}
		if !strings.Contains(s, c.Thumbprint()) {
			t.Errorf("formatted certificate %q does not name its thumbprint", s)
		}
	}
	if time.Until(c.NotAfter()) < 700*24*time.Hour {
		t.Errorf("generated certificate ends %s, want about two years ahead", c.NotAfter())
	}
	if _, err := defender.GenerateCertificate(1024, "x", time.Now()); err == nil {
		t.Error("GenerateCertificate(1024) succeeded, want refused")
	}
}
