package integration_test

import (
	"errors"
	"testing"

	"postern/internal/defender"
	"postern/internal/emulator"
	"postern/internal/integration"
)

// The server's defender-scope reaches the token request: a scope for
// another API is refused as a wrong audience (and would not pause
// syncing), one Entra does not accept is AADSTS70011, and the documented
// MDE resource works.
func TestConfigureUsesScopeOverride(t *testing.T) {
	e := newEnv(t, emulator.DemoClientSecret)
	for _, c := range []struct {
		scope  string
		reason defender.Reason
		code   string
	}{
		{"https://api.security.microsoft.com/.default", defender.WrongAudience, "403 WrongAudience"},
		{"https://not-a-resource.example.com/.default", defender.DefenderNotProvisioned, "AADSTS500011"},
		{"https://securitycenter.onmicrosoft.com/windowsatpservice/.default", "", ""},
	} {
		svc := integration.New(e.st, e.kr, e.logs.Logger(), integration.Options{LoginURL: e.url, APIURL: e.url, Scope: c.scope})
		_, err := svc.Configure(asAdmin(), e.good())
		var de *defender.Error
		switch {
		case c.reason == "" && err != nil:
			t.Errorf("scope %s: Configure = %v, want success", c.scope, err)
		case c.reason != "" && (!errors.As(err, &de) || de.Reason != c.reason || de.Code != c.code):
			t.Errorf("scope %s: Configure = %v, want %s %s", c.scope, err, c.reason, c.code)
		}
	}
}
