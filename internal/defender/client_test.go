package defender_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"postern/internal/defender"
	"postern/internal/emulator"
	"postern/internal/secret"
)

// startEmulator serves emu over loopback; the URL is both login and API host.
func startEmulator(t *testing.T, emu *emulator.Emulator) string {
	t.Helper()
	hs := httptest.NewServer(emu)
	t.Cleanup(hs.Close)
	return hs.URL
}

// creds are the emulator's demo app with the given secret.
func creds(sec string) defender.Credentials {
	return defender.Credentials{TenantID: emulator.DemoTenantID, ClientID: emulator.DemoClientID,
		ClientSecret: secret.Redacted(sec), Cloud: defender.Commercial, Region: defender.Global}
}

// newClient points a client for c at base (an emulator or a stand-in).
func newClient(t *testing.T, c defender.Credentials, base string, hc *http.Client) *defender.Client {
	t.Helper()
	ep, err := defender.ResolveEndpoints(c.Cloud, c.Region, base, base)
	if err != nil {
		t.Fatalf("ResolveEndpoints: %v", err)
	}
	return defender.NewClient(c, ep, hc)
}

// sentinel is a distinctive, Entra-shaped secret per test case, so a leak
// can be attributed to the case that caused it.
func sentinel(tag string) string {
	return "Snt8Q~" + tag + ".Zq3vK_w9-Leak.Me.Not~" + fmt.Sprint(len(tag))
}

// assertNoSecret fails if err's text, or a defender.Error's Message, shows sec
// in plain or URL-encoded form.
func assertNoSecret(t *testing.T, err error, sec string) {
	t.Helper()
	if err == nil || sec == "" {
		return
	}
	texts := []string{err.Error(), fmt.Sprintf("%v", err), fmt.Sprintf("%+v", err)}
	var de *defender.Error
	if errors.As(err, &de) {
		texts = append(texts, de.Message, de.Code, de.Help, de.Text(), de.MicrosoftCode, de.MicrosoftMessage, de.SupportID)
		if de.Err != nil {
			texts = append(texts, de.Err.Error())
		}
	}
	for _, s := range texts {
		for _, form := range []string{sec, url.QueryEscape(sec), url.PathEscape(sec)} {
			if strings.Contains(s, form) {
				t.Errorf("error text %q contains the client secret", s)
			}
		}
	}
}

func TestValidateSucceeds(t *testing.T) {
	sec := sentinel("ok")
	emu := emulator.New(emulator.Config{ClientSecret: sec, Machines: 5, Seed: 1})
	base := startEmulator(t, emu)
	if err := newClient(t, creds(sec), base, nil).Validate(context.Background()); err != nil {
		t.Fatalf("Validate = %v, want nil", err)
	}
	st := emu.Stats()
	if st.TokenRequests != 1 || st.TokensIssued != 1 || st.APIRequests != 1 {
		t.Errorf("stats = %d token requests, %d issued, %d API requests; want 1, 1, 1",
			st.TokenRequests, st.TokensIssued, st.APIRequests)
	}
}

func TestValidateDomainTenant(t *testing.T) {
	sec := sentinel("domain")
	base := startEmulator(t, emulator.New(emulator.Config{ClientSecret: sec, Machines: 3}))
	c := creds(sec)
	c.TenantID = emulator.DemoTenantDomain
	if err := newClient(t, c, base, nil).Validate(context.Background()); err != nil {
		t.Fatalf("Validate with tenant %q = %v, want nil", c.TenantID, err)
	}
}

