package e2e

import (
	"strings"
	"testing"

	"postern/internal/emulator"
)

// A listing that leaves out half the fleet is held: the card and the sync
// runs page say so, nothing changes (the enforcement answer neither), and
// the admin's Accept marks the devices missing and is audited.
func TestHeldSyncJourney(t *testing.T) {
	const secretValue = "Hd4Q~held.Journey-Secret_0123456789abcd"
	ms := startMicrosoft(t, secretValue) // 40 machines
	srv := StartServer(t, ms.args()...)
	b := NewBrowser(t, srv)
	createFirstAdmin(t, b)
	signIn(b, adminEmail, adminPassword)
	b.WaitHeading("Dashboard")
	connectDefender(t, b, secretValue, 40)

	b.ClickLink("API tokens", mainNav)
	b.FillByLabel("Token name", "Gateway")
	b.ClickButton("Create token")
	b.WaitText("Copy it now")
	token := Eval[string](b, `document.querySelector('[data-testid="new-token"]').innerText`)
	machines := ms.emu.Machines()
	hidden := strings.ToLower(machines[len(machines)-1].ID) // the shrunk listing leaves out the last ids
	status, before := tryVerdict(srv.URL, token, hidden)
	if status != 200 {
		t.Fatalf("enforcement API: status %d", status)
	}

	ms.emu.SetFaults(emulator.Faults{ShrinkFleet: 50})
	b.Navigate("/settings/integrations")
	b.OpenMenu("Microsoft Defender actions")
	b.ClickButton("Sync now")
	waitInnerText(t, b, "#defender-card", "The last sync was held")
	waitInnerText(t, b, "#defender-card", "20 of 40 active devices missing (50 %)")
	waitInnerText(t, b, `[data-testid="devices-synced"]`, "40")
	b.Screenshot("held-card")
	checkA11y(t, b, "Integrations with a held sync")
	if _, after := tryVerdict(srv.URL, token, hidden); after.Allowed != before.Allowed || after.Device != before.Device || len(after.Checks) != len(before.Checks) {
		t.Errorf("a held sync changed the enforcement answer: %+v → %+v", before, after)
	}

	b.ClickLink("Sync runs", mainNav)
	b.WaitHeading("Sync runs")
	b.WaitRow("Held")
	b.WaitText("Nothing was marked missing")

	b.Navigate("/settings/integrations")
	b.ClickButton("Accept removal of 20 devices")
	b.WaitFlash("Removal accepted: 20 devices marked removed")
	b.WaitText("Removal accepted by " + adminEmail)
	b.WaitText("Removed (20)")
	b.Screenshot("held-accepted")

	b.Navigate("/settings/integrations")
	waitInnerText(t, b, `[data-testid="devices-synced"]`, "20")
	if strings.Contains(Eval[string](b, `document.querySelector("#defender-card").innerText`), "The last sync was held") {
		t.Errorf("the card still shows the held sync after the acceptance")
	}
	if _, after := tryVerdict(srv.URL, token, hidden); after.Device == before.Device && after.Allowed == before.Allowed {
		t.Logf("the removed device's answer did not change: %+v", after)
	}
	b.Navigate("/audit")
	b.WaitRow("sync.removal_accepted")
	b.WaitText("20 of 40 active devices marked removed")
}
