package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"postern/internal/model"
	"postern/internal/secret"
	"postern/internal/webhook/events"
)

// Defaults of the worker's Options.
const (
	DefaultTimeout     = 10 * time.Second
	DefaultConcurrency = 16
	// DefaultPerEndpoint: requests in flight to one endpoint at most, so
	// that a slow or dead receiver holds a few slots and the others flow.
	DefaultPerEndpoint = 2
	DefaultPoll        = time.Second
	DefaultMaxAge      = 24 * time.Hour
	DefaultRetention   = 7 * 24 * time.Hour
	// DefaultExpiryWarning: integration.secret_expiring is sent once when
	// the credential has less than this left.
	DefaultExpiryWarning = 30 * 24 * time.Hour
	firstRetry           = 10 * time.Second
	maxRetry             = 2 * time.Hour
	watchEvery           = time.Minute
	defenderIntegration  = "defender"
)

// Options tune the Worker; the zero value is production.
type Options struct {
	Now         func() time.Time // the clock of due times; the store's by default
	HTTPClient  *http.Client     // its Timeout is replaced by Timeout
	Timeout     time.Duration    // of one request, answer included
	Concurrency int              // requests in flight at most
	PerEndpoint int              // requests in flight to one endpoint at most
	Poll        time.Duration    // how often the outbox is read when nothing wakes the worker
	MaxAge      time.Duration    // how long an event is retried
	Retention   time.Duration    // how long delivered and failed events are kept
	// Jitter picks the actual wait for a backoff step d; by default
	// uniformly in [d/2, d).
	Jitter func(d time.Duration) time.Duration
	// Freshness reports whether the Defender data is stale and when it was
	// last synced successfully (the policy engine's rule); nil: never.
	Freshness     func() (stale bool, syncedAt time.Time)
	ExpiryWarning time.Duration
	// ReloadKeyring reads the master keyring again, for a secret sealed
	// under a key rotate-key added while Postern ran.
	ReloadKeyring func() (*secret.Keyring, error)
}

// Worker delivers the outbox. Its requests run in goroutines of their own,
// at most Concurrency at once and PerEndpoint to one endpoint: a slow or
// dead receiver holds its few slots, never another receiver's, the sync,
// the console or the enforcement API, which only write rows.
type Worker struct {
	store    Store
	keyring  atomic.Pointer[secret.Keyring]
	log      *slog.Logger
	o        Options
	client   *http.Client
	wake     chan struct{}
	slots    chan struct{}
	wg       sync.WaitGroup
	mu       sync.Mutex
	inflight map[int64]bool
	busy     map[string]int // requests in flight by endpoint
	// done is when (in seq) each event finished lately: a read of the
	// outbox that began before may still show it due.
	done  map[int64]uint64
	seq   uint64
	stats *stats
}

