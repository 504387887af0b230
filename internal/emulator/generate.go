package emulator

import (
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"postern/internal/defender/vocab"
)

// choice is one weighted option; for nullable string fields "" stands for null.
type choice[T any] struct {
	v T
	w int
}

func pick[T any](r *rand.Rand, cs []choice[T]) T {
	total := 0
	for _, c := range cs {
		total += c.w
	}
	n := r.IntN(total)
	for _, c := range cs {
		if n < c.w {
			return c.v
		}
		n -= c.w
	}
	return cs[len(cs)-1].v
}

// Value mixes follow docs/defender-api.md#the-machine-entity; the weights are our guess at a
// typical mid-size fleet (mostly healthy Windows clients, a long tail of the rest).
var (
	platformMix = []choice[string]{
		{"Windows11", 34}, {"Windows10", 30}, {"WindowsServer2022", 7}, {"WindowsServer2019", 5},
		{"WindowsServer2016", 1},
		// Linux: Defender names the distribution where it knows it (vocab.LinuxPlatforms).
		{"Linux", 3}, {"Ubuntu", 3}, {"RedHatEnterpriseLinux", 2}, {"Debian", 1}, {"macOS", 7}, {"iOS", 3}, {"Android", 4},
	}
	onboardingMix = []choice[string]{{"Onboarded", 92}, {"CanBeOnboarded", 4}, {"Unsupported", 2}, {"InsufficientInfo", 2}}
	healthMix     = []choice[string]{
		{"Active", 86}, {"Inactive", 7}, {"ImpairedCommunication", 3}, {"NoSensorData", 2},
		{"NoSensorDataImpairedCommunication", 1}, {"Unknown", 1},
	}
	riskMix        = []choice[string]{{"None", 38}, {"Informational", 10}, {"Low", 24}, {"Medium", 13}, {"High", 6}, {"", 9}}
	exposureMix    = []choice[string]{{"None", 4}, {"Low", 36}, {"Medium", 44}, {"High", 10}, {"", 6}}
	avMix          = []choice[string]{{"Updated", 80}, {"NotUpdated", 7}, {"Disabled", 2}, {"NotReporting", 4}, {"Unknown", 3}, {"", 4}}
	deviceValueMix = []choice[string]{{"Normal", 86}, {"High", 5}, {"Low", 4}, {"", 5}}
	managedByMix   = []choice[string]{{"Intune", 55}, {"MDE", 20}, {"ConfigMgr", 8}, {"Unknown", 7}, {"", 10}}
	mbStatusMix    = []choice[string]{{"Unknown", 50}, {"Success", 40}, {"", 10}}
	exclusionMix   = []choice[string]{{"MachineOutOfScope", 4}, {"MachineDuplicate", 3}, {"MachineIsInactive", 2}, {"Other", 1}}
	tagPool        = []string{"finance", "vpn-allowed", "byod", "kiosk", "pci", "engineering", "sales", "vip", "lab", "contractor"}
	firstNames     = []string{"ana", "ben", "chen", "dana", "eli", "fatima", "gus", "hana", "ivan", "jo", "kai", "lena", "mo", "nia", "omar", "priya", "quinn", "raj", "sara", "tom", "uma", "vic", "wen", "yara", "zoe"}
	serverRoles    = []string{"sql", "web", "app", "dc", "file", "print", "rds", "ca"}
	macVendors     = []string{"00155D", "F8E43B", "3C22FB", "A4BB6D", "001A2B", "D45D64", "8C8590"}
)

var (
	linuxVersions   = []string{"22.04", "24.04", "20.04", "9.4", "8.10"}
	macVersions     = []string{"13.6", "14.6", "15.1"}
	iosVersions     = []string{"17.6", "18.1"}
	androidVersions = []string{"13", "14", "15"}
)

// literals holds one shared pointer per constant value, so a 100k fleet does
// not allocate a *string per enum field. Sharing is safe: the fleet is never
// written through, and Machines() hands out deep copies.
var literals = map[string]*string{}

