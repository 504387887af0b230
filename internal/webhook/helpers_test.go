package webhook_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"postern/internal/actor"
	"postern/internal/audit"
	"postern/internal/model"
	"postern/internal/secret"
	"postern/internal/testkit"
	"postern/internal/testkit/teststore"
	"postern/internal/webhook"
	"postern/store"
	"postern/store/storetest"
)

var (
	_ webhook.Store = (*store.Store)(nil)
	_ webhook.Store = storetest.Store(nil)
)

var admin = actor.Actor{ID: 1, Email: "admin@example.com", Role: actor.Owner, IP: "192.0.2.10"}

func asAdmin() context.Context { return actor.NewContext(context.Background(), admin) }

// env is the service and worker on a real SQLite file and keyring, with a
// clock the test moves.
type env struct {
	t     *testing.T
	st    *store.Store
	kr    *secret.Keyring
	clock *testkit.Clock
	logs  *testkit.Buffer
	svc   *webhook.Service
	w     *webhook.Worker
}

func newEnv(t *testing.T, o webhook.Options) *env {
	t.Helper()
	clock := testkit.NewClock(time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC))
	st := teststore.Open(t, store.Options{Now: clock.Now})
	kr, _, err := secret.LoadKeyring("", filepath.Join(t.TempDir(), "master.key"))
	if err != nil {
		t.Fatalf("LoadKeyring: %v", err)
	}
	logs := &testkit.Buffer{}
	if o.Jitter == nil {
		o.Jitter = func(d time.Duration) time.Duration { return d } // no randomness: exact waits
	}
	e := &env{t: t, st: st, kr: kr, clock: clock, logs: logs}
	e.w = webhook.NewWorker(st, kr, logs.Logger(), o)
	e.svc = webhook.NewService(st, kr, logs.Logger(), e.w.Notify)
	return e
}

// add creates an endpoint for url and types and returns it with its secret.
func (e *env) add(url string, types ...string) (webhook.Endpoint, string) {
	e.t.Helper()
	ep, sec, err := e.svc.Create(asAdmin(), url, types)
	if err != nil {
		e.t.Fatalf("Create(%s) = %v", url, err)
	}
	e.t.Cleanup(func() {
		if strings.Contains(e.logs.String(), sec.Reveal()) {
			e.t.Errorf("the log holds a signing secret:\n%s", e.logs.String())
		}
		es, _, _ := e.st.AuditEntries(context.Background(), audit.Filter{})
		for _, a := range es {
			if strings.Contains(a.Target+a.Detail, sec.Reveal()) {
				e.t.Errorf("audit entry %+v holds a signing secret", a)
			}
		}
	})
	return ep, sec.Reveal()
}

// emit writes one event for every endpoint that wants its type.
func (e *env) emit(id, typ string) {
	e.t.Helper()
	body := `{"type":"` + typ + `","data":{"n":"` + id + `"}}`
	if err := e.st.EmitWebhookEvents(context.Background(), []model.WebhookEvent{{ID: id, Type: typ, Body: []byte(body)}}); err != nil {
		e.t.Fatalf("EmitWebhookEvents: %v", err)
	}
}

func (e *env) deliver() {
	e.t.Helper()
	if err := e.w.Deliver(context.Background()); err != nil {
		e.t.Fatalf("Deliver: %v", err)
	}
}

// received is one request a receiver got, as it came.
type received struct {
	ID, Timestamp, Signature string
	Body                     []byte
}

// receiver is a real HTTP receiver that answers with the codes queued in
// answers (then 204) and records every request.
type receiver struct {
	mu      sync.Mutex
	got     []received
	answers []int
	srv     *httptest.Server
}

func newReceiver(t *testing.T, answers ...int) *receiver {
	r := &receiver{answers: answers}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got = append(r.got, received{req.Header.Get("webhook-id"), req.Header.Get("webhook-timestamp"),
			req.Header.Get("webhook-signature"), body})
		code := http.StatusNoContent
		if len(r.answers) > 0 {
			code, r.answers = r.answers[0], r.answers[1:]
		}
		r.mu.Unlock()
		w.WriteHeader(code)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) requests() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.got...)
}

// verify checks a request as a receiver would, written from the Standard
// Webhooks specification and not from Postern's code: the secret's base64
// after whsec_ is the key; the signed content is id.timestamp.body; the
// header holds space-separated "v1,<base64>" signatures, any of which may
// match; the timestamp must be within tolerance of now.
func verify(secretStr string, r received, now time.Time, tolerance time.Duration) bool {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secretStr, "whsec_"))
	if err != nil {
		return false
	}
	ts, err := strconv.ParseInt(r.Timestamp, 10, 64)
	if err != nil {
		return false
	}
	if d := now.Sub(time.Unix(ts, 0)); d > tolerance || d < -tolerance {
		return false
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(r.ID + "." + r.Timestamp + "." + string(r.Body)))
	want := mac.Sum(nil)
	for _, sig := range strings.Fields(r.Signature) {
		version, b64, ok := strings.Cut(sig, ",")
		got, err := base64.StdEncoding.DecodeString(b64)
		if ok && version == "v1" && err == nil && hmac.Equal(got, want) {
			return true
		}
	}
	return false
}
