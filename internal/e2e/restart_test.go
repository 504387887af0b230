package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"postern/internal/emulator"
	"postern/internal/testkit"
)

// verdict is what the enforcement API answered for one device.
type verdict struct {
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

func (v verdict) String() string {
	s := fmt.Sprintf("allowed=%v matched_by=%s", v.Allowed, v.Device.MatchedBy)
	for _, c := range v.Checks {
		s += fmt.Sprintf("; %s %s %q", c.Name, c.Result, c.Reasons)
	}
	return s
}

// sameVerdict compares what a gateway acts on: the decision, the machine
// and each check's result.
func sameVerdict(a, b verdict) bool {
	if a.Allowed != b.Allowed || a.Device.ID != b.Device.ID || len(a.Checks) != len(b.Checks) {
		return false
	}
	for i := range a.Checks {
		if a.Checks[i].Name != b.Checks[i].Name || a.Checks[i].Result != b.Checks[i].Result {
			return false
		}
	}
	return true
}

// askVerdict asks base's enforcement API about a Defender machine id.
func askVerdict(t *testing.T, base, token, id string) (int, verdict) {
	t.Helper()
	body := `{"device":{"defender_machine_id":"` + id + `"}}`
	req, _ := http.NewRequest(http.MethodPost, base+"/api/v1/posture/evaluate", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	res, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("evaluate %s: %v", id, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var v verdict
	if res.StatusCode == http.StatusOK {
		if err := json.Unmarshal(raw, &v); err != nil {
			t.Fatalf("evaluate %s: %v in %s", id, err, raw)
		}
	}
	return res.StatusCode, v
}

var tokenPattern = regexp.MustCompile(`pst_[a-z2-7]{52}`)

// createToken makes an API token through the console and reads it from
// the one answer that shows it.
func (c *console) createToken(base string) string {
	c.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+"/settings/api-tokens", strings.NewReader(url.Values{"name": {"Gateway"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	res, err := c.client.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	var b bytes.Buffer
	io.Copy(&b, res.Body)
	token := tokenPattern.FindString(b.String())
	if token == "" {
		c.t.Fatalf("creating a token: %s, no token in the answer", res.Status)
	}
	return token
}

// pickMachines returns the id of a High-risk machine and of a Low-risk
// one, neither merged into another.
func pickMachines(t *testing.T, ms []emulator.Machine) (high, low string) {
	for _, m := range ms {
		if m.RiskScore == nil || m.MergedIntoMachineID != nil {
			continue
		}
		switch *m.RiskScore {
		case "High":
			high = m.ID
		case "Low":
			low = m.ID
		}
	}
	if high == "" || low == "" {
		t.Fatal("the generated fleet has no High-risk or no Low-risk machine")
	}
	return high, low
}

// After a kill -9 and a restart over 100,000 devices, the very first
// answer of the enforcement API, sent the moment the port opens, is the
// verdict the gateway got before the crash: the stored snapshot and the
// checks are loaded before Postern listens (docs/design.md, readiness).
// The server is built without the race detector (plainBinary): the test is
// about scale and order, and other journeys run the race-built server.
func TestFirstAnswerAfterRestartIsTheRightVerdict(t *testing.T) {
	machines := 100_000
	if testing.Short() {
		machines = 20_000
	}
	emu := emulator.New(emulator.Config{Machines: machines, Seed: 7})
	emu.SetFaults(emulator.Faults{NoRateLimit: true})
	ms := httptest.NewServer(emu)
	t.Cleanup(ms.Close)
	args := []string{"--defender-login-url", ms.URL, "--defender-api-url", ms.URL}
	dataDir := t.TempDir()

	srv := startBinaryIn(t, plainBinary, dataDir, args...)
	c := newConsole(t)
	c.setUp(srv.URL)
	c.configure(srv.URL)
	testkit.WaitFor(t, 3*time.Minute, "the first sync", func() bool {
		return countRuns(t, filepath.Join(dataDir, "postern.db"), "success") > 0
	})
	check := url.Values{"name": {"Low risk only"}, "source": {"defender"}, "max_risk": {"Medium"},
		"mode": {"enforce"}, "when_unavailable": {"deny"}, "enabled": {"on"}, "confirm_denied": {"1000000000"}}
	if res := c.post(srv.URL, "/zero-trust/posture-checks", check); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("saving the check: %s", res.Status)
	}
	token := c.createToken(srv.URL)
	high, low := pickMachines(t, emu.Machines())
	before := map[string]verdict{}
	for _, id := range []string{high, low} {
		status, v := askVerdict(t, srv.URL, token, id)
		if status != http.StatusOK {
			t.Fatalf("before the crash, evaluate %s: status %d", id, status)
		}
		before[id] = v
	}
	if before[high].Allowed || !before[low].Allowed {
		t.Fatalf("before the crash: High %s, Low %s; want High denied, Low allowed", before[high], before[low])
	}
	srv.kill()

	restarted := launchBinaryIn(t, plainBinary, dataDir, args...)
	addr := strings.TrimPrefix(restarted.URL, "http://")
	testkit.WaitFor(t, 2*time.Minute, "the port to open", func() bool {
		conn, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err == nil {
			conn.Close()
		}
		return err == nil
	})
	for _, id := range []string{high, low} {
		status, v := askVerdict(t, restarted.URL, token, id)
		if status != http.StatusOK || !sameVerdict(v, before[id]) {
			t.Errorf("the first answer for %s after the restart: status %d, %s; before the crash %s", id, status, v, before[id])
		}
	}
	res, err := http.Get(restarted.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Errorf("readyz after the restart: %s", res.Status)
	}
}

// waitCounted waits until the policy engine has counted the latest synced
// snapshot (readyz?verbose), so that what a journey changes next is a
// change of verdict, not the first verdict of a new device.
func waitCounted(t *testing.T, base string) {
	t.Helper()
	testkit.WaitFor(t, time.Minute, "the engine to count the synced fleet", func() bool {
		res, err := http.Get(base + "/readyz?verbose")
		if err != nil {
			return false
		}
		defer res.Body.Close()
		var r struct {
			Snapshot struct {
				RunID int64 `json:"run_id"`
			} `json:"snapshot"`
			Policy struct {
				CountedRunID int64 `json:"counted_run_id"`
			} `json:"policy"`
		}
		return json.NewDecoder(res.Body).Decode(&r) == nil && r.Snapshot.RunID > 0 && r.Policy.CountedRunID == r.Snapshot.RunID
	})
}
