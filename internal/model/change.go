package model

import "encoding/json"

// ChangesChannel is the PostgreSQL LISTEN/NOTIFY channel on which the
// replicas sharing a database tell each other what they changed.
const ChangesChannel = "postern_changes"

// What changed, in a Change: each replica reloads the state it serves from
// memory that the kind names.
const (
	// ChangeSnapshot: device data was written (a sync run applied, its
	// antivirus report, a re-check, an accepted removal); RunID names the run.
	ChangeSnapshot = "snapshot"
	// ChangePolicy: posture checks or exceptions changed.
	ChangePolicy = "policy"
	// ChangeTokens: an API token was created or revoked.
	ChangeTokens = "tokens"
	// ChangeIntegration: the Defender integration was saved, enabled,
	// disabled or its secrets resealed.
	ChangeIntegration = "integration"
	// ChangeWebhooks: events were queued or an endpoint changed; the sync
	// leader delivers them.
	ChangeWebhooks = "webhooks"
	// ChangeSyncRequested: an admin asked for a sync (Sync now) on a
	// replica that does not run the sync.
	ChangeSyncRequested = "sync_requested"
	// ChangeKeys: postern activate-key asks every replica to read its
	// master key file again and report the key ids it holds.
	ChangeKeys = "keys"
)

// Change is one notification between replicas.
type Change struct {
	Kind    string `json:"kind"`
	Replica string `json:"replica"` // the replica that made the change; "" from a command
	RunID   int64  `json:"run_id,omitempty"`
}

// Payload is ch as a NOTIFY payload.
func (ch Change) Payload() string {
	b, _ := json.Marshal(ch) // strings and a number: never fails
	return string(b)
}