func init() {
	lists := [][]string{linuxVersions, macVersions, iosVersions, androidVersions,
		{"NotSupported", "64-bit", "32-bit", "21H2", "22H2", "23H2", "24H2", "1809", "1607"}}
	for _, mix := range [][]choice[string]{riskMix, exposureMix, avMix, deviceValueMix, managedByMix, mbStatusMix, exclusionMix} {
		for _, c := range mix {
			lists = append(lists, []string{c.v})
		}
	}
	for _, gs := range rbacGroups {
		for _, g := range gs {
			lists = append(lists, []string{g.name})
		}
	}
	for _, l := range lists {
		for _, v := range l {
			if v != "" {
				literals[v] = &v
			}
		}
	}
}

// lit returns the shared pointer for a constant value.
func lit(s string) *string {
	if p, ok := literals[s]; ok {
		return p
	}
	v := s // declared here so only this path allocates
	return &v
}

type rbacGroup struct {
	id   int64
	name string
}

var rbacGroups = map[string][]rbacGroup{
	"windows": {{140, "Laptops-EU"}, {141, "Laptops-US"}, {412, "Finance"}, {518, "Engineering"}},
	"server":  {{212, "Servers"}, {213, "Servers-DMZ"}},
	"linux":   {{212, "Servers"}, {518, "Engineering"}},
	"mac":     {{141, "Laptops-US"}, {518, "Engineering"}},
	"mobile":  {{305, "Mobile"}},
}

func family(platform string) string {
	switch {
	case strings.HasPrefix(platform, "WindowsServer"):
		return "server"
	case strings.HasPrefix(platform, "Windows"):
		return "windows"
	case slices.Contains(vocab.LinuxPlatforms, platform):
		return "linux"
	case platform == "macOS":
		return "mac"
	default:
		return "mobile"
	}
}

// generate builds n machines from seed: a fixed seed and clock give the same
// fleet byte for byte. About 2% are older reinstall records of another machine.
func generate(seed int64, n int, now time.Time) []Machine {
	r := newRand(seed, 1)
	ms := make([]Machine, 0, n)
	live := make([]int, 0, n)
	for i := 0; i < n; i++ {
		if len(live) > 0 && r.IntN(100) < 2 {
			j := live[r.IntN(len(live))]
			old := reinstalled(r, &ms[j])
			if now.Sub(ms[j].FirstSeen) < inactiveAfter { // still within Defender's 7 days
				old.HealthStatus, old.replacedAt = ms[j].HealthStatus, ms[j].FirstSeen
			}
			ms = append(ms, old)
			continue
		}
		live = append(live, i)
		ms = append(ms, genMachine(r, i, now))
	}
	return sortByID(ms)
}

// sortByID returns ms in id order (stable). It sorts indexes and copies once:
// swapping 100k large structs in place costs more than generating them.
func sortByID(ms []Machine) []Machine {
	idx := make([]int32, len(ms))
	for i := range idx {
		idx[i] = int32(i)
	}
	slices.SortFunc(idx, func(a, b int32) int {
		if c := strings.Compare(ms[a].ID, ms[b].ID); c != 0 {
			return c
		}
		return int(a - b) // equal ids keep their order
	})
	out := make([]Machine, len(ms))
	for k, i := range idx {
		out[k] = ms[i]
	}
	return out
}

func newRand(seed int64, stream uint64) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(seed), 0x9e3779b97f4a7c15^stream))
}

