package e2e

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"postern/internal/emulator"
)

// connectDefender walks Manage with the emulator's credentials and waits for
// the first sync to show its devices on the card.
func connectDefender(t *testing.T, b *Browser, secretValue string, machines int) {
	t.Helper()
	openManageDialog(b)
	fillCredentials(b, emulator.DemoTenantID, emulator.DemoClientID, secretValue)
	b.ClickButton("Save")
	b.WaitFlash("Microsoft Defender is connected")
	// A first sync of 20,000 machines under -race on a busy CI machine
	// takes longer than the usual 20 s.
	waitInnerTextWithin(t, b, `[data-testid="devices-synced"]`, commas(machines), 20*time.Second+time.Duration(machines)*3*time.Millisecond)
}

type evalAnswer struct {
	Allowed bool `json:"allowed"`
	Device  struct {
		ID        string `json:"defender_machine_id"`
		MatchedBy string `json:"matched_by"`
	} `json:"device"`
	Checks []struct {
		Name    string   `json:"name"`
		Result  string   `json:"result"`
		Reasons []string `json:"reasons"`
	} `json:"checks"`
}

func evaluate(t *testing.T, srv *Server, token string, device map[string]any) evalAnswer {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"device": device})
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/v1/posture/evaluate", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("evaluate: status %d", res.StatusCode)
	}
	var a evalAnswer
	if err := json.NewDecoder(res.Body).Decode(&a); err != nil {
		t.Fatal(err)
	}
	return a
}

func TestPostureCheckJourney(t *testing.T) {
	const secretValue = "Ps7Q~posture.Journey-Secret_0123456789ab"
	ms := startMicrosoft(t, secretValue)
	var high, low string
	for _, m := range ms.emu.Machines() {
		if m.RiskScore == nil || m.MergedIntoMachineID != nil || m.IsPotentialDuplication {
			continue
		}
		switch *m.RiskScore {
		case "High":
			if high == "" {
				high = m.ID
			}
		case "Low":
			if low == "" {
				low = m.ID
			}
		}
	}
	if high == "" || low == "" {
		t.Fatal("the emulator fleet has no High- or Low-risk machine; change the seed")
	}
	srv, b := signedInAdmin(t, ms.args()...)
	connectDefender(t, b, secretValue, len(ms.emu.Machines()))

	// A token for the gateway, shown once.
	b.ClickLink("API tokens", mainNav)
	b.WaitHeading("API tokens")
	b.FillByLabel("Token name", "Gateway")
	b.ClickButton("Create token")
	b.WaitText("Copy it now")
	token := Eval[string](b, `document.querySelector('[data-testid="new-token"]').innerText`)

	b.ClickLink("Device Posture Checks", mainNav)
	b.WaitHeading("Device Posture Checks")
	b.ClickLink("New posture check")
	b.WaitHeading("New posture check")
	b.FillByLabel("Name", "Low risk only")
	if !Eval[bool](b, `[...document.querySelectorAll('#source option')].some(o => o.text === 'Microsoft Defender')`) {
		t.Fatal("Data Source does not list Microsoft Defender while it is enabled")
	}
	b.FillByLabel("Data Source", "Microsoft Defender")
	b.WaitText("Maximum risk score")
	b.FillByLabel("Maximum risk score", "Medium")
	waitInnerText(t, b, "#impact", "risk score High exceeds the allowed Medium")
	if Eval[string](b, `document.querySelector('[data-testid="impact-denied"]').innerText`) == "0" {
		t.Fatal("the impact preview shows no failing device")
	}
	checkA11y(t, b, "posture check editor")
	b.Screenshot("posture-editor")
	b.ClickButton("Save")
	b.ClickButton("Save and deny " + strconv.Itoa(number(t, b, `[data-testid="save-confirm"]`)) + " devices")
	b.WaitFlash("is saved")
	b.WaitRow("Low risk only")

	denied := evaluate(t, srv, token, map[string]any{"defender_machine_id": high})
	if denied.Allowed || len(denied.Checks) != 1 || denied.Checks[0].Result != "fail" ||
		!strings.Contains(strings.Join(denied.Checks[0].Reasons, " "), "risk score High exceeds the allowed Medium") {
		t.Fatalf("a High-risk device: %+v", denied)
	}
	if denied.Device.MatchedBy != "defender_machine_id" {
		t.Errorf("matched_by = %q", denied.Device.MatchedBy)
	}
	if allowed := evaluate(t, srv, token, map[string]any{"defender_machine_id": low}); !allowed.Allowed {
		t.Fatalf("a Low-risk device was denied: %+v", allowed)
	}

	// Disable: Defender leaves the dropdown, the check says so, data stays.
	b.ClickLink("Integrations", mainNav)
	b.OpenMenu("Microsoft Defender actions") // Disable is in the ⚙️ menu only
	b.ClickButton("Disable")
	b.WaitText("Low risk only") // the confirmation lists the checks that use Defender
	b.ClickButton("Disable")
	waitInnerText(t, b, "#defender-card", "Disabled")
	b.ClickLink("Device Posture Checks", mainNav)
	b.WaitRow("Data source disabled")
	b.ClickLink("New posture check")
	b.WaitHeading("New posture check")
	if Eval[bool](b, `[...document.querySelectorAll('#source option')].some(o => o.text === 'Microsoft Defender')`) {
		t.Fatal("Data Source still lists Microsoft Defender while it is disabled")
	}
	unknown := evaluate(t, srv, token, map[string]any{"defender_machine_id": low})
	if unknown.Allowed || unknown.Checks[0].Result != "unknown" {
		t.Fatalf("with Defender disabled the check should be unknown and deny: %+v", unknown)
	}
	b.ClickLink("Devices", mainNav)
	b.WaitHeading("Devices")
	b.WaitRow(firstProtected(t, ms.emu.Machines()).ComputerDNSName)

	b.ClickLink("Integrations", mainNav)
	b.ClickButton("Enable")
	waitInnerText(t, b, "#defender-card", "Connected")
	b.ClickLink("Device Posture Checks", mainNav)
	b.WaitRow("Low risk only")
	if strings.Contains(Eval[string](b, `document.querySelector('main').innerText`), "Data source disabled") {
		t.Error("the check still says Data source disabled after Enable")
	}
	if again := evaluate(t, srv, token, map[string]any{"defender_machine_id": high}); again.Allowed || again.Checks[0].Result != "fail" {
		t.Fatalf("after Enable a High-risk device: %+v", again)
	}
}
