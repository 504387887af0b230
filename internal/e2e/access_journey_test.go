package e2e

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"postern/internal/testkit"
)

// number reads the first whole number (thousands separators allowed) in
// the innerText of selector.
func number(t *testing.T, b *Browser, selector string) int {
	t.Helper()
	s := Eval[string](b, fmt.Sprintf(`(document.querySelector(%q) || {innerText: ""}).innerText`, selector))
	digits := ""
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			digits += string(r)
		case r == ',' && digits != "":
		case digits != "":
			n, _ := strconv.Atoi(digits)
			return n
		}
	}
	n, err := strconv.Atoi(digits)
	if err != nil {
		t.Fatalf("%s shows %q, no number", selector, s)
	}
	return n
}

// newLowRiskCheck fills the editor with "Low risk only" (risk at most
// Medium, Enforce, Deny when data is unavailable) and presses Save.
func newLowRiskCheck(t *testing.T, b *Browser) {
	t.Helper()
	b.ClickLink("Device Posture Checks", mainNav)
	b.WaitHeading("Device Posture Checks")
	b.ClickLink("New posture check")
	b.WaitHeading("New posture check")
	b.FillByLabel("Name", "Low risk only")
	b.FillByLabel("Data Source", "Microsoft Defender")
	b.WaitText("Maximum risk score")
	b.FillByLabel("Maximum risk score", "Medium")
	waitInnerText(t, b, "#impact", "risk score High exceeds the allowed Medium")
}

// Saving a check that cuts access goes through a last look: the editor
// says how many devices allowed today it would deny (the preview's
// figure), links them, and saves only on the confirmation.
func TestAccessCuttingSaveAsksFirst(t *testing.T) {
	const secretValue = "Ps7Q~access.Journey-Secret_0123456789ab"
	ms := startMicrosoft(t, secretValue)
	srv := StartServer(t, ms.args()...)
	b := NewBrowser(t, srv)
	createFirstAdmin(t, b)
	signIn(b, adminEmail, adminPassword)
	b.WaitHeading("Dashboard")
	connectDefender(t, b, secretValue, len(ms.emu.Machines()))

	newLowRiskCheck(t, b)
	previewed := number(t, b, `[data-testid="impact-newly-denied"]`)
	denied := number(t, b, `[data-testid="impact-denied"]`)
	allowed := number(t, b, `[data-testid="impact-allowed"]`)
	// No check exists yet: every device the check denies is allowed today.
	if previewed == 0 || previewed != denied || allowed == 0 {
		t.Fatalf("preview: %d newly denied, %d denied, %d allowed", previewed, denied, allowed)
	}
	b.Screenshot("preview")
	b.ClickButton("Save")
	b.WaitText("Saving denies " + strconv.Itoa(previewed) + " devices that are allowed today")
	if Eval[string](b, `document.querySelector('#check-form input[name="name"]').value`) != "Low risk only" {
		t.Error("the confirmation lost the form's input")
	}
	checkA11y(t, b, "save confirmation")
	b.Screenshot("save-confirm")
	b.ClickLink("See the " + strconv.Itoa(previewed) + " devices")
	b.WaitHeading("Devices this change would deny")
	if got := Eval[int](b, `document.querySelectorAll('main li a[href^="/devices/"]').length`); got != previewed {
		t.Errorf("the list shows %d devices, the confirmation said %d", got, previewed)
	}
	b.Screenshot("denials")
	b.ClickLink("Back to the check")
	b.WaitHeading("New posture check")
	b.ClickButton("Save")
	b.ClickButton("Save and deny " + strconv.Itoa(previewed) + " devices")
	b.WaitFlash("is saved")
	b.WaitRow("Low risk only")
}

// The Disable dialog says how many devices Disable would deny, follows
// the switch to Monitor only, and Disable makes the switch first: the
// gateway then denies nobody for that check.
func TestDisableDialogSwitchesChecksFirst(t *testing.T) {
	const secretValue = "Ps7Q~disable.Journey-Secret_0123456789ab"
	ms := startMicrosoft(t, secretValue)
	srv := StartServer(t, ms.args()...)
	b := NewBrowser(t, srv)
	createFirstAdmin(t, b)
	signIn(b, adminEmail, adminPassword)
	b.WaitHeading("Dashboard")
	connectDefender(t, b, secretValue, len(ms.emu.Machines()))
	b.ClickLink("API tokens", mainNav)
	b.WaitHeading("API tokens")
	b.FillByLabel("Token name", "Gateway")
	b.ClickButton("Create token")
	b.WaitText("Copy it now")
	token := Eval[string](b, `document.querySelector('[data-testid="new-token"]').innerText`)
	newLowRiskCheck(t, b)
	b.ClickButton("Save")
	b.ClickButton("Save and deny " + strconv.Itoa(number(t, b, `[data-testid="save-confirm"]`)) + " devices")
	b.WaitFlash("is saved")

	b.ClickLink("Integrations", mainNav)
	b.WaitHeading("Integrations")
	synced := number(t, b, `[data-testid="devices-synced"]`)
	b.OpenMenu("Microsoft Defender actions") // Disable is in the ⚙️ menu only
	b.ClickButton("Disable")
	b.WaitText("will have no data")
	denied := number(t, b, `[data-testid="disable-denied"]`)
	summary := Eval[string](b, `document.querySelector('[data-testid="disable-summary"]').innerText`)
	// With Defender gone, the one check denies every synced device (it has
	// no data for any, and no exception exists).
	if denied != synced || !strings.Contains(summary, "(its When data is unavailable is Deny), 0 allowed") {
		t.Fatalf("dialog: %d denied of %d synced; %q", denied, synced, summary)
	}
	checkA11y(t, b, "disable dialog")
	b.Screenshot("disable-dialog")
	Eval[bool](b, `(document.querySelector('dialog input[name^="switch."][value="monitor"]').click(), true)`)
	waitInnerText(t, b, `[data-testid="disable-summary"]`, "nobody will be denied by it")
	b.Screenshot("disable-dialog-monitor")
	b.ClickButton("Disable")
	waitInnerText(t, b, "#defender-card", "Disabled")
	b.ClickLink("Device Posture Checks", mainNav)
	b.WaitRow("Data source disabled")
	if !strings.Contains(Eval[string](b, `document.querySelector('main').innerText`), "Monitor only") {
		t.Error("the check was not switched to Monitor only")
	}
	for _, m := range ms.emu.Machines() {
		if m.RiskScore != nil && *m.RiskScore == "High" && m.MergedIntoMachineID == nil {
			if a := evaluate(t, srv, token, map[string]any{"defender_machine_id": m.ID}); !a.Allowed {
				t.Errorf("a device was denied after the switch and Disable: %+v", a)
			}
			break
		}
	}
}

// saveCheck presses Save in the check editor and, when the save would deny
// devices allowed today, confirms it: the journeys that are not about the
// confirmation still go through it as an admin would.
func saveCheck(t *testing.T, b *Browser) {
	t.Helper()
	b.ClickButton("Save")
	var confirm bool
	testkit.WaitFor(t, 10*time.Second, "the check saved or a confirmation asked", func() bool {
		confirm = Eval[bool](b, `!!document.querySelector('[data-testid="save-confirm"]')`)
		return confirm || Eval[bool](b, `location.pathname === "/zero-trust/posture-checks"`)
	})
	if confirm {
		b.ClickButton("Save and deny " + strconv.Itoa(number(t, b, `[data-testid="save-confirm"]`)) + " devices")
	}
	b.WaitFlash("is saved")
}