func TestValidateMapsFailures(t *testing.T) {
	tests := []struct {
		name     string
		tenant   string // "" → demo tenant
		client   string // "" → demo client
		send     string // secret the client sends: "right", "wrong" or "empty"
		faults   emulator.Faults
		machines int // 0 → a small fleet

		wantReason defender.Reason
		wantField  string
		wantCode   string // exact, unless codeHas is set
		codeHas    string
	}{
		{name: "unknown tenant GUID", tenant: "3c5a9f1e-8b2d-4e6f-a1c7-0d9e8f7a6b5c", send: "right",
			wantReason: defender.TenantNotFound, wantField: defender.FieldTenantID, wantCode: "AADSTS90002"},
		{name: "unknown tenant domain", tenant: "fabrikam.onmicrosoft.com", send: "right",
			wantReason: defender.TenantNotFound, wantField: defender.FieldTenantID, wantCode: "AADSTS90002"},
		{name: "malformed tenant with space", tenant: "bad tenant", send: "right",
			wantReason: defender.TenantMalformed, wantField: defender.FieldTenantID, wantCode: "AADSTS900023"},
		{name: "malformed tenant underscore", tenant: "bad_tenant", send: "right",
			wantReason: defender.TenantMalformed, wantField: defender.FieldTenantID, wantCode: "AADSTS900023"},
		{name: "unknown client", client: "7d1b6a2e-4c3f-4a8b-9e0d-1f2a3b4c5d6e", send: "right",
			wantReason: defender.AppNotFound, wantField: defender.FieldClientID, wantCode: "AADSTS700016"},
		{name: "wrong secret", send: "wrong",
			wantReason: defender.InvalidSecret, wantField: defender.FieldClientSecret, wantCode: "AADSTS7000215"},
		{name: "expired secret", send: "right", faults: emulator.Faults{ExpiredSecret: true},
			wantReason: defender.SecretExpired, wantField: defender.FieldClientSecret, wantCode: "AADSTS7000222"},
		{name: "empty secret", send: "empty",
			wantReason: defender.SecretMissing, wantField: defender.FieldClientSecret, wantCode: "AADSTS7000218"},
		{name: "defender not provisioned", send: "right", faults: emulator.Faults{DefenderNotProvisioned: true},
			wantReason: defender.DefenderNotProvisioned, wantField: "", wantCode: "AADSTS500011"},
		{name: "no admin consent", send: "right", faults: emulator.Faults{NoConsent: true},
			wantReason: defender.PermissionMissing, wantField: "", codeHas: "403"},
		{name: "wrong role", send: "right", faults: emulator.Faults{Roles: []string{"Alert.Read.All"}},
			wantReason: defender.PermissionMissing, wantField: "", codeHas: "403"},
		{name: "API down", send: "right", faults: emulator.Faults{APIDown: true},
			wantReason: defender.ServiceError, wantField: "", codeHas: "503"},
		{name: "API 500", send: "right", faults: emulator.Faults{Fail5xx: 1},
			wantReason: defender.ServiceError, wantField: "", codeHas: "500"},
		{name: "malformed JSON", send: "right", faults: emulator.Faults{MalformedJSON: true},
			wantReason: defender.BadResponse, wantField: "", codeHas: ""},
		{name: "throttled", send: "right", faults: emulator.Faults{Throttle: 1},
			wantReason: defender.Throttled, wantField: "", codeHas: "429"},
		{name: "API hangs up", send: "right", faults: emulator.Faults{APIHangUp: true},
			wantReason: defender.Unreachable, wantField: "", wantCode: "network"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			right := sentinel(strings.ReplaceAll(tt.name, " ", "-"))
			machines := tt.machines
			if machines == 0 {
				machines = 3
			}
			emu := emulator.New(emulator.Config{ClientSecret: right, Machines: machines, Seed: 7})
			emu.SetFaults(tt.faults)
			base := startEmulator(t, emu)

			c := creds(right)
			if tt.tenant != "" {
				c.TenantID = tt.tenant
			}
			if tt.client != "" {
				c.ClientID = tt.client
			}
			switch tt.send {
			case "wrong":
				c.ClientSecret = secret.Redacted("Wr0ng~" + right)
			case "empty":
				c.ClientSecret = ""
			}

			err := newClient(t, c, base, &http.Client{Timeout: 5 * time.Second}).Validate(context.Background())
			var de *defender.Error
			if !errors.As(err, &de) {
				t.Fatalf("Validate = %v (%T), want *defender.Error", err, err)
			}
			if de.Reason != tt.wantReason || defender.ReasonOf(err) != tt.wantReason {
				t.Errorf("Reason = %q, want %q (error %v)", de.Reason, tt.wantReason, err)
			}
			if de.Field != tt.wantField {
				t.Errorf("Field = %q, want %q", de.Field, tt.wantField)
			}
			switch {
			case tt.wantCode != "" && de.Code != tt.wantCode:
				t.Errorf("Code = %q, want %q", de.Code, tt.wantCode)
			case tt.codeHas != "" && !strings.Contains(de.Code, tt.codeHas):
				t.Errorf("Code = %q, want it to contain %q", de.Code, tt.codeHas)
			}
			if strings.TrimSpace(de.Message) == "" {
				t.Error("Message is empty")
			}
			if de.Code != "" && !strings.Contains(err.Error(), de.Code) {
				t.Errorf("Error() = %q does not name the code %q", err, de.Code)
			}
			assertNoSecret(t, err, right)
			assertNoSecret(t, err, c.ClientSecret.Reveal())
		})
	}
}

