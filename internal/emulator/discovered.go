package emulator

import (
	"math/rand/v2"
	"time"
)

// Device discovery: besides the onboarded machines, /api/machines lists the
// devices Defender's device discovery saw on the network (onboarding status
// CanBeOnboarded, Unsupported, InsufficientInfo), in some tenants thirty
// times as many (docs/defender-api.md#duplicates). Many share a name with an
// onboarded machine: the same host seen by the network scan before or
// beside its sensor.

var discoveredMix = []choice[string]{{"CanBeOnboarded", 70}, {"Unsupported", 15}, {"InsufficientInfo", 15}}

// withDiscovered adds n discovered records to ms, from their own random
// stream so the onboarded fleet of a seed stays the same. About half share
// the name of an onboarded machine; their lastSeen is often newer than its.
func withDiscovered(ms []Machine, seed int64, n int, now time.Time) []Machine {
	if n <= 0 {
		return ms
	}
	r := newRand(seed, 3)
	var onboarded []int
	for i := range ms {
		if ms[i].OnboardingStatus == "Onboarded" && ms[i].ComputerDNSName != "" {
			onboarded = append(onboarded, i)
		}
	}
	out := make([]Machine, len(ms), len(ms)+n)
	copy(out, ms)
	for k := range n {
		var twin *Machine
		if len(onboarded) > 0 && r.IntN(2) == 0 {
			twin = &ms[onboarded[r.IntN(len(onboarded))]]
		}
		out = append(out, discoveredMachine(r, len(ms)+k, twin, now))
	}
	return sortByID(out)
}

// discoveredMachine is one record of device discovery: no sensor, so no
// risk, exposure, antivirus status, agent or Entra id; twin, when given,
// is the onboarded machine whose name it shares.
func discoveredMachine(r *rand.Rand, idx int, twin *Machine, now time.Time) Machine {
	m := genMachine(r, idx, now)
	m.OnboardingStatus = pick(r, discoveredMix)
	m.HealthStatus = pick(r, []choice[string]{{"NoSensorData", 6}, {"Inactive", 3}, {"Unknown", 1}})
	m.RiskScore, m.ExposureLevel, m.DefenderAVStatus, m.AgentVersion = nil, nil, nil, nil
	m.IsAADJoined, m.AADDeviceID, m.RBACGroupID, m.RBACGroupName = false, nil, 0, nil
	m.MachineTags, m.IsExcluded, m.ExclusionReason = []string{}, false, nil
	if twin != nil {
		m.ComputerDNSName, m.OSPlatform = twin.ComputerDNSName, twin.OSPlatform
		m.LastSeen = stamp(r, now.Add(-randDur(r, 0, 6*time.Hour))) // the scan saw it lately
	}
	return m
}
