package posture

import (
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strconv"
	"testing"
	"time"

	"postern/internal/fleet"
)

// benchFleet builds n devices with varied, realistic values: null fields,
// docs vs real casing, Entra-joined devices without aadDeviceId, FQDN and
// short host names, and reinstalls (an old Inactive record, sometimes
// merged, sharing the host and Entra id with a new one).
func benchFleet(n int, now time.Time) []fleet.Device {
	r := rand.New(rand.NewPCG(1, 2))
	pick := func(vals ...string) string { return vals[r.IntN(len(vals))] }
	id := func(i int) string {
		s := sha1.Sum([]byte(strconv.Itoa(i)))
		return hex.EncodeToString(s[:])
	}
	platforms := []string{"Windows11", "Windows10", "WindowsServer2022", "macOS", "Linux", "iOS", "Android"}
	builds := map[string][]int64{"Windows11": {22000, 22621, 22631, 26100}, "Windows10": {19044, 19045}, "WindowsServer2022": {20348}}
	devices := make([]fleet.Device, 0, n)
	for i := 0; len(devices) < n; i++ {
		p := platforms[r.IntN(len(platforms))]
		var build int64
		if b := builds[p]; b != nil && r.IntN(20) > 0 {
			build = b[r.IntN(len(b))]
		}
		d := fleet.Device{
			ID:               id(i),
			Host:             fmt.Sprintf("host-%06d", i),
			OSPlatform:       p,
			OSBuild:          build,
			HealthStatus:     pick("Active", "Active", "Active", "Active", "Inactive", "ImpairedCommunication", "NoSensorData"),
			RiskScore:        pick("None", "Informational", "Low", "Low", "Medium", "High", "", "low"),
			ExposureLevel:    pick("None", "Low", "Medium", "Medium", "High", ""),
			OnboardingStatus: pick("Onboarded", "Onboarded", "onboarded", "CanBeOnboarded", "InsufficientInfo"),
			AVStatus:         pick("Updated", "Updated", "Updated", "NotUpdated", "Disabled", "NotReporting", ""),
			IsAADJoined:      r.IntN(10) < 8,
			LastSeen:         now.Add(-time.Duration(r.Int64N(int64(72 * time.Hour)))),
		}
		if r.IntN(2) == 0 {
			d.Host += ".corp.example.com"
		}
		if d.IsAADJoined && r.IntN(10) > 0 { // joined, yet 10% have a null aadDeviceId
			d.AADDeviceID = fmt.Sprintf("%08x-%04x-4%03x-8%03x-%012x", r.Uint32(), r.IntN(1<<16), r.IntN(1<<12), r.IntN(1<<12), r.Int64N(1<<48))
		}
		switch r.IntN(6) {
		case 0:
			d.Tags = []string{"finance", "vpn-allowed"}
		case 1:
			d.Tags = []string{"quarantine"}
		case 2:
			d.Tags = []string{"vpn-allowed", "lab", "eu"}
		}
		if r.IntN(100) == 0 {
			d.Removed = true
		}
		devices = append(devices, d)
		if r.IntN(50) == 0 && len(devices) < n { // reinstalled: the old record lingers
			old := d
			old.ID = id(-i - 1)
			old.HealthStatus = "Inactive"
			old.LastSeen = d.LastSeen.Add(-10 * 24 * time.Hour)
			old.PotentialDuplicate = true
			if r.IntN(2) == 0 {
				old.MergedInto = d.ID
			}
			devices = append(devices, old)
		}
	}
	return devices
}

