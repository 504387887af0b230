// Package vocab is Microsoft Defender's vocabulary as Postern shows it: the
// values of the machine fields Postern judges and lists (health status,
// risk score, exposure level, onboarding status, antivirus status, OS
// platform, network interfaces), each in Defender's spelling, in order
// (best to worst where the scale is ordered), with the words the console
// shows and the tone of its badge.
//
// It is the one home of these facts: posture rules, the store's sort
// order, the handlers and every view read it. It imports nothing of
// Postern, so all of them can.
//
// Defender's JSON casing differs from its documentation (onboardingStatus
// is documented "onboarded", sent "Onboarded"), so every lookup ignores
// case; Name keeps the spelling Defender sends, which is what Postern
// stores, filters on and puts in check specs.
package vocab

import "strings"

// Tone is how a value reads at a glance; views turn it into a badge colour.
// A tone always comes with the value's words, never alone.
type Tone uint8

// Tones, from unknown to bad.
const (
	Neutral Tone = iota // not judged or not known: grey
	Good                // green
	Warning             // amber
	Bad                 // red
)

// Value is one value of a Defender enum.
type Value struct {
	Name  string // Defender's spelling: stored, filtered on, used in specs and reasons
	Label string // the words the console shows
	Tone  Tone
}

// Enum is the known values of one Defender field. Values outside it still
// occur (Defender adds values; osPlatform is an open set): lookups then
// report no match, labels show the value as received, tones are Neutral.
type Enum struct {
	Field   string // Defender's JSON field, such as "healthStatus"
	Ordered bool   // values run from best to worst
	// Missing is the words for no value at all, when the console names it
	// (risk score: "No score"); "" shows a dash.
	Missing string
	values  []Value
}

// Values are the enum's values in order.
func (e *Enum) Values() []Value { return append([]Value(nil), e.values...) }

// Names are the enum's values in Defender's spelling, in order.
func (e *Enum) Names() []string {
	out := make([]string, len(e.values))
	for i, v := range e.values {
		out[i] = v.Name
	}
	return out
}

// Index is v's position in the enum ignoring case, or -1.
func (e *Enum) Index(v string) int {
	for i := range e.values {
		if e.values[i].Name == v {
			return i
		}
	}
	for i := range e.values {
		if strings.EqualFold(e.values[i].Name, v) {
			return i
		}
	}
	return -1
}

// Lookup finds v ignoring case.
func (e *Enum) Lookup(v string) (Value, bool) {
	if i := e.Index(v); i >= 0 {
		return e.values[i], true
	}
	return Value{}, false
}

// Canonical is v in Defender's spelling when it is a known value, else v.
func (e *Enum) Canonical(v string) string {
	if x, ok := e.Lookup(v); ok {
		return x.Name
	}
	return v
}

// Label is the words for v: its label when known, v as received otherwise.
func (e *Enum) Label(v string) string {
	if x, ok := e.Lookup(v); ok {
		return x.Label
	}
	return v
}

// Tone is v's tone; unknown values are Neutral.
func (e *Enum) Tone(v string) Tone {
	x, _ := e.Lookup(v)
	return x.Tone
}

// Pick returns the named values' names in the order given; it panics on a
// name the enum does not know, so a subset cannot drift from its enum.
func (e *Enum) Pick(names ...string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		x, ok := e.Lookup(n)
		if !ok {
			panic("vocab: " + e.Field + " has no value " + n)
		}
		out[i] = x.Name
	}
	return out
}

// Names of the values that posture rules and forms require by name.
const (
	HealthActive = "Active"
	Onboarded    = "Onboarded"
)

func v(name, label string, tone Tone) Value { return Value{Name: name, Label: label, Tone: tone} }

// Health is healthStatus, best to worst (Unknown last).
var Health = &Enum{Field: "healthStatus", Ordered: true, values: []Value{
	v(HealthActive, "Active", Good),
	v("Inactive", "Inactive", Warning),
	v("ImpairedCommunication", "Impaired communication", Warning),
	v("NoSensorData", "No sensor data", Bad),
	v("NoSensorDataImpairedCommunication", "No sensor data, impaired communication", Bad),
	v("Unknown", "Unknown", Neutral),
}}

// Risk is riskScore, best to worst. Defender may send none at all.
var Risk = &Enum{Field: "riskScore", Ordered: true, Missing: "No score", values: []Value{
	v("None", "None", Good),
	v("Informational", "Informational", Good),
	v("Low", "Low", Neutral),
	v("Medium", "Medium", Warning),
	v("High", "High", Bad),
}}

// Exposure is exposureLevel, best to worst.
var Exposure = &Enum{Field: "exposureLevel", Ordered: true, values: []Value{
	v("None", "None", Good),
	v("Low", "Low", Neutral),
	v("Medium", "Medium", Warning),
	v("High", "High", Bad),
}}

// Onboarding is onboardingStatus (documented lower-case "onboarded").
var Onboarding = &Enum{Field: "onboardingStatus", values: []Value{
	v(Onboarded, "Onboarded", Good),
	v("CanBeOnboarded", "Can be onboarded", Warning),
	v("Unsupported", "Unsupported", Neutral),
	v("InsufficientInfo", "Insufficient info", Neutral),
}}

