package e2e

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"postern/internal/emulator"
)

// TestAntivirusModeJourney builds a check "Antivirus mode must be Active" in
// the editor, sees the Passive device in the impact preview with its
// reason, saves it, and finds the device page's Antivirus health panel and
// the verdict's reason.
func TestAntivirusModeJourney(t *testing.T) {
	const secretValue = "Av7Q~antivirus.Journey-Secret_0123456789"
	ms := startMicrosoft(t, secretValue)
	var passive, host string
	for _, m := range ms.emu.Machines() {
		if m.OnboardingStatus == "Onboarded" && m.MergedIntoMachineID == nil && !m.IsPotentialDuplication {
			passive, host = m.ID, m.ComputerDNSName
			break
		}
	}
	if passive == "" {
		t.Fatal("the emulator fleet has no onboarded machine; change the seed")
	}
	ms.emu.SetAVOverride(passive, func(r *emulator.AVRow) { r.AVMode = "1" })
	_, b := signedInAdmin(t, ms.args()...)
	connectDefender(t, b, secretValue, len(ms.emu.Machines()))

	b.ClickLink("Device Posture Checks", mainNav)
	b.WaitHeading("Device Posture Checks")
	b.ClickLink("New posture check")
	b.WaitHeading("New posture check")
	b.FillByLabel("Name", "Antivirus active")
	b.FillByLabel("Data Source", "Microsoft Defender")
	b.WaitText("Antivirus health and sensor")
	// The Data Source change swaps the conditions in; a click while htmx
	// settles can go unseen by the preview, so tick the box until the
	// preview answers.
	const tick = `(() => { const el = document.querySelector('input[name="av_modes"][value="Active"]');
		if (!el.checked) el.click(); else el.dispatchEvent(new Event('change', {bubbles: true})); return el.checked })()`
	for i := 0; ; i++ {
		Eval[bool](b, tick)
		if waitImpact(b, "antivirus mode Passive, required Active", 3*time.Second) {
			break
		}
		if i == 5 {
			waitInnerText(t, b, "#impact", "antivirus mode Passive, required Active")
		}
	}
	checkA11y(t, b, "posture check editor with antivirus conditions")
	b.Screenshot("antivirus-editor")
	b.ClickButton("Save")
	b.ClickButton("Save and deny " + strconv.Itoa(number(t, b, `[data-testid="save-confirm"]`)) + " devices")
	b.WaitFlash("is saved")
	b.WaitRow("Antivirus active")

	b.Navigate("/devices/" + passive)
	b.WaitHeading(host)
	waitInnerText(t, b, `section[aria-labelledby="antivirus"]`, "Passive")
	for _, want := range []string{"Antivirus mode", "Security intelligence", "Engine", "Platform", "Last full scan"} {
		waitInnerText(t, b, `section[aria-labelledby="antivirus"]`, want)
	}
	waitInnerText(t, b, "main", "antivirus mode Passive, required Active")
	checkA11y(t, b, "device page with antivirus health")
	b.Screenshot("antivirus-device")
}

// waitImpact reports whether the impact preview shows want within d.
func waitImpact(b *Browser, want string, d time.Duration) bool {
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if strings.Contains(Eval[string](b, `(document.querySelector("#impact") || {innerText: ""}).innerText`), want) {
			return true
		}
	}
	return false
}
