package emulator

import (
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

func eqPtr(p *string, v string) bool { return p != nil && strings.EqualFold(*p, v) }

func TestFilterMatches(t *testing.T) {
	e, _ := newEmu(t, 1000)
	fleet := e.Machines()
	first := fleet[0]
	var someIP string
	for _, m := range fleet {
		if m.LastIPAddress != nil {
			someIP = *m.LastIPAddress
			break
		}
	}
	day := time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		filter   string
		want     func(*Machine) bool
		nonEmpty bool
	}{
		{"riskScore eq 'High'", func(m *Machine) bool { return eqPtr(m.RiskScore, "High") }, true},
		{"riskScore eq 'high'", func(m *Machine) bool { return eqPtr(m.RiskScore, "High") }, true},
		{"riskScore eq null", func(m *Machine) bool { return m.RiskScore == nil }, true},
		{"healthStatus ne 'Active'", func(m *Machine) bool { return m.HealthStatus != "Active" }, true},
		{"onboardingstatus eq 'onboarded'", func(m *Machine) bool { return m.OnboardingStatus == "Onboarded" }, true},
		{"exposureLevel eq 'Medium' and osPlatform eq 'Windows11'", func(m *Machine) bool { return eqPtr(m.ExposureLevel, "Medium") && m.OSPlatform == "Windows11" }, true},
		{"(deviceValue eq 'High') and (healthStatus eq 'Active')", func(m *Machine) bool { return eqPtr(m.DeviceValue, "High") && m.HealthStatus == "Active" }, true},
		{"lastSeen gt 2026-11-24Z", func(m *Machine) bool { return m.LastSeen.After(day) }, true},
		{"lastSeen le 2026-11-24T00:00:00Z", func(m *Machine) bool { return !m.LastSeen.After(day) }, true},
		{"lastSeen ge 2026-11-24T00:00:00.0000000Z", func(m *Machine) bool { return !m.LastSeen.Before(day) }, true},
		{"startswith(computerDnsName,'desktop-')", func(m *Machine) bool { return strings.HasPrefix(m.ComputerDNSName, "desktop-") }, true},
		{"startswith(computerDnsName, 'DESKTOP-')", func(m *Machine) bool { return strings.HasPrefix(m.ComputerDNSName, "desktop-") }, true},
		{"machineTags/any(tag: tag eq 'finance')", func(m *Machine) bool { return slices.Contains(m.MachineTags, "finance") }, true},
		{"machineTags/any(t:t eq 'vip') and riskScore ne 'None'", func(m *Machine) bool { return slices.Contains(m.MachineTags, "vip") && !eqPtr(m.RiskScore, "None") }, true},
		{"rbacGroupId eq 0", func(m *Machine) bool { return m.RBACGroupID == 0 }, true},
		{"rbacGroupId ge 212 and rbacGroupId lt 300", func(m *Machine) bool { return m.RBACGroupID >= 212 && m.RBACGroupID < 300 }, true},
		{"rbacGroupId eq '140'", func(m *Machine) bool { return m.RBACGroupID == 140 }, true},
		{"aadDeviceId eq null", func(m *Machine) bool { return m.AADDeviceID == nil }, true},
		{"aadDeviceId ne null", func(m *Machine) bool { return m.AADDeviceID != nil }, true},
		{"id eq '" + first.ID + "'", func(m *Machine) bool { return m.ID == first.ID }, true},
		{"version eq '23H2'", func(m *Machine) bool { return eqPtr(m.Version, "23H2") }, true},
		{"lastIpAddress eq '" + someIP + "'", func(m *Machine) bool { return eqPtr(m.LastIPAddress, someIP) }, true},
		{"computerDnsName eq 'it''s-not-there'", func(m *Machine) bool { return false }, false},
	}
	for _, tt := range tests {
		pred, err := parseFilter(tt.filter)
		if err != nil {
			t.Errorf("%s: %v", tt.filter, err)
			continue
		}
		var got, want []string
		for i := range fleet {
			if pred(&fleet[i]) {
				got = append(got, fleet[i].ID)
			}
			if tt.want(&fleet[i]) {
				want = append(want, fleet[i].ID)
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: %d matches, want %d", tt.filter, len(got), len(want))
		}
		if tt.nonEmpty && len(want) == 0 {
			t.Errorf("%s: the test fleet has no match; the case proves nothing", tt.filter)
		}
	}
}

func TestFilterErrors(t *testing.T) {
	for _, f := range []string{
		"",
		"riskScore eq 'High' or riskScore eq 'Low'",
		"not (riskScore eq 'High')",
		"contains(computerDnsName,'x')",
		"endswith(computerDnsName,'x')",
		"firstSeen gt 2020-01-01Z",
		"rbacGroupName eq 'Servers'",
		"riskScore gt 'Low'",
		"riskScore eq High",
		"riskScore eq 'High",
		"riskScore 'High'",
		"lastSeen gt '2020-01-01'",
		"lastSeen gt yesterday",
		"machineTags eq 'x'",
		"machineTags/any(t: x eq 'a')",
		"machineTags/any(t: t ne 'a')",
		"rbacGroupId eq abc",
		"startswith(computerDnsName, 5)",
		"startswith(lastSeen,'2020')",
		"(riskScore eq 'High'",
		"riskScore eq 'High')",
		"riskScore in ('High','Medium')",
		"riskScore eq 'High' and",
	} {
		if _, err := parseFilter(f); err == nil {
			t.Errorf("parseFilter(%q) succeeded, want an error", f)
		} else if !strings.HasPrefix(err.Error(), "Invalid $filter") {
			t.Errorf("parseFilter(%q) = %q, want an 'Invalid $filter' message", f, err)
		}
	}
}

func TestFilterOverHTTP(t *testing.T) {
	e, _ := newEmu(t, 300)
	tok := e.Token()
	var p page
	// "+" for spaces, as in the documented example ?$filter=riskScore+eq+'High'.
	mustJSON(t, get(e, "/api/machines?$filter=riskScore+eq+'High'", tok).Body.Bytes(), &p)
	var want []string
	for _, m := range e.Machines() {
		if eqPtr(m.RiskScore, "High") {
			want = append(want, m.ID)
		}
	}
	if got := ids(t, p); !slices.Equal(got, want) || len(want) == 0 {
		t.Errorf("High risk: %d ids, want %d", len(got), len(want))
	}
	body := wantAPIError(t, get(e, "/api/machines?$filter="+url.QueryEscape("riskScore eq 'High' or healthStatus eq 'Active'"), tok), 400, "ODataError")
	if !strings.Contains(body.Error.Message, "or") {
		t.Errorf("ODataError message %q should point at the unsupported part", body.Error.Message)
	}
}