// benchChecks are 20 checks mixing every condition type, modes and
// WhenUnavailable choices.
func benchChecks() []Check {
	specs := []struct {
		src  string
		spec Spec
	}{
		{SourceDefender, Spec{HealthActive: true}},
		{SourceDefender, Spec{MaxRisk: "Medium"}},
		{SourceDefender, Spec{MaxExposure: "Medium"}},
		{SourceDefender, Spec{RequireOnboarded: true}},
		{SourceDefender, Spec{AVStatuses: []string{"Updated", "NotReporting"}}},
		{SourceDefender, Spec{LastSeenHours: 48}},
		{SourceDefender, Spec{OSPlatforms: []string{"Windows11", "Windows10", "macOS"}}},
		{SourceDefender, Spec{MinOSBuild: map[string]int64{"Windows11": 22631, "Windows10": 19045}}},
		{SourceDefender, Spec{RequiredTags: []string{"vpn-allowed"}}},
		{SourceDefender, Spec{ForbiddenTags: []string{"quarantine", "compromised"}}},
		{SourceDefender, Spec{RequireEntraJoined: true}},
		{SourceDefender, Spec{HealthActive: true, MaxRisk: "Low", RequireOnboarded: true, LastSeenHours: 24}},
		{SourceDefender, Spec{MaxRisk: "High", MaxExposure: "High", AVStatuses: []string{"Updated"}, RequireEntraJoined: true}},
		{SourceDefender, Spec{OSPlatforms: []string{"Windows11"}, MinOSBuild: map[string]int64{"Windows11": 26100}, ForbiddenTags: []string{"lab"}}},
		{SourceDeviceReport, Spec{ReportOS: []string{"Windows", "macOS"}}},
		{SourceDeviceReport, Spec{ReportMinOSVersion: "10.0.22631"}},
		{SourceDeviceReport, Spec{ReportFirewall: true}},
		{SourceDeviceReport, Spec{ReportDiskEncrypted: true}},
		{SourceDeviceReport, Spec{ReportMinClientVersion: "1.4.2"}},
		{SourceDeviceReport, Spec{ReportOS: []string{"Windows"}, ReportMinOSVersion: "10.0", ReportFirewall: true, ReportMinClientVersion: "1.0.0"}},
	}
	checks := make([]Check, len(specs))
	for i, s := range specs {
		checks[i] = Check{ID: int64(i + 1), Name: fmt.Sprintf("check %d", i+1), Source: s.src, Enabled: true, Spec: s.spec,
			Mode: []string{ModeEnforce, ModeEnforce, ModeMonitor}[i%3], WhenUnavailable: []string{"", UnavailableDeny, UnavailableAllow}[i%3]}
	}
	return Compile(checks)
}

// BenchmarkEvaluate measures one enforcement request in process: match a
// device in a 100,000-device snapshot, then evaluate 20 checks.
func BenchmarkEvaluate(b *testing.B) {
	now := time.Date(2026, 11, 25, 10, 5, 40, 0, time.UTC)
	devices := benchFleet(100_000, now)
	snap := fleet.NewSnapshot(devices, now.Add(-3*time.Minute), 1)
	checks := benchChecks()
	exceptions := []Exception{
		{ID: 1, DeviceID: devices[10].ID, CheckID: 2, CreatedBy: "alice", Reason: "patch pending", ExpiresAt: now.Add(time.Hour)},
		{ID: 2, DeviceID: devices[20].ID, CheckID: 0, CreatedBy: "bob", Reason: "VIP", ExpiresAt: now.Add(-time.Hour)},
	}
	reports := []Report{
		goodReport(),
		{OS: "macOS", OSVersion: "14.4.1", ClientVersion: "1.3.0", Firewall: boolp(false)},
		{OS: "linux", OSVersion: "6.8.0-45-generic", ClientVersion: "v1.5.0-rc.1", DiskEncrypted: boolp(true)},
		{},
	}
	r := rand.New(rand.NewPCG(3, 4))
	const nReq = 4096
	kinds := []struct {
		name string
		req  func(d *fleet.Device) (Request, bool)
	}{
		{"by_id", func(d *fleet.Device) (Request, bool) { return Request{DefenderMachineID: d.ID}, true }},
		{"by_aad", func(d *fleet.Device) (Request, bool) { return Request{AADDeviceID: d.AADDeviceID}, d.AADDeviceID != "" }},
		{"by_host", func(d *fleet.Device) (Request, bool) { return Request{Hostname: d.Host}, true }},
	}
	runtime.GC() // do not bill the first sub-benchmark for building the fleet
	for _, k := range kinds {
		reqs := make([]Request, 0, nReq)
		for len(reqs) < nReq {
			if q, ok := k.req(&devices[r.IntN(len(devices))]); ok {
				q.Report = reports[len(reqs)%len(reports)]
				reqs = append(reqs, q)
			}
		}
		b.Run(k.name, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				q := reqs[i%nReq]
				i++
				m := MatchDevice(snap, q)
				in := NewInput(snap, m, q.Report, now, 5*time.Minute, false)
				d := Evaluate(checks, exceptions, in, m)
				if len(d.Checks) != 20 {
					b.Fatalf("got %d checks", len(d.Checks))
				}
			}
		})
	}
}
