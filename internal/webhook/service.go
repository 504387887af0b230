package webhook

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	"postern/internal/actor"
	"postern/internal/apperr"
	"postern/internal/audit"
	"postern/internal/model"
	"postern/internal/secret"
	"postern/internal/webhook/events"
)

// Store is what the service and the worker need of the database.
type Store interface {
	Now() time.Time
	AppendAudit(ctx context.Context, e audit.Entry) error
	WebhookEndpoints(ctx context.Context) ([]model.WebhookEndpoint, error)
	WebhookEndpoint(ctx context.Context, id string) (model.WebhookEndpoint, error)
	CreateWebhookEndpoint(ctx context.Context, ep model.WebhookEndpoint, e audit.Entry) (model.WebhookEndpoint, error)
	UpdateWebhookEndpoint(ctx context.Context, id string, change func(*model.WebhookEndpoint), e audit.Entry) (model.WebhookEndpoint, error)
	DeleteWebhookEndpoint(ctx context.Context, id string, e audit.Entry) error
	WebhookDeliveries(ctx context.Context, endpointID string, limit int) ([]model.WebhookDelivery, error)
	PendingWebhooks(ctx context.Context, endpointID string) (int, error)
	WebhookBacklog(ctx context.Context) (model.WebhookBacklog, error)
	RedeliverWebhook(ctx context.Context, endpointID string, id int64, e audit.Entry) (model.OutboxItem, error)
	EmitWebhookEvents(ctx context.Context, evs []model.WebhookEvent) error
	DueWebhooks(ctx context.Context, now time.Time, limit int) ([]model.OutboxItem, error)
	DueWebhooksPerEndpoint(ctx context.Context, now time.Time, perEndpoint int) ([]model.OutboxItem, error)
	RecordWebhookAttempt(ctx context.Context, id int64, a model.WebhookAttempt) error
	PruneWebhookOutbox(ctx context.Context, before time.Time) (int, error)
	Integration(ctx context.Context, name string) (model.Integration, error)
}

// Service owns every change to the webhook endpoints.
type Service struct {
	store   Store
	keyring *secret.Keyring
	log     *slog.Logger
	notify  func() // wakes the worker; nil: nothing to wake
}

// NewService returns the service. notify, when set, is called after an
// event is made due (a redelivery), to wake the worker.
func NewService(st Store, kr *secret.Keyring, log *slog.Logger, notify func()) *Service {
	if notify == nil {
		notify = func() {}
	}
	return &Service{store: st, keyring: kr, log: log, notify: notify}
}

// secretLocation binds an endpoint's sealed secret to its row.
func secretLocation(id string) secret.Location {
	return secret.Location{Table: "webhook_endpoints", Column: "secret", Row: id}
}

// Endpoint is what the console shows of an endpoint: never its secret.
type Endpoint struct {
	ID         string
	URL        string // as entered; Display hides its query
	EventTypes []string
	Enabled    bool
	CreatedBy  string
	CreatedAt  time.Time
	RotatedAt  time.Time
	Pending    int
}

// Display is the URL without its query or user info, which may hold a
// receiver's token: what audit entries and lists show.
func (e Endpoint) Display() string { return displayURL(e.URL) }

func displayURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unreadable URL)"
	}
	out := u.Scheme + "://" + u.Host + u.EscapedPath()
	if u.RawQuery != "" {
		out += "?…"
	}
	return out
}

func public(ep model.WebhookEndpoint) Endpoint {
	return Endpoint{ID: ep.ID, URL: ep.URL, EventTypes: ep.EventTypes, Enabled: ep.Enabled, CreatedBy: ep.CreatedBy,
		CreatedAt: ep.CreatedAt, RotatedAt: ep.RotatedAt}
}

