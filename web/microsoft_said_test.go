package web

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"postern/internal/emulator"
)

// Each refusal that concerns no single field shows, in the Manage form's
// alert, Microsoft's own words first, then Postern's advice with its code
// and the link to the guide's section, then the Support ID; and the guide
// lists the code in its troubleshooting tables.
func TestDefenderFormShowsWhatMicrosoftSaid(t *testing.T) {
	const sec = "Said~secret.value-0123456789abcdefghijklm"
	cases := []struct {
		name   string
		faults emulator.Faults
		said   string
		code   string
		anchor string
	}{
		{"disabled feature", emulator.Faults{DisabledFeature: true}, "The feature is disabled for this tenant", "403 DisabledFeature", "troubleshooting"},
		{"disallowed operation", emulator.Faults{DisallowedOperation: true}, "The operation is not allowed", "403 DisallowedOperation", "troubleshooting"},
		{"account inactive", emulator.Faults{AccountInactive: true}, "Account mode is inactive (Forbidden)", "403 AccountInactive", "troubleshooting"},
		{"wrong audience", emulator.Faults{WrongAudience: true}, "Missing application roles", "403 WrongAudience", "cloud-region"},
		{"conditional access", emulator.Faults{ConditionalAccess: true}, "Access has been blocked by Conditional Access policies", "AADSTS53003", "troubleshooting"},
		{"app disabled", emulator.Faults{AppDisabled: true}, "is disabled (AADSTS7000112)", "AADSTS7000112", "register-app"},
		{"invalid scope", emulator.Faults{InvalidScope: true}, "The provided value for the input parameter 'scope' is not valid", "AADSTS70011", "cloud-region"},
	}
	var guide string
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := newDefenderEnv(t, sec)
			d.emu.SetFaults(tc.faults)
			c := d.signedIn()
			res := c.post("/settings/integrations/defender", d.goodForm(sec))
			wantStatus(t, res, http.StatusUnprocessableEntity)
			alert := parse(t, res).Find(`#manage-form [role="alert"]`)
			said, support := text(alert.Find("[data-microsoft-said]")), text(alert.Find("[data-support-id]"))
			if !strings.HasPrefix(said, "Microsoft said: ") || !strings.Contains(said, tc.said) {
				t.Errorf("Microsoft's words %q, want them to contain %q", said, tc.said)
			}
			if !regexp.MustCompile(`^Support ID (trace )?[0-9a-f-]{36}`).MatchString(support) {
				t.Errorf("support id line %q", support)
			}
			all := text(alert)
			// Nothing was saved and no sync runs: the advice is to save
			// again, not that Postern tries again at each sync.
			if strings.Contains(all, "each sync") || strings.Contains(all, "Postern will") {
				t.Errorf("alert %q promises a retry by Postern, though nothing was saved", all)
			}
			if (tc.code == "403 AccountInactive" || tc.code == "403 DisabledFeature") && !strings.Contains(all, "save again") {
				t.Errorf("alert %q does not say to save again once it is fixed", all)
			}
			if i, j, k := strings.Index(all, said), strings.Index(all, tc.code), strings.Index(all, support); !(i == 0 && i < j && j < k) {
				t.Errorf("alert %q: want Microsoft's words, then the code, then the support id", all)
			}
			if href, _ := alert.Find(`a[target="_blank"]`).Attr("href"); !strings.HasSuffix(href, guidePath+"#"+tc.anchor) {
				t.Errorf("help link %q, want the guide's #%s", href, tc.anchor)
			}
			if strings.Contains(res.body, sec) {
				t.Errorf("the form shows the secret")
			}
			if guide == "" {
				guide = c.get(guidePath).body
			}
			codes := texts(parse(t, response{body: guide}).Find("#troubleshooting code"))
			if !strings.Contains(strings.Join(codes, "|")+"|", tc.code+"|") {
				t.Errorf("the guide's troubleshooting lists no %s (codes %v)", tc.code, codes)
			}
		})
	}
}
