// Package events is the vocabulary of Postern's signed events (webhooks):
// their types and the JSON bodies receivers get. The store builds them in
// the transaction of the change that caused them, so this package imports
// nothing of Postern's but the domain types.
package events

import (
	"crypto/rand"
	"encoding/base32"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"time"

	"postern/internal/model"
)

// Event types.
const (
	DeviceVerdictChanged      = "device.verdict_changed"
	SyncFailed                = "sync.failed"
	SyncHeld                  = "sync.held"
	IntegrationDataStale      = "integration.data_stale"
	IntegrationSecretExpiring = "integration.secret_expiring"
	PostureCheckChanged       = "posture_check.changed"
	idPrefix                  = "msg_"
	maxDevicesPerEventDefault = 1000
)

// Types lists every event type, in the order the console offers them.
var Types = []string{DeviceVerdictChanged, SyncFailed, SyncHeld, IntegrationDataStale, IntegrationSecretExpiring, PostureCheckChanged}

// TypeLabels describes each type in words, for the console.
var TypeLabels = map[string]string{
	DeviceVerdictChanged:      "A device's verdict changed (batched)",
	SyncFailed:                "A sync run failed",
	SyncHeld:                  "A sync run was held by the removal guard",
	IntegrationDataStale:      "Defender data turned stale",
	IntegrationSecretExpiring: "The integration's credential expires soon",
	PostureCheckChanged:       "A posture check was created, edited or deleted",
}

// ValidType reports whether t is an event type.
func ValidType(t string) bool { return slices.Contains(Types, t) }

// MaxDevicesPerEvent is how many devices one device.verdict_changed event
// carries at most: a check that flips 20,000 devices makes 20 events.
const MaxDevicesPerEvent = maxDevicesPerEventDefault

var idEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// NewID returns a new, random event id (the webhook-id header).
func NewID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return idPrefix + strings.ToLower(idEncoding.EncodeToString(b[:]))
}

// envelope is every event body: its type, when it happened and its data.
type envelope struct {
	Type      string    `json:"type"`
	Timestamp time.Time `json:"timestamp"`
	Data      any       `json:"data"`
}

func build(id, typ string, at time.Time, data any) model.WebhookEvent {
	body, err := json.Marshal(envelope{Type: typ, Timestamp: at.UTC(), Data: data})
	if err != nil { // only plain types are marshalled
		panic("webhook: marshal event: " + err.Error())
	}
	return model.WebhookEvent{ID: id, Type: typ, Body: body}
}

// RunEvents returns the events of a finished sync run: sync.failed for a
// failed run, sync.held for a run the removal guard held, none otherwise.
func RunEvents(run model.SyncRun, at time.Time) []model.WebhookEvent {
	type runData struct {
		RunID       int64      `json:"run_id"`
		Integration string     `json:"integration"`
		Trigger     string     `json:"trigger"`
		StartedAt   time.Time  `json:"started_at"`
		FinishedAt  *time.Time `json:"finished_at,omitempty"`
		Outcome     string     `json:"outcome"`
		Error       string     `json:"error,omitempty"`
		ErrorCode   string     `json:"error_code,omitempty"`
		Seen        int        `json:"seen"`
		Missing     int        `json:"missing,omitempty"`
		Active      int        `json:"active,omitempty"`
	}
	d := runData{RunID: run.ID, Integration: run.Integration, Trigger: run.Trigger, StartedAt: run.StartedAt,
		FinishedAt: run.FinishedAt, Outcome: run.Outcome, Error: run.Error, ErrorCode: run.ErrorCode, Seen: run.Seen,
		Missing: run.Missing, Active: run.Active}
	switch {
	case run.Outcome == model.RunFailed:
		return []model.WebhookEvent{build(NewID(), SyncFailed, at, d)}
	case run.Held():
		return []model.WebhookEvent{build(NewID(), SyncHeld, at, d)}
	}
	return nil
}

