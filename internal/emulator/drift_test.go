package emulator

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

func TestDrift(t *testing.T) {
	a, clkA := newEmu(t, 200)
	b, clkB := newEmu(t, 200)
	before := map[string]Machine{}
	for _, m := range a.Machines() {
		before[m.ID] = m
	}
	clkA.Advance(time.Hour)
	clkB.Advance(time.Hour)
	a.Drift(3)
	b.Drift(3)
	ja, _ := json.Marshal(a.Machines())
	jb, _ := json.Marshal(b.Machines())
	if string(ja) != string(jb) {
		t.Fatalf("same seed, clock and steps gave different fleets")
	}
	changed := 0
	for _, m := range a.Machines() {
		if old, ok := before[m.ID]; ok && !reflect.DeepEqual(signals(m), signals(old)) {
			changed++
		}
	}
	if changed == 0 || changed > len(before)/5 {
		t.Errorf("3 steps changed signals of %d of %d machines, want a few %%", changed, len(before))
	}

	a.Drift(100)
	var added, newDuplicates, lastSeenBack int
	after := a.Machines()
	for _, m := range after {
		old, ok := before[m.ID]
		if !ok {
			added++
			continue
		}
		if m.LastSeen.Before(old.LastSeen) {
			lastSeenBack++
		}
		if m.IsPotentialDuplication && !old.IsPotentialDuplication {
			newDuplicates++
		}
	}
	if len(after) < len(before) {
		t.Errorf("drift removed machines: %d → %d", len(before), len(after))
	}
	if added == 0 || newDuplicates == 0 {
		t.Errorf("added %d machines and %d reinstall duplicates over 103 steps, want both", added, newDuplicates)
	}
	if lastSeenBack > 0 {
		t.Errorf("lastSeen went backwards for %d machines", lastSeenBack)
	}
	byName := map[string][]*Machine{}
	for i := range after {
		byName[after[i].ComputerDNSName] = append(byName[after[i].ComputerDNSName], &after[i])
	}
	checkDuplicates(t, byName, clkA.Now())
}

func signals(m Machine) []any {
	return []any{deref(m.RiskScore), deref(m.ExposureLevel), m.HealthStatus, deref(m.DefenderAVStatus), m.LastSeen}
}