// genMachine invents one machine; idx makes its host name unique in the fleet.
func genMachine(r *rand.Rand, idx int, now time.Time) Machine {
	m := Machine{ID: hexID(r), MachineTags: []string{}, IPAddresses: []IPAddress{}}
	m.OSPlatform = pick(r, platformMix)
	fam := family(m.OSPlatform)
	m.OnboardingStatus = pick(r, onboardingMix)
	onboarded := m.OnboardingStatus == "Onboarded"
	m.HealthStatus = pick(r, healthMix)
	if !onboarded {
		m.HealthStatus = pick(r, []choice[string]{{"NoSensorData", 6}, {"Inactive", 3}, {"Unknown", 1}})
	}
	m.FirstSeen = stamp(r, now.Add(-randDur(r, time.Hour, 900*24*time.Hour)))
	m.LastSeen = stamp(r, lastSeenFor(r, m.HealthStatus, m.FirstSeen, now))
	m.ComputerDNSName = hostname(r, m.OSPlatform, fam, idx)
	setOS(r, &m, fam, onboarded)
	m.IPAddresses, m.LastIPAddress = genIPs(r, fam, onboarded)
	if onboarded && r.IntN(100) >= 3 {
		m.LastExternalIPAddress = ptr(publicIP(r))
	}
	m.RBACGroupID, m.RBACGroupName = 0, nil
	if r.IntN(100) >= 10 {
		gs := rbacGroups[fam]
		g := gs[r.IntN(len(gs))]
		m.RBACGroupID, m.RBACGroupName = g.id, lit(g.name)
	}
	m.DeviceValue = orNull(pick(r, deviceValueMix))
	if onboarded {
		m.RiskScore = orNull(pick(r, riskMix))
		m.ExposureLevel = orNull(pick(r, exposureMix))
		m.DefenderAVStatus = orNull(pick(r, avMix))
		if fam == "mobile" && r.IntN(2) == 0 {
			m.DefenderAVStatus = lit("NotSupported")
		}
	}
	setAAD(r, &m, fam)
	m.MachineTags = genTags(r)
	if r.IntN(100) == 0 {
		m.IsExcluded, m.ExclusionReason = true, lit(pick(r, exclusionMix))
	}
	m.ManagedBy = orNull(pick(r, managedByMix))
	m.ManagedByStatus = orNull(pick(r, mbStatusMix))
	m.VMMetadata = genVM(r, fam, m.ComputerDNSName)
	return m
}

// reinstalled is the stale record a reinstall leaves behind: a new id, the same
// host name, Inactive, last seen just before the live record first appeared.
func reinstalled(r *rand.Rand, live *Machine) Machine {
	old := live.clone()
	old.ID = hexID(r)
	old.HealthStatus = "Inactive"
	old.IsPotentialDuplication = true
	old.LastSeen = stamp(r, live.FirstSeen.Add(-randDur(r, time.Minute, 72*time.Hour)))
	old.FirstSeen = stamp(r, old.LastSeen.Add(-randDur(r, 30*24*time.Hour, 400*24*time.Hour)))
	if r.IntN(2) == 0 {
		old.MergedIntoMachineID = ptr(live.ID)
	}
	if old.IsAADJoined && r.IntN(2) == 0 {
		old.AADDeviceID = ptr(guid(r)) // reimaged: a new Entra device too
	}
	return old
}

func lastSeenFor(r *rand.Rand, health string, first, now time.Time) time.Time {
	var t time.Time
	switch health {
	case "Active":
		t = now.Add(-randDur(r, time.Minute, 30*time.Hour))
	case "Inactive":
		t = now.Add(-randDur(r, 7*24*time.Hour, 60*24*time.Hour))
	default:
		t = now.Add(-randDur(r, time.Hour, 10*24*time.Hour))
	}
	if t.Before(first) {
		return first.Add(randDur(r, 0, now.Sub(first)))
	}
	return t
}

