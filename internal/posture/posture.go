// Package posture decides whether a device may pass. It is pure evaluation
// over an immutable fleet snapshot (docs/design.md#posture-checks): a check is a set of
// conditions, each condition answers pass, fail or unknown, and every
// answer other than pass carries a reason naming what was observed, what
// was required and how old the data is, so an admin can act on a denial
// without opening the console.
//
// The design follows NetBird's posture package: a tiny Condition
// interface and one file per condition type. Checks are compiled once
// (Compile) so the hot path neither parses nor lower-cases anything.
package posture

import (
	"sync/atomic"
	"time"
	"unicode/utf8"

	"postern/internal/fleet"
)

// Result is the tri-state verdict of a condition or a check.
type Result string

// The three verdicts. Unknown means the data needed to decide is missing;
// what it leads to is the check's "When data is unavailable" choice.
const (
	Pass    Result = "pass"
	Fail    Result = "fail"
	Unknown Result = "unknown"
)

// Data sources of a check.
const (
	SourceDefender     = "defender"
	SourceDeviceReport = "device_report"
)

// SourceLabel names a data source as the console and the audit log show it.
func SourceLabel(source string) string {
	switch source {
	case SourceDefender:
		return "Microsoft Defender"
	case SourceDeviceReport:
		return "Device report"
	}
	return source
}

// Modes of a check. Only Enforce checks can deny.
const (
	ModeEnforce = "enforce"
	ModeMonitor = "monitor"
)

// Choices for "When data is unavailable".
const (
	UnavailableDeny  = "deny"
	UnavailableAllow = "allow"
)

// Condition is one rule of a check. Evaluate must not modify in: one
// Input is shared by every condition of every check of a request.
type Condition interface {
	// Name is the editor label, e.g. "Maximum risk score".
	Name() string
	Evaluate(in *Input) Outcome
}

// Outcome is a condition's verdict; Reason is empty on pass.
type Outcome struct {
	Result Result
	Reason string
}

// Report holds the attributes the gateway sends about the device, for
// devices Defender does not cover. Nil booleans mean "not reported".
type Report struct {
	OS, OSVersion, ClientVersion string
	Firewall, DiskEncrypted      *bool
}

// Input is everything a condition may look at. The caller sets it up per
// request (NewInput does so from a snapshot).
type Input struct {
	// Device is the matched Defender machine; nil when none matched.
	Device *fleet.Device
	Report Report
	// DataAge renders the age of the Defender data in reasons. The
	// enforcement API uses the snapshot's sync time in RFC 3339
	// ("2026-11-25T10:02:11Z"); the console may say "3 minutes ago".
	DataAge string
	// Stale is set when the last successful sync is older than 3 × the
	// sync interval: Defender conditions are then unknown.
	Stale bool
	// Kept is set while the data is stale but the integration's outage
	// grace keeps it in use: conditions decide on it as usual and every
	// reason says so.
	Kept bool
	// SourceDisabled is set while the Defender integration is disabled:
	// Defender conditions are then unknown.
	SourceDisabled bool
	// AVUnknown, when set, is why the antivirus health of every device is
	// unknown: the last sync could not read Defender's report.
	AVUnknown string
	// Now is the evaluation time; zero means time.Now().
	Now time.Time

	// Filled once per request by Evaluate so that conditions do not
	// rebuild the same strings.
	prepared bool
	terse    bool   // Results: verdicts only, reasons are not kept
	gate     string // non-empty: every Defender condition is unknown for this reason
	suffix   string // " (Defender data from …)"
}

// NewInput builds the Input for one request from the snapshot the match
// was made on. syncInterval is the configured sync interval; zero turns
// the staleness test off (only a never-synced snapshot is stale then).
func NewInput(snap *fleet.Snapshot, m Match, r Report, now time.Time, syncInterval time.Duration, sourceDisabled bool) Input {
	in := Input{Device: m.Device, Report: r, Now: now, SourceDisabled: sourceDisabled}
	if snap == nil || snap.SyncedAt.IsZero() {
		in.Stale = true
		return in
	}
	in.DataAge = syncTime(snap.SyncedAt)
	in.AVUnknown = snap.AVUnknown
	in.Stale = syncInterval > 0 && now.Sub(snap.SyncedAt) > 3*syncInterval
	return in
}

// syncTime renders a sync time in RFC 3339. Every request between two
// syncs shows the same time, so the last rendering is kept.
func syncTime(t time.Time) string {
	if c := lastSync.Load(); c != nil && c.t.Equal(t) {
		return c.s
	}
	c := &renderedTime{t: t, s: t.UTC().Format(time.RFC3339)}
	lastSync.Store(c)
	return c.s
}

type renderedTime struct {
	t time.Time
	s string
}

var lastSync atomic.Pointer[renderedTime]

// prepare computes the per-request gate shared by all conditions. It is
// called on Evaluate's private copy of the Input only.
func (in *Input) prepare() {
	in.gate = gateReason(in)
	in.prepared = true
}

// defenderGate reports why Defender conditions cannot be decided at all,
// if they cannot: source disabled, stale data, no machine, removed machine.
func defenderGate(in *Input) (string, bool) {
	if in.prepared {
		return in.gate, in.gate != ""
	}
	r := gateReason(in)
	return r, r != ""
}

func gateReason(in *Input) string {
	switch {
	case in.SourceDisabled:
		return "the Microsoft Defender data source is disabled"
	case in.Stale && in.DataAge == "":
		return "Microsoft Defender data is stale (no successful sync yet)"
	case in.Stale:
		return "Microsoft Defender data is stale (last successful sync " + in.DataAge + ")"
	case in.Device == nil:
		return "no Defender machine matches this device" + ageSuffix(in)
	case in.Device.Removed:
		return "Defender machine " + in.Device.ID + " is no longer listed by Defender (removed)" + ageSuffix(in)
	}
	return ""
}

// dataSuffix is the " (Defender data from …)" every Defender reason ends
// with. Evaluate's private Input caches it on first use (one goroutine);
// a caller's Input is never written.
func dataSuffix(in *Input) string {
	if !in.prepared {
		return ageSuffix(in)
	}
	if in.suffix == "" {
		in.suffix = ageSuffix(in)
	}
	return in.suffix
}

func ageSuffix(in *Input) string {
	switch {
	case in.DataAge == "":
		return " (Defender data of unknown age)"
	case in.Kept:
		return " (Defender data from " + in.DataAge + ", kept during an outage)"
	}
	return " (Defender data from " + in.DataAge + ")"
}

// now is the evaluation time of in.
func (in *Input) now() time.Time {
	if in.Now.IsZero() {
		return time.Now()
	}
	return in.Now
}

var passed = Outcome{Result: Pass}

func fail(reason string) Outcome    { return Outcome{Result: Fail, Reason: reason} }
func unknown(reason string) Outcome { return Outcome{Result: Unknown, Reason: reason} }

// maxShown bounds a value from the request quoted in a reason: the body
// may be 64 KiB and reasons end up in logs and the console.
const maxShown = 64

// shown clips a gateway-supplied value for a reason.
func shown(s string) string {
	if len(s) <= maxShown {
		return s
	}
	cut := maxShown
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// oneOf renders a set for "required one of …".
func oneOf(vals []string) string {
	if len(vals) == 1 {
		return vals[0]
	}
	s := "one of "
	for i, v := range vals {
		if i > 0 {
			s += ", "
		}
		s += v
	}
	return s
}