// Endpoints lists every endpoint with how many events wait for it.
func (s *Service) Endpoints(ctx context.Context) ([]Endpoint, error) {
	eps, err := s.store.WebhookEndpoints(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Endpoint, 0, len(eps))
	for _, ep := range eps {
		p := public(ep)
		if p.Pending, err = s.store.PendingWebhooks(ctx, ep.ID); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// Endpoint returns one endpoint.
func (s *Service) Endpoint(ctx context.Context, id string) (Endpoint, error) {
	ep, err := s.store.WebhookEndpoint(ctx, id)
	if err != nil {
		return Endpoint{}, err
	}
	p := public(ep)
	p.Pending, err = s.store.PendingWebhooks(ctx, id)
	return p, err
}

// Deliveries returns an endpoint's newest delivery attempts.
func (s *Service) Deliveries(ctx context.Context, id string, limit int) ([]model.WebhookDelivery, error) {
	return s.store.WebhookDeliveries(ctx, id, limit)
}

// Field names of the add form.
const (
	FieldURL    = "url"
	FieldEvents = "events"
)

// maxURLLen bounds an endpoint's URL.
const maxURLLen = 2000

// checkInput refuses a URL that is not HTTPS (http:// only to a loopback
// address, for tests) and an empty or unknown choice of events.
func checkInput(raw string, types []string) (string, []string, error) {
	fields := map[string]string{}
	raw = strings.TrimSpace(raw)
	u, err := url.Parse(raw)
	switch {
	case raw == "":
		fields[FieldURL] = "Enter the receiver's URL."
	case len(raw) > maxURLLen || err != nil || u.Host == "" || u.User != nil || u.Fragment != "":
		fields[FieldURL] = "Enter a full URL such as https://hooks.example.com/postern, without a user name or #fragment."
	case u.Scheme == "https":
	case u.Scheme == "http" && loopback(u.Hostname()):
	default:
		fields[FieldURL] = "Use an https:// URL (http:// is allowed only for localhost)."
	}
	var chosen []string
	for _, t := range events.Types { // in the offered order, once each
		if slices.Contains(types, t) {
			chosen = append(chosen, t)
		}
	}
	if len(chosen) == 0 || len(chosen) != len(uniq(types)) {
		fields[FieldEvents] = "Choose at least one event type from the list."
	}
	if len(fields) > 0 {
		return "", nil, apperr.Fields(fields)
	}
	return raw, chosen, nil
}

func uniq(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return slices.Compact(out)
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func newEndpointID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "ep_" + hex.EncodeToString(b[:])
}

func target(id, rawURL string) string { return id + " " + displayURL(rawURL) }

// Create adds an endpoint and returns it with its signing secret, which is
// shown once and never again.
func (s *Service) Create(ctx context.Context, rawURL string, types []string) (Endpoint, secret.Redacted, error) {
	a, err := actor.AtLeast(ctx, actor.Editor)
	e := audit.By(ctx, audit.WebhookCreated, displayURL(rawURL))
	if err != nil {
		return Endpoint{}, "", audit.RecordRefusal(ctx, s.store, s.log, e, err)
	}
	u, chosen, err := checkInput(rawURL, types)
	if err != nil {
		return Endpoint{}, "", audit.RecordRefusal(ctx, s.store, s.log, e, err)
	}
	id, sec := newEndpointID(), newSecret()
	sealed, err := s.keyring.Seal([]byte(sec.Reveal()), secretLocation(id))
	if err != nil {
		return Endpoint{}, "", err
	}
	e.Target, e.Detail = target(id, u), "events: "+strings.Join(chosen, ", ")
	ep, err := s.store.CreateWebhookEndpoint(ctx, model.WebhookEndpoint{ID: id, URL: u, EventTypes: chosen, Secret: sealed,
		Enabled: true, CreatedBy: a.Email}, e)
	if err != nil {
		return Endpoint{}, "", err
	}
	return public(ep), sec, nil
}

// Rotate gives an endpoint a new signing secret, returned once. Events
// not yet delivered are signed with the new one.
func (s *Service) Rotate(ctx context.Context, id string) (secret.Redacted, error) {
	e := audit.By(ctx, audit.WebhookRotated, id)
	if _, err := actor.AtLeast(ctx, actor.Editor); err != nil {
		return "", audit.RecordRefusal(ctx, s.store, s.log, e, err)
	}
	sec := newSecret()
	sealed, err := s.keyring.Seal([]byte(sec.Reveal()), secretLocation(id))
	if err != nil {
		return "", err
	}
	_, err = s.store.UpdateWebhookEndpoint(ctx, id, func(ep *model.WebhookEndpoint) {
		ep.Secret = sealed
		e.Target = target(id, ep.URL)
	}, e)
	if err != nil {
		return "", s.refuseMissing(ctx, e, err)
	}
	return sec, nil
}

// SetEnabled enables or disables an endpoint. A disabled endpoint gets no
// new events and its waiting ones wait until it is enabled again.
func (s *Service) SetEnabled(ctx context.Context, id string, on bool) error {
	e := audit.By(ctx, audit.WebhookDisabled, id)
	if on {
		e.Action = audit.WebhookEnabled
	}
	if _, err := actor.AtLeast(ctx, actor.Editor); err != nil {
		return audit.RecordRefusal(ctx, s.store, s.log, e, err)
	}
	_, err := s.store.UpdateWebhookEndpoint(ctx, id, func(ep *model.WebhookEndpoint) {
		ep.Enabled = on
		e.Target = target(id, ep.URL)
	}, e)
	if err == nil && on {
		s.notify()
	}
	return s.refuseMissing(ctx, e, err)
}

// Delete removes an endpoint with its waiting events and deliveries.
func (s *Service) Delete(ctx context.Context, id string) error {
	e := audit.By(ctx, audit.WebhookDeleted, id)
	if _, err := actor.AtLeast(ctx, actor.Editor); err != nil {
		return audit.RecordRefusal(ctx, s.store, s.log, e, err)
	}
	if ep, err := s.store.WebhookEndpoint(ctx, id); err == nil {
		e.Target = target(id, ep.URL)
	}
	return s.refuseMissing(ctx, e, s.store.DeleteWebhookEndpoint(ctx, id, e))
}

// Redeliver sends one event to the endpoint again, now, with the same
// webhook-id and body, so the receiver can tell it is the same event.
func (s *Service) Redeliver(ctx context.Context, id string, outboxID int64) error {
	e := audit.By(ctx, audit.WebhookRedelivered, id)
	if _, err := actor.AtLeast(ctx, actor.Editor); err != nil {
		return audit.RecordRefusal(ctx, s.store, s.log, e, err)
	}
	if ep, err := s.store.WebhookEndpoint(ctx, id); err == nil {
		e.Target = target(id, ep.URL)
	}
	if _, err := s.store.RedeliverWebhook(ctx, id, outboxID, e); err != nil {
		return s.refuseMissing(ctx, e, err)
	}
	s.notify()
	return nil
}

// refuseMissing records a change refused because its endpoint (or event)
// is gone; other errors are returned as they are.
func (s *Service) refuseMissing(ctx context.Context, e audit.Entry, err error) error {
	if apperr.Is(err, apperr.NotFound) {
		return audit.RecordRefusal(ctx, s.store, s.log, e, err)
	}
	return err
}