func setOS(r *rand.Rand, m *Machine, fam string, onboarded bool) {
	m.OSProcessor, m.OSArchitecture = "x64", lit("64-bit")
	var build int64
	switch m.OSPlatform {
	case "Windows11":
		build, m.Version = pickBuild(r, []int64{22621, 22631, 26100}, []string{"22H2", "23H2", "24H2"})
	case "Windows10":
		build, m.Version = pickBuild(r, []int64{19044, 19045}, []string{"21H2", "22H2"})
		if r.IntN(50) == 0 {
			m.OSProcessor, m.OSArchitecture = "x86", lit("32-bit")
		}
	case "WindowsServer2022":
		build, m.Version = 20348, lit("21H2")
	case "WindowsServer2019":
		build, m.Version = 17763, lit("1809")
	case "WindowsServer2016":
		build, m.Version = 14393, lit("1607")
	case "Linux", "Ubuntu", "Debian", "RedHatEnterpriseLinux", "CentOS", "OracleLinux", "SuseLinuxEnterpriseServer", "AmazonLinux":
		m.OSVersion = lit(linuxVersions[r.IntN(len(linuxVersions))])
	case "macOS":
		m.OSVersion = lit(macVersions[r.IntN(len(macVersions))])
		if r.IntN(3) > 0 {
			m.OSProcessor = "arm64"
		}
	case "iOS":
		m.OSVersion, m.OSProcessor, m.OSArchitecture = lit(iosVersions[r.IntN(len(iosVersions))]), "arm64", nil
	default:
		m.OSVersion, m.OSProcessor, m.OSArchitecture = lit(androidVersions[r.IntN(len(androidVersions))]), "arm64", nil
	}
	if build != 0 && r.IntN(100) > 0 {
		m.OSBuild = ptr(build)
	}
	if onboarded {
		m.AgentVersion = ptr(agentVersion(r, fam, build))
	}
}

func pickBuild(r *rand.Rand, builds []int64, versions []string) (int64, *string) {
	i := r.IntN(len(builds))
	return builds[i], lit(versions[i])
}

func agentVersion(r *rand.Rand, fam string, build int64) string {
	switch fam {
	case "windows", "server":
		return "10.8" + strconv.Itoa(700+r.IntN(100)) + "." + strconv.FormatInt(build, 10) + "." + strconv.Itoa(1000+r.IntN(4000))
	case "linux", "mac":
		return "101.24" + strconv.Itoa(1000 + r.IntN(1000))[1:] + "." + strconv.Itoa(10001 + r.IntN(9))[1:]
	default:
		return "1.0." + strconv.Itoa(6000+r.IntN(900)) + ".0101"
	}
}

func setAAD(r *rand.Rand, m *Machine, fam string) {
	var joinPct int
	switch fam {
	case "windows":
		joinPct = 85
	case "server":
		joinPct = 10
	case "linux":
		joinPct = 5
	case "mac":
		joinPct = 40
	default:
		joinPct = 70
	}
	if r.IntN(100) >= joinPct {
		return
	}
	m.IsAADJoined = true
	if r.IntN(100) >= 12 { // observed: aadDeviceId null although isAadJoined is true
		m.AADDeviceID = ptr(guid(r))
	}
}

func genTags(r *rand.Rand) []string {
	n := pick(r, []choice[int]{{0, 45}, {1, 35}, {2, 15}, {3, 5}})
	tags := make([]string, 0, n)
	for len(tags) < n {
		t := tagPool[r.IntN(len(tagPool))]
		if !slices.Contains(tags, t) {
			tags = append(tags, t)
		}
	}
	return tags
}

func genVM(r *rand.Rand, fam, name string) *VMMetadata {
	var pct int
	switch fam {
	case "server":
		pct = 45
	case "linux":
		pct = 40
	case "windows":
		pct = 3
	}
	if r.IntN(100) >= pct {
		return nil
	}
	sub := guid(r)
	vm := strings.SplitN(name, ".", 2)[0]
	if vm == "" {
		vm = "vm-" + strconv.Itoa(r.IntN(10000))
	}
	return &VMMetadata{
		VMID:           guid(r),
		CloudProvider:  "Azure",
		ResourceID:     "/subscriptions/" + sub + "/resourceGroups/rg-" + fam + "/providers/Microsoft.Compute/virtualMachines/" + vm,
		SubscriptionID: sub,
	}
}

// stamp truncates t to 0–7 fractional digits, as real timestamps vary.
func stamp(r *rand.Rand, t time.Time) time.Time {
	digits := r.IntN(8)
	unit := time.Duration(1)
	for range 9 - digits {
		unit *= 10
	}
	return t.UTC().Truncate(unit)
}

func randDur(r *rand.Rand, lo, hi time.Duration) time.Duration {
	if hi <= lo {
		return lo
	}
	return lo + time.Duration(r.Int64N(int64(hi-lo)))
}