// CheckEvent returns the posture_check.changed event of a check created,
// updated or deleted (change) by by.
func CheckEvent(c model.PostureCheck, change, by string, at time.Time) model.WebhookEvent {
	return build(NewID(), PostureCheckChanged, at, struct {
		CheckID int64  `json:"check_id"`
		Name    string `json:"name"`
		Change  string `json:"change"`
		Mode    string `json:"mode"`
		Enabled bool   `json:"enabled"`
		By      string `json:"by,omitempty"`
	}{c.ID, c.Name, change, c.Mode, c.Enabled, by})
}

type checkChange struct {
	CheckID   int64    `json:"check_id"`
	CheckName string   `json:"check_name"`
	From      string   `json:"from"`
	To        string   `json:"to"`
	Reasons   []string `json:"reasons"`
}

type deviceChange struct {
	DeviceID string        `json:"device_id"`
	From     string        `json:"from,omitempty"`
	To       string        `json:"to,omitempty"`
	Checks   []checkChange `json:"checks"`
}

type causeData struct {
	Kind  string `json:"kind"`
	Ref   string `json:"ref,omitempty"`
	Label string `json:"label"`
	Actor string `json:"actor,omitempty"`
}

// VerdictEvents returns the device.verdict_changed events of one cause's
// history entries: the devices in the order first seen, at most per
// devices in each event (MaxDevicesPerEvent when per is 0 or less), so a
// bulk change is a handful of events. Each device carries its overall
// change (check id 0) and the change of each check with its reasons.
func VerdictEvents(cause model.Cause, entries []model.HistoryEntry, per int) []model.WebhookEvent {
	if per <= 0 {
		per = MaxDevicesPerEvent
	}
	index := map[string]int{}
	var devices []deviceChange
	for _, e := range entries {
		i, ok := index[e.DeviceID]
		if !ok {
			i = len(devices)
			index[e.DeviceID] = i
			devices = append(devices, deviceChange{DeviceID: e.DeviceID, Checks: []checkChange{}})
		}
		if e.CheckID == 0 {
			devices[i].From, devices[i].To = e.From, e.To
			continue
		}
		reasons := e.Reasons
		if reasons == nil {
			reasons = []string{}
		}
		devices[i].Checks = append(devices[i].Checks, checkChange{e.CheckID, e.CheckName, e.From, e.To, reasons})
	}
	c := causeData{Kind: cause.Kind, Ref: cause.Ref, Label: cause.Label, Actor: cause.Actor}
	batches := (len(devices) + per - 1) / per
	var out []model.WebhookEvent
	for b := 0; b < batches; b++ {
		chunk := devices[b*per : min(len(devices), (b+1)*per)]
		out = append(out, build(NewID(), DeviceVerdictChanged, cause.At, struct {
			Cause   causeData      `json:"cause"`
			Batch   int            `json:"batch"`
			Batches int            `json:"batches"`
			Devices []deviceChange `json:"devices"`
		}{c, b + 1, batches, chunk}))
	}
	return out
}

// StaleEvent returns integration.data_stale for data last refreshed by a
// successful sync at syncedAt. Its id is derived from that time, so the
// same staleness is one event however often it is noticed.
func StaleEvent(integration string, syncedAt, at time.Time) model.WebhookEvent {
	return build(idPrefix+"stale_"+integration+"_"+strconv.FormatInt(syncedAt.Unix(), 10), IntegrationDataStale, at, struct {
		Integration string    `json:"integration"`
		SyncedAt    time.Time `json:"last_successful_sync_at"`
	}{integration, syncedAt.UTC()})
}

// ExpiringEvent returns integration.secret_expiring for a credential that
// expires at expires. Its id is derived from the expiry, so one
// credential's warning is one event.
func ExpiringEvent(integration string, expires, at time.Time) model.WebhookEvent {
	return build(idPrefix+"expiring_"+integration+"_"+expires.UTC().Format("20060102"), IntegrationSecretExpiring, at, struct {
		Integration string    `json:"integration"`
		ExpiresOn   time.Time `json:"expires_on"`
		DaysLeft    int       `json:"days_left"`
	}{integration, expires, int(expires.Sub(at).Hours() / 24)})
}
