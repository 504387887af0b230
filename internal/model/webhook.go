package model

import "time"

// WebhookEndpoint is a receiver of signed events. Secret is the sealed
// signing secret: only the webhook service opens it.
type WebhookEndpoint struct {
	ID         string
	URL        string
	EventTypes []string
	Secret     string // sealed
	Enabled    bool
	CreatedBy  string
	CreatedAt  time.Time
	RotatedAt  time.Time
}

// Outbox statuses.
const (
	OutboxPending   = "pending"
	OutboxDelivered = "delivered"
	OutboxFailed    = "failed" // retries ran out
)

// WebhookEvent is one event to deliver: its id (webhook-id, the same on
// every delivery and redelivery), type and JSON body.
type WebhookEvent struct {
	ID   string
	Type string
	Body []byte
}

// OutboxItem is an event waiting for (or done with) one endpoint.
type OutboxItem struct {
	ID            int64
	EventID       string
	EndpointID    string
	EventType     string
	Body          []byte
	CreatedAt     time.Time
	Attempts      int
	NextAttemptAt time.Time
	Status        string
	LastCode      int
	LastLatency   time.Duration
	LastError     string
}

// WebhookAttempt is the outcome of one delivery attempt.
type WebhookAttempt struct {
	At      time.Time
	Code    int // 0 when no answer came
	Latency time.Duration
	Error   string // safe words, never a secret
	OK      bool
	// Next, when not OK: when to try again; zero means give up.
	Next time.Time
}

// WebhookBacklog is what the outbox holds for enabled endpoints: how many
// events wait to be delivered, and when the oldest of them was written (or
// redelivered); zero when none waits.
type WebhookBacklog struct {
	Pending int
	Oldest  time.Time
}

// WebhookDelivery is a recorded attempt, for the Webhooks page.
type WebhookDelivery struct {
	ID         int64
	OutboxID   int64
	EndpointID string
	EventID    string
	EventType  string
	At         time.Time
	Attempt    int
	Code       int
	Latency    time.Duration
	Error      string
	OK         bool
	Status     string // of the outbox item now
}
