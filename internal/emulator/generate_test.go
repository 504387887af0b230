package emulator

import (
	"bytes"
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// machineFields is every property of
// docs/defender-api.md#the-machine-entity, in payload order.
var machineFields = []string{
	"id", "mergedIntoMachineId", "isPotentialDuplication", "isExcluded", "exclusionReason",
	"computerDnsName", "firstSeen", "lastSeen", "osPlatform", "osVersion", "osProcessor", "version",
	"lastIpAddress", "lastExternalIpAddress", "agentVersion", "osBuild", "healthStatus", "deviceValue",
	"rbacGroupId", "rbacGroupName", "riskScore", "exposureLevel", "isAadJoined", "aadDeviceId",
	"machineTags", "defenderAvStatus", "onboardingStatus", "osArchitecture", "managedBy",
	"managedByStatus", "ipAddresses", "vmMetadata",
}

var nullableFields = []string{
	"mergedIntoMachineId", "exclusionReason", "osVersion", "version", "lastIpAddress",
	"lastExternalIpAddress", "agentVersion", "osBuild", "deviceValue", "rbacGroupName", "riskScore",
	"exposureLevel", "aadDeviceId", "defenderAvStatus", "osArchitecture", "managedBy",
	"managedByStatus", "vmMetadata",
}

func TestMachineJSONFieldsAndNulls(t *testing.T) {
	e, _ := newEmu(t, 1000)
	var p page
	mustJSON(t, get(e, "/api/machines", e.Token()).Body.Bytes(), &p)
	nulls, values := map[string]int{}, map[string]int{}
	for _, raw := range p.Value {
		var m map[string]json.RawMessage
		mustJSON(t, raw, &m)
		if len(m) != len(machineFields) {
			t.Fatalf("machine has %d fields, want %d: %s", len(m), len(machineFields), raw)
		}
		for _, f := range machineFields {
			v, ok := m[f]
			if !ok {
				t.Fatalf("field %q missing: %s", f, raw)
			}
			if string(v) == "null" {
				nulls[f]++
			} else {
				values[f]++
			}
		}
		if c := m["rbacGroupId"][0]; c < '0' || c > '9' {
			t.Fatalf("rbacGroupId = %s, want a JSON number", m["rbacGroupId"])
		}
		if string(m["machineTags"]) == "null" || string(m["ipAddresses"]) == "null" {
			t.Fatalf("machineTags/ipAddresses must be arrays, never null: %s", raw)
		}
	}
	for _, f := range nullableFields {
		if nulls[f] == 0 || values[f] == 0 {
			t.Errorf("%s: %d nulls and %d values in 1,000 machines, want both", f, nulls[f], values[f])
		}
	}
	for _, f := range machineFields {
		if nulls[f] > 0 && !strings.Contains(strings.Join(nullableFields, ","), f) {
			t.Errorf("%s is null %d times but is not nullable", f, nulls[f])
		}
	}
}

// TestEncoderMatchesEncodingJSON pins the fast encoder to encoding/json.
func TestEncoderMatchesEncodingJSON(t *testing.T) {
	e, _ := newEmu(t, 1000)
	ms := e.Machines()
	ms[0].ComputerDNSName = "a<b>&\"c\\\n\t\x01\u2028é\xff"
	ms[0].MachineTags = []string{"tag with 'quote'", "<script>"}
	for i := range ms {
		want, err := json.Marshal(ms[i])
		if err != nil {
			t.Fatal(err)
		}
		if got := appendMachine(nil, &ms[i]); !bytes.Equal(got, want) {
			t.Fatalf("machine %d:\n got %s\nwant %s", i, got, want)
		}
	}
}

var idRE = regexp.MustCompile(`^[0-9a-f]{40}$`)

func TestGeneratedFleet(t *testing.T) {
	e, _ := newEmu(t, 1000)
	ms := e.Machines()
	if len(ms) != 1000 {
		t.Fatalf("%d machines, want 1000", len(ms))
	}
	seen := map[string]bool{}
	byName := map[string][]*Machine{}
	count := map[string]int{}
	digits := map[int]int{}
	for i := range ms {
		m := &ms[i]
		if !idRE.MatchString(m.ID) || seen[m.ID] {
			t.Fatalf("id %q: want 40 lowercase hex, unique", m.ID)
		}
		seen[m.ID] = true
		byName[m.ComputerDNSName] = append(byName[m.ComputerDNSName], m)
		for _, ts := range []time.Time{m.FirstSeen, m.LastSeen} {
			s := ts.Format(time.RFC3339Nano)
			if _, frac, ok := strings.Cut(s, "."); ok {
				digits[len(frac)-1]++
			} else {
				digits[0]++
			}
		}
		if m.LastSeen.Before(m.FirstSeen) || m.LastSeen.After(t0) {
			t.Errorf("%s: firstSeen %v lastSeen %v now %v", m.ID, m.FirstSeen, m.LastSeen, t0)
		}
		count["platform:"+m.OSPlatform]++
		count["health:"+m.HealthStatus]++
		count["onboarding:"+m.OnboardingStatus]++
		count["risk:"+deref(m.RiskScore)]++
		count["exposure:"+deref(m.ExposureLevel)]++
		count["av:"+deref(m.DefenderAVStatus)]++
		if m.IsAADJoined && m.AADDeviceID == nil {
			count["joined without aadDeviceId"]++
		}
		if m.RBACGroupID == 0 && m.RBACGroupName == nil {
			count["unassigned group"]++
		}
		if strings.Contains(m.ComputerDNSName, ".") {
			count["fqdn"]++
		}
		if m.VMMetadata != nil && m.VMMetadata.CloudProvider == "Azure" && isGUID(m.VMMetadata.SubscriptionID) {
			count["vm"]++
		}
		if len(m.MachineTags) > 0 {
			count["tagged"]++
		}
		for _, ip := range m.IPAddresses {
			switch {
			case ip.Type == "SoftwareLoopback" && ip.MACAddress == nil:
				count["loopback"]++
			case ip.OperationalStatus == "Down":
				count["down"]++
			case ip.Type == "Ethernet" && ip.MACAddress != nil && len(*ip.MACAddress) == 12:
				count["ethernet"]++
			}
		}
		if m.IsPotentialDuplication {
			count["duplicates"]++
			if m.MergedIntoMachineID != nil {
				count["merged"]++
			}
		}
	}
	for d := 0; d <= 7; d++ {
		if digits[d] == 0 {
			t.Errorf("no timestamp with %d fractional digits", d)
		}
	}
	if len(digits) > 8 {
		t.Errorf("fractional digit counts %v: want only 0–7", digits)
	}
	for _, k := range []string{
		"platform:Windows10", "platform:Windows11", "platform:WindowsServer2019", "platform:WindowsServer2022",
		"platform:Linux", "platform:Ubuntu", "platform:RedHatEnterpriseLinux", "platform:Debian", "platform:macOS", "platform:iOS", "platform:Android",
		"health:Active", "health:Inactive", "health:ImpairedCommunication", "health:NoSensorData",
		"onboarding:Onboarded", "onboarding:CanBeOnboarded", "onboarding:Unsupported", "onboarding:InsufficientInfo",
		"risk:None", "risk:Informational", "risk:Low", "risk:Medium", "risk:High", "risk:<null>",
		"exposure:Low", "exposure:High", "exposure:<null>",
		"av:Updated", "av:NotUpdated", "av:Disabled", "av:NotReporting", "av:Unknown", "av:<null>",
		"joined without aadDeviceId", "unassigned group", "fqdn", "tagged", "loopback", "down", "ethernet", "merged",
	} {
		if count[k] == 0 {
			t.Errorf("%s: none in 1,000 machines", k)
		}
	}
	if count["health:Active"] < 700 || count["onboarding:Onboarded"] < 850 || count["av:Updated"] < 650 {
		t.Errorf("skew: %d Active, %d Onboarded, %d Updated of 1,000", count["health:Active"], count["onboarding:Onboarded"], count["av:Updated"])
	}
	if n := count["vm"]; n < 50 || n > 200 {
		t.Errorf("%d VMs of 1,000, want about 10%%", n)
	}
	if n := count["duplicates"]; n < 8 || n > 40 {
		t.Errorf("%d reinstall duplicates of 1,000, want about 2%%", n)
	}
	if len(byName[""]) == 0 {
		t.Errorf(`no machine with computerDnsName ""`)
	}
	checkDuplicates(t, byName, t0)
}

// checkDuplicates: a duplicate shares its name with a live record and went
// quiet before that record appeared, and is Inactive once 7 days have
// passed since (Defender keeps its health until then); names are
// otherwise unique.
func checkDuplicates(t *testing.T, byName map[string][]*Machine, now time.Time) {
	t.Helper()
	for name, group := range byName {
		if name == "" {
			continue
		}
		var live []*Machine
		for _, m := range group {
			if !m.IsPotentialDuplication {
				live = append(live, m)
			}
		}
		if len(live) != 1 {
			t.Errorf("name %q: %d live records, want 1", name, len(live))
			continue
		}
		for _, m := range group {
			if m == live[0] {
				continue
			}
			retired := m.HealthStatus == "Inactive" || now.Sub(live[0].FirstSeen) < inactiveAfter
			if !retired || !m.LastSeen.Before(live[0].FirstSeen) {
				t.Errorf("duplicate %s of %q: health %s lastSeen %v, live firstSeen %v", m.ID, name, m.HealthStatus, m.LastSeen, live[0].FirstSeen)
			}
			if m.MergedIntoMachineID != nil && !slices.ContainsFunc(group, func(o *Machine) bool { return o.ID == *m.MergedIntoMachineID }) {
				t.Errorf("duplicate %s merged into %s, which is not a record named %q", m.ID, *m.MergedIntoMachineID, name)
			}
		}
	}
}

func deref(p *string) string {
	if p == nil {
		return "<null>"
	}
	return *p
}

func TestGenerationIsDeterministic(t *testing.T) {
	enc := func(seed int64) []byte {
		e := New(Config{Machines: 300, Seed: seed, Now: func() time.Time { return t0 }})
		b, _ := json.Marshal(e.Machines())
		return b
	}
	if !bytes.Equal(enc(7), enc(7)) {
		t.Errorf("same seed and clock gave different fleets")
	}
	if bytes.Equal(enc(7), enc(8)) {
		t.Errorf("different seeds gave the same fleet")
	}
	if n := len(New(Config{Now: func() time.Time { return t0 }}).Machines()); n != DefaultMachines {
		t.Errorf("default fleet has %d machines, want %d", n, DefaultMachines)
	}
	if n := len(New(Config{Machines: -1}).Machines()); n != 0 {
		t.Errorf("Machines -1: %d machines, want 0", n)
	}
}

func BenchmarkGenerate100k(b *testing.B) {
	for b.Loop() {
		generate(1, 100_000, t0)
	}
}

// BenchmarkListPage10k measures one full page as the sync benchmark sees it:
// 10,000 machines, gzip, through the handler.
func BenchmarkListPage10k(b *testing.B) {
	e, _ := newEmu(b, 10_000)
	e.SetFaults(Faults{NoRateLimit: true})
	tok := e.Token()
	b.ResetTimer()
	for b.Loop() {
		w := get(e, "/api/machines", tok, "Accept-Encoding", "gzip")
		b.SetBytes(int64(w.Body.Len()))
	}
}
