package e2e

import (
	"regexp"
	"strings"
	"testing"

	"postern/internal/emulator"
)

// When Defender refuses for a reason no consent fixes, the Manage dialog
// shows what Microsoft said first, then Postern's advice with its code and
// help link, then the Support ID Microsoft support asks for.
func TestManageShowsWhatMicrosoftSaid(t *testing.T) {
	const goodSecret = "Ac7K~inactive.Secret-Value_0123456789abc"
	ms := startMicrosoft(t, goodSecret)
	ms.emu.SetFaults(emulator.Faults{AccountInactive: true})
	_, b := signedInAdmin(t, ms.args()...)
	openManageDialog(b)
	fillCredentials(b, emulator.DemoTenantID, emulator.DemoClientID, goodSecret)
	b.ClickButton("Save")
	waitInnerText(t, b, `#manage-form [role="alert"]`, "Support ID")
	got := Eval[string](b, `document.querySelector('#manage-form [role="alert"]').innerText`)
	said := strings.Index(got, "Microsoft said: Account mode is inactive (Forbidden)")
	advice := strings.Index(got, "Defender for Endpoint is inactive in this tenant")
	code := strings.Index(got, "403 AccountInactive")
	link := strings.Index(got, "How to fix this")
	support := regexp.MustCompile(`Support ID [0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`).FindStringIndex(got)
	if said < 0 || advice < 0 || code < 0 || link < 0 || support == nil || !(said < advice && advice < code && code < link && link < support[0]) {
		t.Errorf("the dialog's error reads %q: want Microsoft's words, then the advice, its code and help link, then the Support ID", got)
	}
	// Each part is on its own line, in that order, on screen.
	tops := Eval[[]float64](b, `["[data-microsoft-said]", "[data-support-id]"].map(s => document.querySelector('#manage-form [role="alert"] ' + s).getBoundingClientRect().top)`)
	if len(tops) != 2 || !(tops[0] < tops[1]) {
		t.Errorf("Microsoft's words are not above the Support ID: tops %v", tops)
	}
	if strings.Contains(got, goodSecret) {
		t.Errorf("the dialog shows the secret")
	}
	b.Screenshot("manage-microsoft-said")
	checkA11y(t, b, "manage dialog with Microsoft's refusal")
}