// NewWorker returns the worker.
func NewWorker(st Store, kr *secret.Keyring, log *slog.Logger, o Options) *Worker {
	if o.Now == nil {
		o.Now = st.Now
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Concurrency <= 0 {
		o.Concurrency = DefaultConcurrency
	}
	if o.PerEndpoint <= 0 {
		o.PerEndpoint = DefaultPerEndpoint
	}
	if o.Poll <= 0 {
		o.Poll = DefaultPoll
	}
	if o.MaxAge <= 0 {
		o.MaxAge = DefaultMaxAge
	}
	if o.Retention <= 0 {
		o.Retention = DefaultRetention
	}
	if o.ExpiryWarning <= 0 {
		o.ExpiryWarning = DefaultExpiryWarning
	}
	if o.Jitter == nil {
		o.Jitter = func(d time.Duration) time.Duration { return d/2 + rand.N(d/2+1) }
	}
	client := &http.Client{}
	if o.HTTPClient != nil {
		c := *o.HTTPClient
		client = &c
	}
	client.Timeout = o.Timeout
	// A redirect is an answer, not a delivery: the signature was made for
	// this URL, and following it could send the event anywhere.
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	w := &Worker{store: st, log: log, o: o, client: client, wake: make(chan struct{}, 1),
		slots: make(chan struct{}, o.Concurrency), inflight: map[int64]bool{}, busy: map[string]int{}, done: map[int64]uint64{}, stats: newStats()}
	w.keyring.Store(kr)
	return w
}

// Notify wakes the worker to read the outbox now.
func (w *Worker) Notify() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Run delivers until ctx ends, then waits for the requests in flight,
// which end with ctx; their events stay due and are sent after a restart.
func (w *Worker) Run(ctx context.Context) error {
	defer w.wg.Wait()
	poll := time.NewTicker(w.o.Poll)
	defer poll.Stop()
	var watched, pruned time.Time
	for {
		if now := time.Now(); now.Sub(watched) >= watchEvery {
			watched = now
			w.Watch(ctx)
		}
		if now := time.Now(); now.Sub(pruned) >= time.Hour {
			pruned = now
			if _, err := w.store.PruneWebhookOutbox(ctx, w.o.Now().Add(-w.o.Retention)); err != nil && ctx.Err() == nil {
				w.log.Error("prune the webhook outbox", "err", err)
			}
		}
		if err := w.dispatch(ctx); err != nil && ctx.Err() == nil {
			w.log.Error("read the webhook outbox", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-poll.C:
		case <-w.wake:
		}
	}
}

// Deliver starts every due event that has a free slot and waits until
// they are done: one pass of Run, for tests.
func (w *Worker) Deliver(ctx context.Context) error {
	err := w.dispatch(ctx)
	w.wg.Wait()
	return err
}

// dispatch starts a delivery for each due event not already in flight,
// as long as a slot is free; the rest wait for the next pass. An event that
// finished after the outbox was read is skipped: the read may predate its
// record. Only Run or Deliver calls it, one at a time.
func (w *Worker) dispatch(ctx context.Context) error {
	w.mu.Lock()
	w.seq++
	start := w.seq
	w.mu.Unlock()
	defer func() {
		w.mu.Lock()
		for id, at := range w.done {
			if at < start { // recorded before this read began: every later read sees it
				delete(w.done, id)
			}
		}
		w.mu.Unlock()
	}()
	items, err := w.store.DueWebhooksPerEndpoint(ctx, w.o.Now(), w.o.PerEndpoint)
	if err != nil {
		return err
	}
	for _, it := range items {
		w.mu.Lock()
		busy := w.inflight[it.ID] || w.done[it.ID] >= start || w.busy[it.EndpointID] >= w.o.PerEndpoint
		w.mu.Unlock()
		if busy {
			continue
		}
		select {
		case w.slots <- struct{}{}:
		default:
			return nil
		}
		w.mu.Lock()
		w.inflight[it.ID] = true
		w.busy[it.EndpointID]++
		w.mu.Unlock()
		w.wg.Add(1)
		go func() {
			defer func() {
				w.mu.Lock()
				delete(w.inflight, it.ID)
				if w.busy[it.EndpointID]--; w.busy[it.EndpointID] <= 0 {
					delete(w.busy, it.EndpointID)
				}
				w.seq++
				w.done[it.ID] = w.seq
				w.mu.Unlock()
				<-w.slots
				w.wg.Done()
				w.Notify() // a slot is free: the next due event need not wait for the poll
			}()
			w.deliver(ctx, it)
		}()
	}
	return nil
}

// deliver makes one attempt and records it. An attempt cut short by the
// worker stopping is not recorded: the event stays due.
func (w *Worker) deliver(ctx context.Context, it model.OutboxItem) {
	ep, err := w.store.WebhookEndpoint(ctx, it.EndpointID)
	if err != nil {
		if ctx.Err() == nil {
			w.log.Error("read a webhook endpoint", "endpoint", it.EndpointID, "err", err)
		}
		return
	}
	now := w.o.Now()
	a := model.WebhookAttempt{At: now}
	key, err := w.key(ep)
	if err != nil {
		w.log.Error("open a webhook signing secret", "endpoint", ep.ID, "err", err)
		a.Error = "the signing secret could not be opened: check the master key"
	} else {
		a = w.post(ctx, ep, it, key, now)
	}
	if ctx.Err() != nil {
		return
	}
	outcome := OutcomeDelivered
	if !a.OK {
		a.Next = w.next(it, now)
		outcome = OutcomeRetry
		if a.Next.IsZero() {
			outcome = OutcomeGivenUp
		}
	}
	w.stats.count(outcome)
	if err := w.store.RecordWebhookAttempt(context.WithoutCancel(ctx), it.ID, a); err != nil {
		w.log.Error("record a webhook delivery", "endpoint", ep.ID, "event", it.EventID, "err", err)
		return
	}
	if !a.OK {
		w.log.Warn("webhook delivery failed", "endpoint", ep.ID, "url", displayURL(ep.URL), "event", it.EventID,
			"type", it.EventType, "attempt", it.Attempts+1, "code", a.Code, "error", a.Error, "retry", !a.Next.IsZero())
	}
}

// post sends the event once, signed, and says how it went.
func (w *Worker) post(ctx context.Context, ep model.WebhookEndpoint, it model.OutboxItem, key []byte, now time.Time) model.WebhookAttempt {
	a := model.WebhookAttempt{At: now}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep.URL, bytes.NewReader(it.Body))
	if err != nil {
		a.Error = "the URL cannot be requested"
		return a
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Postern-Webhooks/1")
	req.Header.Set("webhook-id", it.EventID)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
	req.Header.Set("webhook-signature", Sign(key, it.EventID, now, it.Body))
	start := time.Now()
	resp, err := w.client.Do(req)
	a.Latency = time.Since(start)
	if ctx.Err() == nil { // not an attempt the stop cut short
		w.stats.latency.Observe(a.Latency.Seconds())
	}
	if err != nil {
		a.Error = describe(err, w.o.Timeout)
		return a
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	a.Code = resp.StatusCode
	a.OK = resp.StatusCode >= 200 && resp.StatusCode < 300
	if !a.OK {
		a.Error = fmt.Sprintf("answered %d %s", resp.StatusCode, http.StatusText(resp.StatusCode))
	}
	return a
}

// describe puts a failed request in words without its URL, whose query
// may hold the receiver's token.
func describe(err error, timeout time.Duration) string {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return fmt.Sprintf("no answer within %s", timeout)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return err.Error()
}

// next is when to try again after a failed attempt: 10 s, doubling up to
// 2 h, each wait jittered, until MaxAge after the event was written (or
// redelivered), which is the last try; zero means give up.
func (w *Worker) next(it model.OutboxItem, now time.Time) time.Time {
	deadline := it.CreatedAt.Add(w.o.MaxAge)
	if !now.Before(deadline) {
		return time.Time{}
	}
	d := firstRetry
	for i := 0; i < it.Attempts && d < maxRetry; i++ {
		d *= 2
	}
	d = min(d, maxRetry)
	at := now.Add(w.o.Jitter(d))
	if at.After(deadline) {
		at = deadline
	}
	return at
}

// key opens an endpoint's signing secret, reading the keyring again once
// when the secret is sealed under a key this one lacks.
func (w *Worker) key(ep model.WebhookEndpoint) ([]byte, error) {
	loc := secretLocation(ep.ID)
	plain, err := w.keyring.Load().Open(ep.Secret, loc)
	if errors.Is(err, secret.ErrUnknownKey) && w.o.ReloadKeyring != nil {
		fresh, rerr := w.o.ReloadKeyring()
		if rerr == nil {
			w.keyring.Store(fresh)
			plain, err = fresh.Open(ep.Secret, loc)
		}
	}
	if err != nil {
		return nil, err
	}
	return secretKey(string(plain))
}

// Watch writes the events no change carries: the Defender data turned
// stale, the integration's credential expiring soon. Each has an id of its
// own condition (the last successful sync, the expiry date), and the store
// writes an id once per endpoint ever, so noticing it again, even after
// its outbox row was pruned, writes nothing.
func (w *Worker) Watch(ctx context.Context) {
	in, err := w.store.Integration(ctx, defenderIntegration)
	if err != nil || !in.Enabled {
		return
	}
	now := w.o.Now()
	var evs []model.WebhookEvent
	if w.o.Freshness != nil {
		if stale, at := w.o.Freshness(); stale && !at.IsZero() {
			evs = append(evs, events.StaleEvent(defenderIntegration, at, now))
		}
	}
	// Once the credential has expired no more warning is due: the syncs
	// fail from then on, and each says so as sync.failed.
	if exp := in.SecretExpiresOn; exp != nil && exp.After(now) && exp.Sub(now) < w.o.ExpiryWarning {
		evs = append(evs, events.ExpiringEvent(defenderIntegration, *in.SecretExpiresOn, now))
	}
	if len(evs) == 0 {
		return
	}
	if err := w.store.EmitWebhookEvents(ctx, evs); err != nil {
		w.log.Error("write webhook events", "err", err)
		return
	}
	w.Notify()
}
