package e2e

import (
	"strings"
	"testing"
	"time"
)

// bannerText navigates to path until the outage banner is in state and
// contains want (within limit) and returns its text.
func bannerText(t *testing.T, b *Browser, path, state, want string, limit time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		b.Navigate(path)
		got := Eval[string](b, `(document.querySelector('#outage-banner') || {innerText: ""}).innerText`)
		st := Eval[string](b, `(document.querySelector('#outage-banner') || {dataset: {state: ""}}).dataset.state`)
		if st == state && strings.Contains(got, want) {
			return got
		}
		if time.Now().After(deadline) {
			b.Screenshot("outage-banner-missing")
			t.Fatalf("after %v the banner on %s says %q, want %q", limit, path, got, want)
		}
		time.Sleep(5 * time.Second)
	}
}

// Microsoft goes away with a 1-minute sync interval: the sync fails (the
// banner says so), the data goes stale after 3 intervals and is kept
// during the outage grace (the banner says until when; the reasons say
// so), and with the grace set to 0 in Manage (saved although Microsoft is
// down) the devices the data allowed are denied and the banner counts
// them. It waits for the data to go stale: about 4 minutes.
func TestOutageJourney(t *testing.T) {
	if testing.Short() {
		t.Skip("waits 3 sync intervals of a minute")
	}
	const secretValue = "Ou7Q~outage.Journey-Secret_0123456789ab"
	ms := startMicrosoft(t, secretValue)
	var low, high string
	for _, m := range ms.emu.Machines() {
		if m.RiskScore == nil || m.MergedIntoMachineID != nil || m.IsPotentialDuplication {
			continue
		}
		switch {
		case *m.RiskScore == "Low" && low == "":
			low = m.ID
		case *m.RiskScore == "High" && high == "":
			high = m.ID
		}
	}
	if low == "" || high == "" {
		t.Fatal("the emulator fleet has no Low- or High-risk machine; change the seed")
	}
	srv := StartServer(t, append(ms.args(), "--sync-interval", "1m")...)
	b := NewBrowser(t, srv)
	createFirstAdmin(t, b)
	signIn(b, adminEmail, adminPassword)
	b.WaitHeading("Dashboard")
	connectDefender(t, b, secretValue, len(ms.emu.Machines()))

	b.ClickLink("Device Posture Checks", mainNav)
	b.ClickLink("New posture check")
	b.WaitHeading("New posture check")
	b.FillByLabel("Name", "Low risk only")
	b.FillByLabel("Data Source", "Microsoft Defender")
	b.WaitText("Maximum risk score")
	b.FillByLabel("Maximum risk score", "Medium")
	saveCheck(t, b)
	if Eval[int](b, `document.querySelectorAll('#outage-banner').length`) != 0 {
		t.Fatal("a banner shows while Defender answers")
	}

	ms.down.Store(true) // the network to Microsoft is cut
	cut := time.Now()
	bannerText(t, b, "/", "failing", "sync is failing", 90*time.Second)
	// A browser lives 3 minutes: wait for the data to go stale without
	// one (the last success was before the cut), then open another.
	time.Sleep(time.Until(cut.Add(3*time.Minute + 5*time.Second)))
	b = NewBrowser(t, srv)
	b.Navigate("/login")
	signIn(b, adminEmail, adminPassword)
	b.WaitHeading("Dashboard")
	kept := bannerText(t, b, "/devices", "kept", "(outage grace)", time.Minute)
	if !strings.Contains(kept, "will be denied") || !strings.Contains(kept, "No successful sync since") {
		t.Errorf("the banner in the grace says %q", kept)
	}
	checkA11y(t, b, "Devices with the outage banner")
	b.Screenshot("outage-banner-kept")

	b.Navigate("/devices/" + low)
	waitInnerText(t, b, "#posture", "Allowed")
	waitInnerText(t, b, "#outage-banner", "(outage grace)")
	b.Navigate("/devices/" + high)
	waitInnerText(t, b, "#posture", "risk score High exceeds the allowed Medium")
	waitInnerText(t, b, "#posture", "kept during an outage)")
	b.Screenshot("outage-reason-kept")

	// The link leads to the card, where the grace is set to 0.
	b.ClickLink("Open the Microsoft Defender card")
	b.WaitHeading("Integrations")
	waitInnerText(t, b, `[data-testid="outage-grace"]`, "4 hours")
	b.ClickButton("Manage")
	b.WaitText("Manage Microsoft Defender")
	b.FillByLabel("Keep using the last synced data for (hours)", "0")
	b.ClickButton("Save")
	b.WaitFlash("Outage grace saved")
	waitInnerText(t, b, `[data-testid="outage-grace"]`, "None")

	denied := bannerText(t, b, "/", "unavailable", "denied because of it", time.Minute)
	if !strings.Contains(denied, "Access is affected") {
		t.Errorf("the banner after the grace says %q", denied)
	}
	b.Screenshot("outage-banner-unavailable")
	b.Navigate("/devices/" + low)
	waitInnerText(t, b, "#posture", "Denied")
	waitInnerText(t, b, "#posture", "stale")
}