// Entra's transient 503 must not be mistaken for a bad secret.
func TestValidateTokenEndpointDown(t *testing.T) {
	sec := sentinel("token-down")
	emu := emulator.New(emulator.Config{ClientSecret: sec, Machines: 3})
	emu.SetFaults(emulator.Faults{TokenDown: true})
	base := startEmulator(t, emu)

	err := newClient(t, creds(sec), base, nil).Validate(context.Background())
	var de *defender.Error
	if !errors.As(err, &de) {
		t.Fatalf("Validate = %v (%T), want *defender.Error", err, err)
	}
	if de.Reason == defender.InvalidSecret || de.Reason == defender.SecretExpired || de.Reason == "" {
		t.Errorf("Reason = %q, want one that does not blame the secret", de.Reason)
	}
	if de.Field == defender.FieldClientSecret {
		t.Errorf("Field = %q: a token-service outage is not the secret's fault", de.Field)
	}
	if strings.TrimSpace(de.Message) == "" {
		t.Error("Message is empty")
	}
	if de.Code != "AADSTS90033" {
		t.Errorf("Code = %q, want AADSTS90033", de.Code)
	}
	assertNoSecret(t, err, sec)
}

func TestValidateEmptyFleet(t *testing.T) {
	for _, tt := range []struct {
		name   string
		faults emulator.Faults
	}{
		{"404 on the empty collection", emulator.Faults{EmptyCollection404: true}},
		{"200 with an empty value", emulator.Faults{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sec := sentinel("empty-fleet")
			emu := emulator.New(emulator.Config{ClientSecret: sec, Machines: -1})
			emu.SetFaults(tt.faults)
			base := startEmulator(t, emu)
			if err := newClient(t, creds(sec), base, nil).Validate(context.Background()); err != nil {
				t.Fatalf("Validate = %v, want nil (no machines is not a credential problem)", err)
			}
			if got := emu.Stats().APIRequests; got != 1 {
				t.Errorf("APIRequests = %d, want 1", got)
			}
		})
	}
}

func TestValidateClosedServerIsUnreachable(t *testing.T) {
	hs := httptest.NewServer(http.NotFoundHandler())
	base := hs.URL
	hs.Close()

	sec := sentinel("closed")
	err := newClient(t, creds(sec), base, &http.Client{Timeout: 5 * time.Second}).Validate(context.Background())
	var de *defender.Error
	if !errors.As(err, &de) {
		t.Fatalf("Validate = %v (%T), want *defender.Error", err, err)
	}
	if de.Reason != defender.Unreachable {
		t.Errorf("Reason = %q, want %q", de.Reason, defender.Unreachable)
	}
	if de.Field != "" {
		t.Errorf("Field = %q, want none", de.Field)
	}
	if !strings.Contains(de.Message, "Could not reach Microsoft") {
		t.Errorf("Message = %q, want the could-not-reach wording", de.Message)
	}
	assertNoSecret(t, err, sec)
}

// hangingServer accepts connections and never answers until the client
// gives up or the test ends.
func hangingServer(t *testing.T) string {
	t.Helper()
	done := make(chan struct{})
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-done:
		}
	}))
	t.Cleanup(hs.Close)
	t.Cleanup(func() { close(done) }) // runs first: unblocks handlers before Close waits for them
	return hs.URL
}

