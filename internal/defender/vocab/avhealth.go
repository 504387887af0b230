package vocab

// AVMode is the antivirus health report's avMode: Defender sends a number
// in a string, "0" to "5" ("" is Other). Name is what Postern stores in
// check specs and shows.
var AVMode = &Enum{Field: "avMode", values: []Value{
	v("Active", "Active", Good),
	v("Passive", "Passive", Warning),
	v("EDR block", "EDR in block mode", Warning),
	v("Passive audit", "Passive (audit)", Warning),
	v("Disabled", "Disabled", Bad),
	v("Other", "Other", Neutral),
}}

// AVModeName maps a report avMode code to its name in AVMode; an unknown
// code is kept as it came.
func AVModeName(code string) string {
	switch code {
	case "0":
		return "Active"
	case "1":
		return "Passive"
	case "2":
		return "Disabled"
	case "3", "":
		return "Other"
	case "4":
		return "EDR block"
	case "5":
		return "Passive audit"
	}
	return code
}

// UpToDate is the report's up-to-date flags (security intelligence,
// engine, platform), sent as strings.
var UpToDate = &Enum{Field: "avIsSignatureUpToDate", values: []Value{
	v("True", "Up to date", Good),
	v("False", "Out of date", Bad),
	v("Unknown", "Unknown", Neutral),
}}

// DeviceValue is the machine's deviceValue, set by the tenant's admins.
var DeviceValue = &Enum{Field: "deviceValue", values: []Value{
	v("High", "High", Neutral),
	v("Normal", "Normal", Neutral),
	v("Low", "Low", Neutral),
}}
