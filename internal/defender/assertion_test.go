package defender_test

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"postern/internal/defender"
	"postern/internal/emulator"
	"postern/internal/testkit"
)

// newCert generates a 2048-bit certificate valid from now.
func newCert(t *testing.T, now time.Time) *defender.Certificate {
	t.Helper()
	c, err := defender.GenerateCertificate(2048, "Postern test", now)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// certCreds are the emulator's demo app proving itself with cert.
func certCreds(cert *defender.Certificate) defender.Credentials {
	c := creds("")
	c.Certificate = cert
	return c
}

func segment(t *testing.T, s string, v any) {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatalf("segment %q: %v", s, err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("segment %s: %v", b, err)
	}
}

// The token request carries a fresh RS256 assertion per request: x5t#S256
// of the certificate, aud the token endpoint, iss = sub = client id, a
// unique jti, five minutes of validity; and no client_secret at all.
func TestAssertionShape(t *testing.T) {
	var mu sync.Mutex
	var forms []url.Values
	var tokenURL string
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		mu.Lock()
		forms = append(forms, r.PostForm)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		// Expires at once, so the second Token call fetches again.
		w.Write([]byte(`{"token_type":"Bearer","expires_in":1,"access_token":"x"}`))
	}))
	defer hs.Close()
	tokenURL = hs.URL + "/" + emulator.DemoTenantID + "/oauth2/v2.0/token"
	now := time.Now()
	cert := newCert(t, now)
	c := newClient(t, certCreds(cert), hs.URL, nil)
	for range 2 {
		if _, err := c.Token(); err != nil {
			t.Fatalf("Token: %v", err)
		}
		time.Sleep(1100 * time.Millisecond)
	}
	if len(forms) != 2 {
		t.Fatalf("%d token requests, want 2", len(forms))
	}
	jtis := map[string]bool{}
	for _, f := range forms {
		if f.Has("client_secret") {
			t.Errorf("the request sends client_secret %q", f.Get("client_secret"))
		}
		if got := f.Get("client_assertion_type"); got != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" {
			t.Errorf("client_assertion_type = %q", got)
		}
		if f.Get("client_id") != emulator.DemoClientID || f.Get("grant_type") != "client_credentials" {
			t.Errorf("client_id %q, grant_type %q", f.Get("client_id"), f.Get("grant_type"))
		}
		parts := strings.Split(f.Get("client_assertion"), ".")
		if len(parts) != 3 {
			t.Fatalf("assertion has %d parts", len(parts))
		}
		var head map[string]string
		var claims defender.AssertionClaims
		segment(t, parts[0], &head)
		segment(t, parts[1], &claims)
		want := base64.RawURLEncoding.EncodeToString(defender.ThumbprintS256(cert.X509()))
		if head["alg"] != "RS256" || head["typ"] != "JWT" || head["x5t#S256"] != want {
			t.Errorf("header = %v, want alg RS256, typ JWT, x5t#S256 %s", head, want)
		}
		if x5t, _ := base64.RawURLEncoding.DecodeString(head["x5t"]); strings.ToUpper(hex.EncodeToString(x5t)) != cert.Thumbprint() {
			t.Errorf("x5t = %q, want the SHA-1 thumbprint %s", head["x5t"], cert.Thumbprint())
		}
		if claims.Aud != tokenURL || claims.Iss != emulator.DemoClientID || claims.Sub != emulator.DemoClientID {
			t.Errorf("aud %q iss %q sub %q; want aud %q and iss = sub = the client id", claims.Aud, claims.Iss, claims.Sub, tokenURL)
		}
		if life := claims.Exp - claims.Nbf; life <= 0 || life > 600 {
			t.Errorf("assertion valid for %d s, want a few minutes", life)
		}
		if claims.Nbf > time.Now().Unix() || claims.Exp < time.Now().Unix() {
			t.Errorf("nbf %d exp %d do not cover now", claims.Nbf, claims.Exp)
		}
		if claims.JTI == "" || jtis[claims.JTI] {
			t.Errorf("jti %q empty or reused", claims.JTI)
		}
		jtis[claims.JTI] = true
		sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
		sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
		if err := rsa.VerifyPKCS1v15(cert.X509().PublicKey.(*rsa.PublicKey), crypto.SHA256, sum[:], sig); err != nil {
			t.Errorf("signature does not verify with the certificate: %v", err)
		}
	}
}

