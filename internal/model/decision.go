package model

import "time"

// Results of a recorded access decision. Denied: an Enforce check failed.
// Unknown: refused only because data was missing (no check failed, one
// or more could not be decided). Allowed: a sampled allow.
const (
	DecisionDenied  = "denied"
	DecisionUnknown = "unknown"
	DecisionAllowed = "allowed"
)

// DecisionResults lists the results in the order the console offers them.
var DecisionResults = []string{DecisionDenied, DecisionUnknown, DecisionAllowed}

// Decision is one answer of the enforcement API as the decision log keeps
// it (docs/decision-log.md): every deny and unknown, and a sample of
// allows.
type Decision struct {
	ID         int64
	At         time.Time
	DeviceID   string // Defender machine id; "" when nothing matched
	Hostname   string // the matched machine's name, else the name asked about
	MatchedBy  string // defender_machine_id, aad_device_id, hostname or none
	MatchedKey string // the value presented under MatchedBy (or the first key given)
	Result     string // DecisionDenied, DecisionUnknown or DecisionAllowed
	Checks     []DecisionCheck
	TokenID    int64
	TokenName  string // read back from the token; "" when it is gone
	Source     string // the gateway's address (the client address Echo resolved)
}

// DecisionCheck is one check that did not pass, or a pass with reasons
// (an exception), in a recorded decision.
type DecisionCheck struct {
	ID      int64    `json:"id"`
	Name    string   `json:"name"`
	Mode    string   `json:"mode"`
	Result  string   `json:"result"`
	Reasons []string `json:"reasons,omitempty"`
}

// DecisionFilter selects recorded decisions, newest first. Zero fields
// do not filter.
type DecisionFilter struct {
	DeviceID      string
	Hostname      string // case-insensitive prefix
	CheckID       int64
	Result        string
	TokenID       int64
	Since, Until  time.Time // Since inclusive, Until exclusive
	Limit, Offset int
}