func TestValidateTimeouts(t *testing.T) {
	t.Run("token endpoint never answers", func(t *testing.T) {
		sec := sentinel("hang-token")
		base := hangingServer(t)
		start := time.Now()
		err := newClient(t, creds(sec), base, &http.Client{Timeout: 250 * time.Millisecond}).Validate(context.Background())
		assertTimeout(t, err, start, sec)
	})
	t.Run("API never answers", func(t *testing.T) {
		sec := sentinel("hang-api")
		emu := emulator.New(emulator.Config{ClientSecret: sec, Machines: 3})
		emu.SetFaults(emulator.Faults{SlowPage: 10 * time.Second})
		base := startEmulator(t, emu)
		start := time.Now()
		err := newClient(t, creds(sec), base, &http.Client{Timeout: 250 * time.Millisecond}).Validate(context.Background())
		assertTimeout(t, err, start, sec)
	})
}

func assertTimeout(t *testing.T, err error, start time.Time, sec string) {
	t.Helper()
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("Validate took %v, want it bounded by the 250ms client timeout", took)
	}
	var de *defender.Error
	if !errors.As(err, &de) {
		t.Fatalf("Validate = %v (%T), want *defender.Error", err, err)
	}
	if de.Reason != defender.Unreachable {
		t.Errorf("Reason = %q, want %q", de.Reason, defender.Unreachable)
	}
	if !strings.Contains(de.Message, "did not answer in time") {
		t.Errorf("Message = %q, want the timeout wording (did not answer in time)", de.Message)
	}
	assertNoSecret(t, err, sec)
}

// docs/security.md#item-28: the token source is built once per client and reused.
func TestTokenReusedAcrossValidateCalls(t *testing.T) {
	sec := sentinel("reuse")
	emu := emulator.New(emulator.Config{ClientSecret: sec, Machines: 3})
	base := startEmulator(t, emu)

	c := newClient(t, creds(sec), base, nil)
	for i := range 3 {
		if err := c.Validate(context.Background()); err != nil {
			t.Fatalf("Validate #%d = %v", i+1, err)
		}
	}
	if _, err := c.Token(); err != nil {
		t.Fatalf("Token = %v", err)
	}
	st := emu.Stats()
	if st.TokenRequests != 1 {
		t.Errorf("TokenRequests after 3 Validate calls on one client = %d, want 1", st.TokenRequests)
	}
	if st.APIRequests != 3 {
		t.Errorf("APIRequests = %d, want 3", st.APIRequests)
	}

	other := newClient(t, creds(sec), base, nil)
	if err := other.Validate(context.Background()); err != nil {
		t.Fatalf("second client Validate = %v", err)
	}
	if got := emu.Stats().TokenRequests; got != 2 {
		t.Errorf("TokenRequests after a new client's Validate = %d, want 2 (a client has its own token)", got)
	}
}

// docs/security.md#item-29: a cancelled request context never breaks later calls or
// token refreshes.
func TestCancelledContextDoesNotPoisonTokenSource(t *testing.T) {
	sec := sentinel("cancel")
	emu := emulator.New(emulator.Config{ClientSecret: sec, Machines: 3})
	emu.SetFaults(emulator.Faults{TokenLifetime: time.Second})
	base := startEmulator(t, emu)
	c := newClient(t, creds(sec), base, nil)

	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.Validate(cancelled); err == nil {
		t.Fatal("Validate with a cancelled context = nil, want an error")
	}
	if err := c.Validate(context.Background()); err != nil {
		t.Fatalf("Validate with a fresh context after a cancelled one = %v, want nil", err)
	}

	before := emu.Stats().TokenRequests
	time.Sleep(1500 * time.Millisecond) // past the emulator's 1 s expiry
	if err := c.Validate(context.Background()); err != nil {
		t.Fatalf("Validate after the token expired = %v, want nil (refresh must still work)", err)
	}
	if after := emu.Stats().TokenRequests; after <= before {
		t.Errorf("TokenRequests = %d after expiry, want more than %d (a refresh)", after, before)
	}
}

// A request deadline that ends during the token fetch must not leave the
// client unable to fetch tokens later.
func TestDeadlineDuringSlowTokenFetch(t *testing.T) {
	sec := sentinel("slow-token")
	emu := emulator.New(emulator.Config{ClientSecret: sec, Machines: 3})
	emu.SetFaults(emulator.Faults{TokenDelay: 300 * time.Millisecond, TokenLifetime: time.Second})
	base := startEmulator(t, emu)
	c := newClient(t, creds(sec), base, nil)

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := c.Validate(ctx); err == nil {
		t.Fatal("Validate past its deadline = nil, want an error")
	}
	emu.SetFaults(emulator.Faults{TokenLifetime: time.Second})
	time.Sleep(1100 * time.Millisecond)
	if err := c.Validate(context.Background()); err != nil {
		t.Fatalf("Validate after a deadline during the token fetch = %v, want nil", err)
	}
}

