package integration_test

import (
	"context"
	"database/sql"
	"encoding/base64"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"postern/internal/actor"
	"postern/internal/audit"
	"postern/internal/emulator"
	"postern/internal/integration"
	"postern/internal/model"
	"postern/internal/secret"
	"postern/internal/testkit"
	"postern/internal/testkit/teststore"
	"postern/store"
	"postern/store/storetest"
)

// *store.Store is the Store the service runs on, and so is any engine
// that passes the store conformance suite.
var (
	_ integration.Store = (*store.Store)(nil)
	_ integration.Store = storetest.Store(nil)
)

// loc is where the Defender client secret is sealed.
var loc = secret.Location{Table: "integrations", Column: "client_secret", Row: integration.Name}

var admin = actor.Actor{ID: 1, Email: "admin@example.com", Role: actor.Owner, IP: "192.0.2.10"}

// asAdmin is a request context that acts as admin.
func asAdmin() context.Context { return actor.NewContext(context.Background(), admin) }

// env is a Service on a real SQLite file and keyring, talking to the
// emulator over loopback.
type env struct {
	t      *testing.T
	emu    *emulator.Emulator
	url    string
	dbPath string
	st     *store.Store
	kr     *secret.Keyring
	svc    *integration.Service
	logs   *testkit.Buffer
	secret string // the secret the emulator accepts
}

type envOptions struct {
	now func() time.Time // nil → real clock
}

func newEnv(t *testing.T, sec string) *env {
	return newEnvWith(t, sec, envOptions{})
}

func newEnvWith(t *testing.T, sec string, o envOptions) *env {
	t.Helper()
	emu := emulator.New(emulator.Config{ClientSecret: sec, Machines: 5, Seed: 3})
	hs := httptest.NewServer(emu)
	t.Cleanup(hs.Close)

	st := teststore.Open(t, store.Options{Now: o.now})
	kr, _, err := secret.LoadKeyring("", filepath.Join(t.TempDir(), "master.key"))
	if err != nil {
		t.Fatalf("LoadKeyring: %v", err)
	}
	logs := &testkit.Buffer{}
	e := &env{t: t, emu: emu, url: hs.URL, dbPath: st.Path(), st: st, kr: kr, logs: logs, secret: sec}
	e.svc = e.service(kr)
	t.Cleanup(func() {
		if strings.Contains(logs.String(), sec) {
			t.Errorf("log output contains the client secret:\n%s", logs.String())
		}
	})
	return e
}

// service builds another Service on the same store and emulator with kr.
func (e *env) service(kr *secret.Keyring) *integration.Service {
	return integration.New(e.st, kr, e.logs.Logger(), integration.Options{LoginURL: e.url, APIURL: e.url})
}

// good is a valid input for the emulator's demo app.
func (e *env) good() integration.Input {
	return integration.Input{TenantID: emulator.DemoTenantID, ClientID: emulator.DemoClientID,
		ClientSecret: secret.Redacted(e.secret), Cloud: "commercial", Region: "global"}
}

// configure stores a working configuration or fails the test.
func (e *env) configure() model.Integration {
	e.t.Helper()
	if _, err := e.svc.Configure(asAdmin(), e.good()); err != nil {
		e.t.Fatalf("Configure(good) = %v", err)
	}
	return e.row()
}

// row returns the stored integration or fails the test.
func (e *env) row() model.Integration {
	e.t.Helper()
	in, err := e.st.Integration(context.Background(), integration.Name)
	if err != nil {
		e.t.Fatalf("stored integration: %v", err)
	}
	return in
}

// rawRows returns every integrations row, every column, as SQLite stores
// it, read through a connection of its own.
func (e *env) rawRows() []string {
	e.t.Helper()
	db, err := sql.Open("sqlite", store.DSN(e.dbPath, false))
	if err != nil {
		e.t.Fatalf("open raw: %v", err)
	}
	defer db.Close()
	return teststore.Dump(e.t, db.Query, "SELECT * FROM integrations ORDER BY name")
}

// audit returns the audit rows whose action starts with action, oldest first.
func (e *env) audit(action string) []audit.Entry {
	e.t.Helper()
	entries, _, err := e.st.AuditEntries(context.Background(), audit.Filter{Action: &action})
	if err != nil {
		e.t.Fatalf("AuditEntries: %v", err)
	}
	for i, j := 0, len(entries)-1; i < j; i, j = i+1, j-1 {
		entries[i], entries[j] = entries[j], entries[i]
	}
	return entries
}

// auditCount counts rows of action with outcome.
func (e *env) auditCount(action, outcome string) int {
	n := 0
	for _, a := range e.audit(action) {
		if a.Action == action && a.Outcome == outcome {
			n++
		}
	}
	return n
}

// assertAuditHidesSecrets checks every audit row for each secret; blank or
// very short inputs (a kept secret) are not secrets.
func (e *env) assertAuditHidesSecrets(secrets ...string) {
	e.t.Helper()
	for _, a := range e.audit("") {
		for _, s := range secrets {
			if s = strings.TrimSpace(s); len(s) >= 8 && (strings.Contains(a.Detail, s) || strings.Contains(a.Target, s)) {
				e.t.Errorf("audit row %d (%s) contains a client secret: %q", a.ID, a.Action, a.Detail)
			}
		}
	}
}

// encodings of s a careless store might write instead of sealing it.
func encodings(s string) []string {
	b := []byte(s)
	return []string{s, base64.StdEncoding.EncodeToString(b), base64.RawStdEncoding.EncodeToString(b),
		base64.URLEncoding.EncodeToString(b), base64.RawURLEncoding.EncodeToString(b), fmt.Sprintf("%x", b)}
}
