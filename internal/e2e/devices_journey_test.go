package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"postern/internal/emulator"
)

// The sync issue's journey: Manage → the card shows Syncing… and then the
// device count without a reload → Devices → filters and search → detail →
// Re-check now.
func TestDevicesJourney(t *testing.T) {
	const secretValue = "Dv9Q~devices.Journey-Secret_0123456789ab"
	ms := startMicrosoft(t, secretValue)
	// Slow pages so that Syncing… is visible for a moment.
	ms.emu.SetFaults(emulator.Faults{SlowPage: 700 * time.Millisecond, PageSize: 10})
	_, b := signedInAdmin(t, ms.args()...)
	openManageDialog(b)
	fillCredentials(b, emulator.DemoTenantID, emulator.DemoClientID, secretValue)
	b.ClickButton("Save")
	b.WaitFlash("Microsoft Defender is connected")
	waitInnerText(t, b, "#defender-card", "Syncing…")
	b.Screenshot("syncing")
	machines := ms.emu.Machines()
	waitInnerText(t, b, `[data-testid="devices-synced"]`, fmt.Sprint(len(machines)))
	waitInnerText(t, b, "#defender-card", "Connected")
	if got := b.Path(); got != "/settings/integrations" {
		t.Fatalf("the page changed to %s; the card should update in place", got)
	}
	ms.emu.SetFaults(emulator.Faults{})

	b.ClickLink("Devices", mainNav)
	b.WaitHeading("Devices")
	protected, _ := fleetKinds(machines) // discovered devices are one filter away
	b.WaitText(fmt.Sprintf("of %d devices", protected))
	checkA11y(t, b, "/devices")
	b.Screenshot("devices")

	// Filter by risk: every row shown is High.
	high := 0
	var target emulator.Machine
	for _, m := range machines {
		if m.RiskScore != nil && *m.RiskScore == "High" {
			high++
			if target.ID == "" && m.ComputerDNSName != "" {
				target = m
			}
		}
	}
	b.FillByLabel("Risk score", "High")
	b.ClickButton("Filter")
	b.WaitText(fmt.Sprintf("of %d device", high))
	if rows := Eval[int](b, `document.querySelectorAll('[data-testid="device-row"]').length`); rows != high {
		t.Fatalf("risk filter shows %d rows, want %d", rows, high)
	}
	b.ClickLink("Clear filters")
	b.WaitText(fmt.Sprintf("of %d devices", protected))

	// Search by host name prefix, then open the device.
	b.FillByLabel("Search", strings.ToUpper(target.ComputerDNSName[:6]))
	b.ClickButton("Filter")
	b.WaitRow(target.ComputerDNSName)
	b.ClickLink(target.ComputerDNSName)
	b.WaitHeading(target.ComputerDNSName)
	b.WaitText("Posture signals")
	checkA11y(t, b, "device detail")

	// Re-check now picks up a change made in Defender.
	ms.emu.Mutate(func(all []emulator.Machine) []emulator.Machine {
		for i := range all {
			if all[i].ID == target.ID {
				low := "Low"
				all[i].RiskScore = &low
			}
		}
		return all
	})
	b.ClickButton("Re-check now")
	b.WaitFlash("Device re-checked")
	waitInnerText(t, b, "main", "Low")
	b.Screenshot("device-detail")
}
