package defender_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"postern/internal/defender"
	"postern/internal/emulator"
)

var guidShape = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// Validate (Save in Manage) against the emulator's refusals: each keeps
// Microsoft's own code, message and support id beside Postern's advice,
// and its stored code reads back to the same reason, so that only a
// missing permission pauses syncing, after a restart too.
func TestValidateKeepsWhatMicrosoftSaid(t *testing.T) {
	cases := []struct {
		name             string
		faults           emulator.Faults
		reason           defender.Reason
		code, msCode     string
		msMessage        string // a phrase of Microsoft's message
		help             string
		entra            bool // support id from Entra: trace and correlation ids
		pausesOnSyncFail bool
	}{
		{"no consent", emulator.Faults{NoConsent: true}, defender.PermissionMissing, "403 Forbidden", "Forbidden", "Missing application roles. API required roles: Machine.Read.All", defender.HelpPermission, false, true},
		{"disabled feature", emulator.Faults{DisabledFeature: true}, defender.FeatureDisabled, "403 DisabledFeature", "DisabledFeature", "The feature is disabled for this tenant", defender.HelpTroubleshooting, false, false},
		{"disallowed operation", emulator.Faults{DisallowedOperation: true}, defender.OperationDisallowed, "403 DisallowedOperation", "DisallowedOperation", "The operation is not allowed", defender.HelpTroubleshooting, false, false},
		{"account inactive", emulator.Faults{AccountInactive: true}, defender.AccountInactive, "403 AccountInactive", "Forbidden", "Account mode is inactive", defender.HelpTroubleshooting, false, false},
		{"wrong audience", emulator.Faults{WrongAudience: true}, defender.WrongAudience, "403 WrongAudience", "Forbidden", "Missing application roles", defender.HelpCloudRegion, false, false},
		{"conditional access", emulator.Faults{ConditionalAccess: true}, defender.SignInBlocked, "AADSTS53003", "AADSTS53003", "Access has been blocked by Conditional Access policies", defender.HelpTroubleshooting, true, false},
		{"app disabled", emulator.Faults{AppDisabled: true}, defender.AppDisabled, "AADSTS7000112", "AADSTS7000112", "is disabled", defender.HelpRegisterApp, true, false},
		{"invalid scope", emulator.Faults{InvalidScope: true}, defender.InvalidScope, "AADSTS70011", "AADSTS70011", "The provided value for the input parameter 'scope' is not valid", defender.HelpCloudRegion, true, false},
		{"not provisioned", emulator.Faults{DefenderNotProvisioned: true}, defender.DefenderNotProvisioned, "AADSTS500011", "AADSTS500011", "The resource principal named", defender.HelpPrerequisites, true, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sec := sentinel(c.name)
			emu := emulator.New(emulator.Config{ClientSecret: sec, Machines: 3, Seed: 1})
			emu.SetFaults(c.faults)
			err := newClient(t, creds(sec), startEmulator(t, emu), nil).Validate(context.Background())
			var de *defender.Error
			if !errors.As(err, &de) {
				t.Fatalf("Validate = %v, want a *defender.Error", err)
			}
			assertNoSecret(t, err, sec)
			if de.Reason != c.reason || de.Code != c.code || de.Help != c.help {
				t.Errorf("reason %s code %q help %q, want %s %q %q", de.Reason, de.Code, de.Help, c.reason, c.code, c.help)
			}
			if de.MicrosoftCode != c.msCode || !strings.Contains(de.MicrosoftMessage, c.msMessage) {
				t.Errorf("Microsoft said %q (%q), want %q containing %q", de.MicrosoftMessage, de.MicrosoftCode, c.msCode, c.msMessage)
			}
			if strings.HasPrefix(de.MicrosoftMessage, "AADSTS") || strings.Contains(de.MicrosoftMessage, "Trace ID") {
				t.Errorf("Microsoft's message %q keeps the code or the trailer", de.MicrosoftMessage)
			}
			checkSupportID(t, de.SupportID, c.entra)
			// Validate stores nothing and no sync follows it: its advice is
			// the admin's next step, never a retry by Postern.
			if strings.Contains(de.Message, "each sync") || strings.Contains(de.Message, "Postern will") || strings.Contains(de.Message, "then tries again") {
				t.Errorf("Validate's advice %q promises a retry by Postern, though nothing was saved", de.Message)
			}
			if (c.reason == defender.AccountInactive || c.reason == defender.FeatureDisabled) && !strings.Contains(de.Message, "Nothing was saved: once it is fixed, save again.") {
				t.Errorf("Validate's advice %q does not say to save again once it is fixed", de.Message)
			}
			text := de.Text()
			if !strings.HasPrefix(text, "Microsoft said: "+de.MicrosoftMessage) ||
				!strings.Contains(text, de.Message) || !strings.HasSuffix(text, "Support ID "+de.SupportID+".") ||
				strings.Index(text, de.Message) < len(de.MicrosoftMessage) {
				t.Errorf("Text() = %q: want Microsoft's message, then the advice, then the support id", text)
			}
			if got := defender.ReasonForCode(de.Code); got != de.Reason {
				t.Errorf("ReasonForCode(%q) = %s, the error's reason is %s", de.Code, got, de.Reason)
			}
			if got := defender.HelpForCode(de.Code); got != de.Help {
				t.Errorf("HelpForCode(%q) = %q, the error's help is %q", de.Code, got, de.Help)
			}
			if paused := defender.ReasonForCode(de.Code) == defender.PermissionMissing; paused != c.pausesOnSyncFail {
				t.Errorf("code %q pauses syncing: %v, want %v", de.Code, paused, c.pausesOnSyncFail)
			}
			if !strings.Contains(de.Error(), de.SupportID) {
				t.Errorf("the log text %q lacks the support id", de.Error())
			}
		})
	}
}