// DiscoveredStatuses are the onboarding statuses of the devices Defender's
// device discovery found on the network but does not protect: /api/machines
// lists them beside the onboarded ones, in some tenants thirty times as
// many. The console shows them one filter away and counts them apart.
var DiscoveredStatuses = Onboarding.Pick("CanBeOnboarded", "Unsupported", "InsufficientInfo")

// DiscoveredLabel is how the console names such a device; OnboardedLabel
// names any other, protected by Defender (IsDiscovered is false).
const (
	DiscoveredLabel = "Discovered"
	OnboardedLabel  = "Onboarded"
)

// KindLabel is the console's word for the kind of a device with
// onboarding status status: DiscoveredLabel or OnboardedLabel.
func KindLabel(status string) string {
	if IsDiscovered(status) {
		return DiscoveredLabel
	}
	return OnboardedLabel
}

// IsDiscovered reports whether an onboarding status is one of
// DiscoveredStatuses (ignoring case): a device found by device discovery,
// not protected by Defender. Any other value (Onboarded, a value Defender
// adds later, none) counts as a protected device.
func IsDiscovered(status string) bool {
	for _, d := range DiscoveredStatuses {
		if strings.EqualFold(d, status) {
			return true
		}
	}
	return false
}

// Antivirus is defenderAvStatus.
var Antivirus = &Enum{Field: "defenderAvStatus", values: []Value{
	v("Updated", "Updated", Good),
	v("NotUpdated", "Not updated", Warning),
	v("Disabled", "Disabled", Bad),
	v("NotReporting", "Not reporting", Warning),
	v("NotSupported", "Not supported", Neutral),
	v("Unknown", "Unknown", Neutral),
}}

// Platform is osPlatform, an open set: these are the values Postern names
// as the Defender portal writes them.
var Platform = &Enum{Field: "osPlatform", values: []Value{
	v("Windows10", "Windows 10", Neutral),
	v("Windows11", "Windows 11", Neutral),
	v("Windows7", "Windows 7", Neutral),
	v("Windows8", "Windows 8", Neutral),
	v("Windows8.1", "Windows 8.1", Neutral),
	v("WindowsServer2008R2", "Windows Server 2008 R2", Neutral),
	v("WindowsServer2012", "Windows Server 2012", Neutral),
	v("WindowsServer2012R2", "Windows Server 2012 R2", Neutral),
	v("WindowsServer2016", "Windows Server 2016", Neutral),
	v("WindowsServer2019", "Windows Server 2019", Neutral),
	v("WindowsServer2022", "Windows Server 2022", Neutral),
	v("WindowsServer2025", "Windows Server 2025", Neutral),
	v("Linux", "Linux", Neutral),
	// Linux distributions: Defender names the distribution where it knows
	// it (as advanced hunting's DeviceInfo does), "Linux" otherwise.
	v("Ubuntu", "Ubuntu", Neutral),
	v("Debian", "Debian", Neutral),
	v("RedHatEnterpriseLinux", "Red Hat Enterprise Linux", Neutral),
	v("CentOS", "CentOS", Neutral),
	v("OracleLinux", "Oracle Linux", Neutral),
	v("SuseLinuxEnterpriseServer", "SUSE Linux Enterprise Server", Neutral),
	v("AmazonLinux", "Amazon Linux", Neutral),
	v("macOS", "macOS", Neutral),
	v("iOS", "iOS", Neutral),
	v("Android", "Android", Neutral),
}}

// CommonPlatforms are the platforms Defender reports most, in the order
// the check editor offers them.
var CommonPlatforms = Platform.Pick("Windows10", "Windows11", "WindowsServer2016", "WindowsServer2019",
	"WindowsServer2022", "Linux", "macOS", "iOS", "Android")

// InterfaceType is an ipAddresses entry's type (an open set).
var InterfaceType = &Enum{Field: "ipAddresses.type", values: []Value{
	v("Ethernet", "Ethernet", Neutral),
	v("Wireless80211", "Wi-Fi", Neutral),
	v("SoftwareLoopback", "Software loopback", Neutral),
}}

// InterfaceStatus is an ipAddresses entry's operationalStatus.
var InterfaceStatus = &Enum{Field: "ipAddresses.operationalStatus", values: []Value{
	v("Up", "Up", Good),
	v("Down", "Down", Warning),
}}

// LinuxPlatforms are the osPlatform values of Linux devices: "Linux" and
// the distributions Defender names.
var LinuxPlatforms = Platform.Pick("Linux", "Ubuntu", "Debian", "RedHatEnterpriseLinux", "CentOS",
	"OracleLinux", "SuseLinuxEnterpriseServer", "AmazonLinux")

// Enums are the machine fields above, for code that walks them all.
var Enums = []*Enum{Health, Risk, Exposure, Onboarding, Antivirus, Platform, InterfaceType, InterfaceStatus}
