package web

import (
	"net/http"
	"strings"
	"testing"

	"postern/internal/emulator"
)

// TestDefenderFormErrorsNameTheirCode holds security item 10 for the failures
// that concern no single field (docs/security.md#item-10): missing consent
// or a missing role (API 403) and Microsoft unreachable each get their own
// message in the form's alert, with the code beside it in a <code> element.
// (The AADSTS cases are TestDefenderBadCredentials.)
func TestDefenderFormErrorsNameTheirCode(t *testing.T) {
	const sec = "Good~secret.value-0123456789abcdefghijklm"
	cases := []struct {
		name    string
		faults  emulator.Faults
		down    bool
		message string
		code    string
	}{
		{name: "missing consent", faults: emulator.Faults{NoConsent: true},
			message: "Grant admin consent", code: "403 Forbidden"},
		{name: "role missing", faults: emulator.Faults{Roles: []string{"Alert.Read.All"}},
			message: "Machine.Read.All", code: "403 Forbidden"},
		{name: "unreachable", down: true,
			message: "Could not reach Microsoft", code: "network"},
	}
	messages := map[string]string{}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := newDefenderEnv(t, sec)
			d.emu.SetFaults(tc.faults)
			if tc.down {
				d.emuSrv.Close()
			}
			res := d.signedIn().post("/settings/integrations/defender", d.goodForm(sec))
			wantStatus(t, res, http.StatusUnprocessableEntity)
			alerts := parse(t, res).Find(`#manage-form [role="alert"]`)
			if alerts.Length() != 1 {
				t.Fatalf("%d alerts in the Manage form, want 1:\n%.2000s", alerts.Length(), res.body)
			}
			msg := text(alerts)
			if !strings.Contains(msg, tc.message) {
				t.Errorf("alert %q lacks %q", msg, tc.message)
			}
			if codes := alerts.Find("code"); codes.Length() != 1 || text(codes) != tc.code {
				t.Errorf("alert codes %q, want one <code>%s</code>", texts(codes), tc.code)
			}
			messages[tc.name] = strings.Replace(msg, tc.code, "", 1)
		})
	}
	if messages["missing consent"] == messages["unreachable"] {
		t.Error("a 403 and an unreachable Microsoft show the same message")
	}
}
