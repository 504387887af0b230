package defender

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"testing"
	"time"

	"postern/internal/emulator"
)

// AppendJSON writes what encoding/json writes, byte for byte: for the
// emulator's machines (plain, realistic and discovered) and for machines
// of random values, awkward strings, nil and empty lists included.
func TestMachineAppendJSONIsMarshal(t *testing.T) {
	var ms []Machine
	for _, f := range []emulator.Faults{{NoRateLimit: true}, {NoRateLimit: true, Realism: emulator.Realism{Realistic: true, StringRBACGroup: true}}} {
		emu := emulator.New(emulator.Config{Machines: 300, Seed: 11, Discovered: 50})
		emu.SetFaults(f)
		body := emulatorGet(t, emu, "/api/machines?$top=400&$skip=0")
		page, _, _, err := decodePage(body, 400)
		if err != nil || len(page) < 300 {
			t.Fatalf("emulator page: %d machines, %v", len(page), err)
		}
		ms = append(ms, page...)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		ms = append(ms, randomMachine(r))
	}
	for i := range ms {
		want, err := json.Marshal(ms[i])
		if err != nil {
			t.Fatal(err)
		}
		if got := ms[i].AppendJSON(nil); !bytes.Equal(got, want) {
			t.Fatalf("machine %d:\n got  %s\n want %s", i, got, want)
		}
	}
}

var awkward = []string{"", "a", "pc-01.contoso.com", `"quoted" \back\`, "<script>&amp;</script>", "tab\there\nnewline\r\x00\x1f",
	"caf\u00e9 \u2028 \u2029 \U0001F600", "bad \xff\xfe utf-8", "\x7f"}

func randomMachine(r *rand.Rand) Machine {
	str := func() string { return awkward[r.IntN(len(awkward))] }
	ptr := func() *string {
		if r.IntN(3) == 0 {
			return nil
		}
		s := str()
		return &s
	}
	num := func() *Int64 {
		if r.IntN(3) == 0 {
			return nil
		}
		n := Int64(r.Int64N(1<<40) - 1<<39)
		return &n
	}
	at := func() *Time {
		switch r.IntN(4) {
		case 0:
			return nil
		case 1:
			return &Time{}
		}
		return &Time{time.Unix(r.Int64N(1<<34), r.Int64N(1e9)).In(time.FixedZone("z", 3600*r.IntN(5)))}
	}
	m := Machine{ID: str(), MergedIntoMachineID: ptr(), IsPotentialDuplication: r.IntN(2) == 0, IsExcluded: r.IntN(2) == 0,
		ExclusionReason: ptr(), ComputerDNSName: str(), FirstSeen: at(), LastSeen: at(), OSPlatform: str(), OSVersion: ptr(),
		OSProcessor: ptr(), Version: ptr(), LastIPAddress: ptr(), LastExternalIPAddress: ptr(), AgentVersion: ptr(), OSBuild: num(),
		HealthStatus: str(), DeviceValue: ptr(), RBACGroupID: num(), RBACGroupName: ptr(), RiskScore: ptr(), ExposureLevel: ptr(),
		IsAADJoined: r.IntN(2) == 0, AADDeviceID: ptr(), DefenderAVStatus: ptr(), OnboardingStatus: str(), OSArchitecture: ptr(),
		ManagedBy: ptr(), ManagedByStatus: ptr()}
	switch r.IntN(3) {
	case 1:
		m.MachineTags = []string{}
	case 2:
		m.MachineTags = []string{str(), str()}
	}
	switch r.IntN(3) {
	case 1:
		m.IPAddresses = []IPAddress{}
	case 2:
		m.IPAddresses = []IPAddress{{IPAddress: str(), MACAddress: ptr(), Type: ptr(), OperationalStatus: ptr()}, {IPAddress: str()}}
	}
	if r.IntN(2) == 0 {
		m.VMMetadata = &VMMetadata{VMID: ptr(), CloudProvider: ptr(), ResourceID: ptr(), SubscriptionID: ptr()}
	}
	return m
}

func BenchmarkMachineJSON(b *testing.B) {
	page, _, _, err := decodePage(emulatorPage(b, 2000), 2000)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("encoding_json", func(b *testing.B) {
		for b.Loop() {
			for i := range page {
				_, _ = json.Marshal(page[i])
			}
		}
	})
	b.Run("AppendJSON", func(b *testing.B) {
		for b.Loop() {
			for i := range page {
				_ = page[i].AppendJSON(make([]byte, 0, 1024))
			}
		}
	})
}
