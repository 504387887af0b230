package emulator

import (
	"strings"
	"testing"
	"time"

	"postern/internal/defender/vocab"
	"postern/internal/testkit"
)

// --discovered N adds N device-discovery records, many named like an
// onboarded machine, without changing the onboarded fleet of the seed.
func TestDiscoveredRecords(t *testing.T) {
	plain := New(Config{Machines: 300, Seed: 7, Now: testkit.NewClock(t0).Now}).Machines()
	e := New(Config{Machines: 300, Discovered: 600, Seed: 7, Now: testkit.NewClock(t0).Now})
	ms := e.Machines()
	if len(ms) != 900 {
		t.Fatalf("%d machines, want 300 + 600 discovered", len(ms))
	}
	byID := map[string]bool{}
	for _, m := range plain {
		byID[m.ID] = true
	}
	onboardedNames := map[string]bool{}
	for _, m := range ms {
		if byID[m.ID] && m.OnboardingStatus == "Onboarded" {
			onboardedNames[strings.ToLower(m.ComputerDNSName)] = true
		}
	}
	discovered, twins, kinds := 0, 0, map[string]int{}
	for _, m := range ms {
		if byID[m.ID] {
			continue
		}
		discovered++
		kinds[m.OnboardingStatus]++
		if !vocab.IsDiscovered(m.OnboardingStatus) || m.RiskScore != nil || m.ExposureLevel != nil || m.AgentVersion != nil {
			t.Errorf("discovered record %s: %s, risk %v, exposure %v, agent %v", m.ID, m.OnboardingStatus, m.RiskScore, m.ExposureLevel, m.AgentVersion)
		}
		if m.ComputerDNSName != "" && onboardedNames[strings.ToLower(m.ComputerDNSName)] {
			twins++
		}
	}
	if discovered != 600 || len(kinds) != 3 {
		t.Errorf("%d discovered records of kinds %v, want 600 of all three", discovered, kinds)
	}
	if twins < 200 {
		t.Errorf("%d discovered records share an onboarded machine's name, want about half", twins)
	}
}

// A reinstalled device's old record stays as it was (Active) for 7
// simulated days, then turns Inactive.
func TestReinstallKeepsOldRecordActiveForSevenDays(t *testing.T) {
	ms := []Machine{genMachine(newRand(1, 9), 0, t0)}
	ms[0].OnboardingStatus, ms[0].HealthStatus, ms[0].IsPotentialDuplication = "Onboarded", "Active", false
	clk := testkit.NewClock(t0)
	e := New(Config{Machines: -1, Seed: 3, Now: clk.Now})
	e.SetMachines(ms)
	oldID := ms[0].ID
	e.Mutate(func(ms []Machine) []Machine { return reinstall(newRand(2, 2), ms, 0, clk.Now()) })
	health := func() string {
		for _, m := range e.Machines() {
			if m.ID == oldID {
				return m.HealthStatus
			}
		}
		t.Fatal("the old record is gone")
		return ""
	}
	if n := len(e.Machines()); n != 2 {
		t.Fatalf("%d records after the reinstall, want the old and the new", n)
	}
	clk.Advance(6*24*time.Hour + 23*time.Hour)
	e.Drift(1)
	if h := health(); h != "Active" {
		t.Errorf("after 6 days 23 hours the old record is %s, want still Active", h)
	}
	clk.Advance(time.Hour)
	e.Drift(1)
	if h := health(); h != "Inactive" {
		t.Errorf("after 7 days the old record is %s, want Inactive", h)
	}
}
