package e2e

import (
	"strconv"
	"testing"
	"time"
)

// An admin asks why a device was denied: the gateway's denial shows on
// Access decisions within seconds (the log flushes in the background),
// the Result filter keeps it, its row opens the device, and the device's
// page lists it under Recent access decisions.
func TestDecisionLogJourney(t *testing.T) {
	const secretValue = "Ps7Q~decision.Journey-Secret_0123456789ab"
	ms := startMicrosoft(t, secretValue)
	var high string
	for _, m := range ms.emu.Machines() {
		if m.RiskScore != nil && *m.RiskScore == "High" && m.MergedIntoMachineID == nil && !m.IsPotentialDuplication {
			high = m.ID
			break
		}
	}
	if high == "" {
		t.Fatal("the emulator fleet has no High-risk machine; change the seed")
	}
	srv, b := signedInAdmin(t, ms.args()...)
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

	if denied := evaluate(t, srv, token, map[string]any{"defender_machine_id": high}); denied.Allowed {
		t.Fatalf("a High-risk device was allowed: %+v", denied)
	}

	// The flusher writes within a second; reload until the row is there.
	deadline := time.Now().Add(15 * time.Second)
	for {
		b.ClickLink("Access decisions", mainNav)
		b.WaitHeading("Access decisions")
		if Eval[int](b, `document.querySelectorAll('tbody tr td a[href="/devices/`+high+`"]').length`) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the denial did not appear on Access decisions")
		}
		time.Sleep(300 * time.Millisecond)
	}
	if cur := b.AriaCurrent(mainNav); len(cur) != 1 || cur[0] != "Access decisions" {
		t.Errorf("current nav entry %q", cur)
	}
	b.FillByLabel("Result", "Denied")
	b.ClickButton("Filter")
	b.WaitText("risk score High exceeds the allowed Medium")
	b.WaitText("by Defender device ID: " + high) // the key in words, not defender_machine_id
	checkA11y(t, b, "access decisions")
	b.Screenshot("access-decisions")

	if err := b.clickFound(`(() => { const el = [...document.querySelectorAll('tbody tr td a')].find(a => a.getAttribute('href') === '/devices/' + a0);
		return {el, why: 'no row links the device'}; })()`, high); err != nil {
		t.Fatal(err)
	}
	b.WaitPath("/devices/" + high)
	b.WaitText("Recent access decisions")
	if n := Eval[int](b, `document.querySelectorAll('[data-testid="device-decision"]').length`); n != 1 {
		t.Errorf("the device page lists %d recent decisions, want 1", n)
	}
}
