package e2e

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"postern/internal/defender/vocab"
	"postern/internal/emulator"
)

// fleetKinds counts a fleet's onboarded (protected) and discovered machines.
func fleetKinds(ms []emulator.Machine) (protected, discovered int) {
	for _, m := range ms {
		if vocab.IsDiscovered(m.OnboardingStatus) {
			discovered++
		} else {
			protected++
		}
	}
	return protected, discovered
}

// firstProtected is the first named machine Defender protects: the one a
// journey can find on the default Devices list.
func firstProtected(t *testing.T, ms []emulator.Machine) emulator.Machine {
	t.Helper()
	for _, m := range ms {
		if m.ComputerDNSName != "" && !vocab.IsDiscovered(m.OnboardingStatus) {
			return m
		}
	}
	t.Fatal("no named onboarded machine in the fleet")
	return emulator.Machine{}
}

// Device discovery lists more devices than Defender protects: the Devices
// page shows the onboarded ones by default and the discovered ones one
// filter away, the dashboard counts them apart, and a check with Device
// group decides by Defender's device group.
func TestDiscoveredDevicesJourney(t *testing.T) {
	const secretValue = "Dd9Q~discovered.Journey-Secret_0123456ab"
	ms := startMicrosoftWith(t, emulator.Config{ClientSecret: secretValue, Machines: 40, Discovered: 60, Seed: 7})
	machines := ms.emu.Machines()
	protected, discovered := fleetKinds(machines)
	if discovered < 60 {
		t.Fatalf("the emulator lists %d discovered devices, want at least 60", discovered)
	}
	_, b := signedInAdmin(t, ms.args()...)
	connectDefender(t, b, secretValue, len(machines))

	b.ClickLink("Devices", mainNav)
	b.WaitHeading("Devices")
	b.WaitText(fmt.Sprintf("of %d devices", protected))
	if n := Eval[int](b, `document.querySelectorAll('[data-testid="discovered-badge"]').length`); n != 0 {
		t.Errorf("the default list shows %d discovered devices", n)
	}
	if got := number(t, b, `[data-testid="kind-discovered"]`); got != discovered {
		t.Errorf("the Devices page counts %d discovered, want %d", got, discovered)
	}
	b.ClickLink("Discovered " + strconv.Itoa(discovered))
	b.WaitText(fmt.Sprintf("of %d devices", discovered))
	rows := Eval[int](b, `document.querySelectorAll('[data-testid="device-row"]').length`)
	badges := Eval[int](b, `document.querySelectorAll('[data-testid="discovered-badge"]').length`)
	if rows == 0 || badges != rows {
		t.Errorf("the Discovered filter shows %d rows, %d with the Discovered badge", rows, badges)
	}
	checkA11y(t, b, "/devices?kind=discovered")
	b.Screenshot("devices-discovered")

	b.Navigate("/")
	if got := number(t, b, `[data-testid="dashboard-discovered"]`); got != discovered {
		t.Errorf("the dashboard counts %d discovered devices, want %d", got, discovered)
	}
	if got := number(t, b, `[data-testid="dashboard-devices"]`); got != protected {
		t.Errorf("the dashboard counts %d devices, want the %d onboarded", got, protected)
	}

	// A check with Device group: the editor explains it, the preview names
	// observed and required groups.
	b.ClickLink("Device Posture Checks", mainNav)
	b.ClickLink("New posture check")
	b.WaitHeading("New posture check")
	b.FillByLabel("Name", "EU laptops")
	b.FillByLabel("Data Source", "Microsoft Defender")
	b.WaitText("Device group")
	note := Eval[string](b, `document.querySelector('[data-testid="device-group-note"]').innerText`)
	if !strings.Contains(note, "neither tags nor the device name") {
		t.Errorf("the Device group note says %q", note)
	}
	b.FillByLabel("Device group", "Laptops-EU")
	waitInnerText(t, b, "#impact", "required Laptops-EU")
	b.ClickButton("Save")
	b.ClickButton("Save and deny " + strconv.Itoa(number(t, b, `[data-testid="save-confirm"]`)) + " devices")
	b.WaitFlash("is saved")
	b.WaitRow("EU laptops")
}