// tokenRequest is what the token endpoint received.
type tokenRequest struct {
	form      url.Values
	basicAuth bool
	ct        string
}

// recordTokens wraps emu and records every token request body.
func recordTokens(t *testing.T, emu *emulator.Emulator) (string, func() []tokenRequest) {
	t.Helper()
	var mu sync.Mutex
	var seen []tokenRequest
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/token") {
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			form, _ := url.ParseQuery(string(body))
			_, _, basic := r.BasicAuth()
			mu.Lock()
			seen = append(seen, tokenRequest{form: form, basicAuth: basic, ct: r.Header.Get("Content-Type")})
			mu.Unlock()
		}
		emu.ServeHTTP(w, r)
	}))
	t.Cleanup(hs.Close)
	return hs.URL, func() []tokenRequest {
		mu.Lock()
		defer mu.Unlock()
		return append([]tokenRequest(nil), seen...)
	}
}

// docs/security.md#library-pitfalls: AuthStyleInParams, so a failed fetch is not retried with
// the other auth style.
func TestTokenRequestSendsSecretInBodyOnce(t *testing.T) {
	t.Run("success", func(t *testing.T) {
		sec := sentinel("in-params")
		emu := emulator.New(emulator.Config{ClientSecret: sec, Machines: 3})
		base, seen := recordTokens(t, emu)
		if err := newClient(t, creds(sec), base, nil).Validate(context.Background()); err != nil {
			t.Fatalf("Validate = %v", err)
		}
		reqs := seen()
		if len(reqs) != 1 {
			t.Fatalf("token requests = %d, want 1", len(reqs))
		}
		r := reqs[0]
		if r.basicAuth {
			t.Error("token request used HTTP Basic auth, want the secret in the form body")
		}
		if !strings.HasPrefix(r.ct, "application/x-www-form-urlencoded") {
			t.Errorf("Content-Type = %q, want application/x-www-form-urlencoded", r.ct)
		}
		want := map[string]string{"grant_type": "client_credentials", "client_id": emulator.DemoClientID,
			"client_secret": sec, "scope": "https://api.securitycenter.microsoft.com/.default"}
		for k, v := range want {
			if got := r.form.Get(k); got != v {
				t.Errorf("form %s = %q, want %q", k, got, v)
			}
		}
		if r.form.Has("resource") {
			t.Error("form has resource=, which the v2 endpoint rejects")
		}
	})
	t.Run("wrong secret", func(t *testing.T) {
		sec := sentinel("in-params-wrong")
		emu := emulator.New(emulator.Config{ClientSecret: sec, Machines: 3})
		base, seen := recordTokens(t, emu)
		wrong := "Wr0ng~" + sec
		c := newClient(t, creds(wrong), base, nil)
		err := c.Validate(context.Background())
		if defender.ReasonOf(err) != defender.InvalidSecret {
			t.Fatalf("Validate = %v, want reason %q", err, defender.InvalidSecret)
		}
		assertNoSecret(t, err, wrong)
		if got := emu.Stats().TokenRequests; got != 1 {
			t.Errorf("TokenRequests after one failed fetch = %d, want 1 (no auth-style retry)", got)
		}
		if reqs := seen(); len(reqs) != 1 || reqs[0].basicAuth || reqs[0].form.Get("client_secret") != wrong {
			t.Errorf("token requests = %+v, want one with the secret in the body", len(reqs))
		}
		// A failed fetch is not cached: the next call asks again, once.
		if err := c.Validate(context.Background()); defender.ReasonOf(err) != defender.InvalidSecret {
			t.Fatalf("second Validate = %v, want reason %q", err, defender.InvalidSecret)
		}
		if got := emu.Stats().TokenRequests; got != 2 {
			t.Errorf("TokenRequests after two failed Validate calls = %d, want 2", got)
		}
		if got := emu.Stats().APIRequests; got != 0 {
			t.Errorf("APIRequests = %d, want 0 (no token, no API call)", got)
		}
	})
}