// A registered certificate signs in and reads the machines, through the
// real client and the emulator's verification.
func TestValidateWithCertificate(t *testing.T) {
	cert := newCert(t, time.Now())
	emu := emulator.New(emulator.Config{Machines: 3, ClientCertificates: []*x509.Certificate{cert.X509()}})
	if err := newClient(t, certCreds(cert), startEmulator(t, emu), nil).Validate(context.Background()); err != nil {
		t.Fatalf("Validate = %v, want nil", err)
	}
	if st := emu.Stats(); st.TokensIssued != 1 {
		t.Errorf("%d tokens issued, want 1", st.TokensIssued)
	}
}

// Each way Entra refuses an assertion maps to its own message.
func TestValidateCertificateRefusals(t *testing.T) {
	now := time.Now()
	registered := newCert(t, now)
	other := newCert(t, now)
	tests := []struct {
		name   string
		cert   *defender.Certificate
		clock  time.Duration // the emulator's clock ahead of ours
		reason defender.Reason
		field  string
		code   string
	}{
		{"not uploaded to the app", other, 0, defender.CertificateRefused, defender.FieldCertificate, "AADSTS700027"},
		{"expired in Entra", registered, 3 * 365 * 24 * time.Hour, defender.CertificateRefused, defender.FieldCertificate, "AADSTS700027"},
		{"server clock behind", registered, time.Hour, defender.AssertionRejected, "", "AADSTS700024"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := testkit.NewClock(now.Add(tt.clock))
			emu := emulator.New(emulator.Config{Machines: 3, Now: clk.Now, ClientCertificates: []*x509.Certificate{registered.X509()}})
			err := newClient(t, certCreds(tt.cert), startEmulator(t, emu), nil).Validate(context.Background())
			var de *defender.Error
			if !errors.As(err, &de) {
				t.Fatalf("Validate = %v, want a *defender.Error", err)
			}
			if de.Reason != tt.reason || de.Field != tt.field || de.Code != tt.code || de.Help != defender.HelpCertificate {
				t.Errorf("got reason %s field %q code %s help %s; want %s %q %s %s", de.Reason, de.Field, de.Code, de.Help,
					tt.reason, tt.field, tt.code, defender.HelpCertificate)
			}
		})
	}
}

// The emulator checks each part of an assertion as Entra does.
func TestEmulatorVerifiesAssertion(t *testing.T) {
	now := time.Now()
	cert := newCert(t, now)
	emu := emulator.New(emulator.Config{Machines: 1, ClientCertificates: []*x509.Certificate{cert.X509()}})
	base := startEmulator(t, emu)
	tokenURL := base + "/" + emulator.DemoTenantID + "/oauth2/v2.0/token"
	sign := func(aud, iss string) string {
		a, err := cert.Assertion(iss, aud, now)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	good := sign(tokenURL, emulator.DemoClientID)
	parts := strings.Split(good, ".")
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"aud":"`+tokenURL+`","iss":"x","sub":"x","exp":9999999999}`)) + "." + parts[2]
	noThumb := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"RS256"}`)) + "." + parts[1] + "." + parts[2]
	tests := []struct {
		name, assertion string
		status, code    int
	}{
		{"valid", good, 200, 0},
		{"wrong audience", sign("https://login.microsoftonline.com/other/oauth2/v2.0/token", emulator.DemoClientID), 401, 50012},
		{"issuer is another app", sign(tokenURL, "d3e40000-c11e-4e70-8000-00000000ffff"), 401, 50048},
		{"signature over other claims", tampered, 401, 700027},
		{"no thumbprint", noThumb, 401, 50027},
		{"not a JWT", "abc", 400, 50027},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			form := url.Values{"grant_type": {"client_credentials"}, "client_id": {emulator.DemoClientID},
				"scope":                 {"https://api.securitycenter.microsoft.com/.default"},
				"client_assertion_type": {defender.ClientAssertionType}, "client_assertion": {tt.assertion}}
			res, err := http.PostForm(tokenURL, form)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			var body struct {
				ErrorCodes []int `json:"error_codes"`
			}
			json.NewDecoder(res.Body).Decode(&body)
			code := 0
			if len(body.ErrorCodes) > 0 {
				code = body.ErrorCodes[0]
			}
			if res.StatusCode != tt.status || code != tt.code {
				t.Errorf("status %d code %d, want %d %d", res.StatusCode, code, tt.status, tt.code)
			}
		})
	}
}