func checkSupportID(t *testing.T, id string, entra bool) {
	t.Helper()
	if !entra {
		if !guidShape.MatchString(id) {
			t.Errorf("support id %q, want Defender's target GUID", id)
		}
		return
	}
	trace, corr, ok := strings.Cut(id, ", ")
	tr, ok1 := strings.CutPrefix(trace, "trace ")
	co, ok2 := strings.CutPrefix(corr, "correlation ")
	if !ok || !ok1 || !ok2 || !guidShape.MatchString(tr) || !guidShape.MatchString(co) {
		t.Errorf("support id %q, want \"trace <GUID>, correlation <GUID>\"", id)
	}
}

// A 429 from the token endpoint is waited out as Retry-After asks; past
// MaxAttempts the listing fails as throttled, with Microsoft's code.
func TestListMachinesWaitsOutTokenThrottling(t *testing.T) {
	emu := emulator.New(emulator.Config{Machines: 30, Seed: 2})
	emu.SetFaults(emulator.Faults{Token429: 2, TokenRetryAfter: 9 * time.Second})
	c := newClient(t, creds(emulator.DemoClientSecret), startEmulator(t, emu), nil)
	var waits []time.Duration
	opts := defender.ListOptions{Sleep: func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }}
	n := 0
	st, err := c.ListMachines(context.Background(), opts, func(ms []defender.Machine) error { n += len(ms); return nil })
	if err != nil || n != 30 {
		t.Fatalf("ListMachines = %d machines, %v; want 30", n, err)
	}
	if len(waits) != 2 || waits[0] != 9*time.Second || waits[1] != 9*time.Second || st.ThrottledWaits != 2 {
		t.Errorf("waits %v, throttled waits %d; want two of 9s", waits, st.ThrottledWaits)
	}

	emu.SetFaults(emulator.Faults{Token429: 100})
	c = newClient(t, creds(emulator.DemoClientSecret), startEmulator(t, emu), nil)
	opts.MaxAttempts = 3
	_, err = c.ListMachines(context.Background(), opts, func([]defender.Machine) error { return nil })
	var de *defender.Error
	if !errors.As(err, &de) || de.Reason != defender.Throttled || de.Code != "AADSTS90055" || de.SupportID == "" {
		t.Fatalf("after 3 throttled token requests: %v, want throttled AADSTS90055 with a support id", err)
	}
	if got := defender.ReasonForCode(de.Code); got != defender.Throttled {
		t.Errorf("ReasonForCode(%q) = %s, want throttled", de.Code, got)
	}
}

// A refusal without a target in its body takes the support id from the
// response headers; what Microsoft said is cleaned of control characters
// and tokens, capped, and never repeats the client secret.
func TestRefusalTextIsSafe(t *testing.T) {
	sec := sentinel("echo")
	emu := emulator.New(emulator.Config{ClientSecret: sec, Machines: 1, Seed: 1})
	emuURL := startEmulator(t, emu)
	long := strings.Repeat("very long ", 100)
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "/oauth2/") {
			proxy(w, r, emuURL)
			return
		}
		w.Header().Set("request-id", "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		w.Write([]byte(`{"error":{"code":"DisallowedOperation","message":"line one\r\nline\ttwo \u0007 eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abc ` + strings.Repeat("a", 260) + " " + sec + ` ` + long + `"}}`))
	}))
	t.Cleanup(api.Close)
	c := defender.NewClient(creds(sec), defender.Endpoints{LoginURL: api.URL, APIURL: api.URL, Scope: "https://api.securitycenter.microsoft.com/.default"}, nil)
	err := c.Validate(context.Background())
	var de *defender.Error
	if !errors.As(err, &de) || de.Reason != defender.OperationDisallowed {
		t.Fatalf("Validate = %v, want operation disallowed", err)
	}
	if de.SupportID != "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0" {
		t.Errorf("support id %q, want the request-id header", de.SupportID)
	}
	m := de.MicrosoftMessage
	if strings.ContainsAny(m, "\r\n\t\a") || strings.Contains(m, "eyJhbGci") || !strings.HasPrefix(m, "line one line two [token]") {
		t.Errorf("Microsoft's message not cleaned: %q", m)
	}
	if n := len([]rune(m)); n > 300 || !strings.HasSuffix(m, "…") {
		t.Errorf("Microsoft's message is %d runes (%q…), want at most 300 and marked as cut", n, m[:40])
	}
	assertNoSecret(t, err, sec)
	if strings.Contains(m, sec[:8]) {
		t.Errorf("the cut left part of the secret: %q", m)
	}
	if strings.Contains(de.Text(), sec) || strings.Contains(de.Error(), sec) {
		t.Errorf("Microsoft's echo of the secret is repeated: %q", de.Text())
	}
}

// proxy forwards a token request to the emulator.
func proxy(w http.ResponseWriter, r *http.Request, base string) {
	req, _ := http.NewRequestWithContext(r.Context(), r.Method, base+r.URL.RequestURI(), r.Body)
	req.Header = r.Header.Clone()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer res.Body.Close()
	for k, v := range res.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(res.StatusCode)
	buf := make([]byte, 32<<10)
	for {
		n, err := res.Body.Read(buf)
		w.Write(buf[:n])
		if err != nil {
			return
		}
	}
}
