package emulator

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// The answers a client must not mistake for "no machines": a proxy's HTML
// 404 on every API path, Defender's own JSON 404 for a tenant that has
// never used Defender, and a sporadic ResourceNotFound on a later page.
func TestRealismNotFoundAnswers(t *testing.T) {
	e, _ := newEmu(t, 25)
	tok := e.Token()
	e.SetFaults(Faults{Realism: Realism{HTML404: true}})
	w := get(e, "/api/machines?$top=10", tok)
	if w.Code != 404 || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/html") || !strings.Contains(w.Body.String(), "<html>") {
		t.Errorf("HTML404: %d %q %q", w.Code, w.Header().Get("Content-Type"), truncate(w.Body.String(), 80))
	}

	e.SetFaults(Faults{Realism: Realism{NotFoundOnPage: 2}})
	if w := get(e, "/api/machines?$top=10&$skip=0", tok); w.Code != 200 {
		t.Errorf("page 1: %d", w.Code)
	}
	wantAPIError(t, get(e, "/api/machines?$top=10&$skip=10", tok), 404, "ResourceNotFound")

	empty := New(Config{Machines: -1, Seed: 1})
	empty.SetFaults(Faults{Realism: Realism{EmptyTenant: true}})
	wantAPIError(t, get(empty, "/api/machines?$top=10", empty.Token()), 404, "ResourceNotFound")
	empty.SetFaults(Faults{})
	if w := get(empty, "/api/machines?$top=10", empty.Token()); w.Code != 200 {
		t.Errorf("an onboarded tenant without machines answers %d, want 200 with an empty list", w.Code)
	}
}

// StringRBACGroup sends rbacGroupId as a string; UnreadableEvery sends an
// osBuild that is not a number for the same machines on every call;
// Realistic adds adapters; $select is accepted.
func TestRealismPayload(t *testing.T) {
	e, _ := newEmu(t, 200)
	tok := e.Token()
	e.SetFaults(Faults{Realism: Realism{StringRBACGroup: true, UnreadableEvery: 10}})
	var p page
	mustJSON(t, get(e, "/api/machines?$top=200&$select=id,computerDnsName", tok).Body.Bytes(), &p)
	bad := 0
	for _, raw := range p.Value {
		var m map[string]any
		mustJSON(t, raw, &m)
		if _, ok := m["rbacGroupId"].(string); !ok {
			t.Fatalf("rbacGroupId = %#v, want a string", m["rbacGroupId"])
		}
		if m["osBuild"] == "n/a" {
			bad++
		}
	}
	if bad == 0 || bad > 50 {
		t.Errorf("%d of 200 machines unreadable, want about 20", bad)
	}
	var again page
	mustJSON(t, get(e, "/api/machines?$top=200", tok).Body.Bytes(), &again)
	for i := range p.Value {
		if strings.Contains(string(p.Value[i]), `"n/a"`) != strings.Contains(string(again.Value[i]), `"n/a"`) {
			t.Fatal("the unreadable machines differ between calls")
		}
	}

	e.SetFaults(Faults{})
	plain := get(e, "/api/machines?$top=200", tok).Body.Len()
	e.SetFaults(Faults{Realism: Realism{Realistic: true}})
	var real page
	body := get(e, "/api/machines?$top=200", tok).Body.Bytes()
	mustJSON(t, body, &real)
	for _, raw := range real.Value {
		var m struct {
			IPAddresses []map[string]any `json:"ipAddresses"`
		}
		if err := json.Unmarshal(raw, &m); err != nil || len(m.IPAddresses) < 3 {
			t.Fatalf("realistic machine has %d addresses (%v)", len(m.IPAddresses), err)
		}
	}
	if len(body) < plain*9/5 {
		t.Errorf("realistic page %d bytes, plain %d: want at least 1.8 times as large", len(body), plain)
	}
}

func TestRealismPageDelay(t *testing.T) {
	r := Realism{PageDelayPer1000: time.Second}
	if got := r.pageDelay(2000); got != 2*time.Second {
		t.Errorf("2,000 machines wait %v, want 2s", got)
	}
	if got := (&Realism{}).pageDelay(2000); got != 0 {
		t.Errorf("off: %v", got)
	}
}
