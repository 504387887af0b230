// Package emulator is a local stand-in for the Microsoft Entra token endpoint
// and the Microsoft Defender for Endpoint machines API, written from the facts
// in docs/defender-api.md. One http.Handler serves both, so a single base URL works
// as the login host and the API host. Tests, benchmarks, `postern
// emulate-defender` and `postern --demo` use it; everything a test needs
// (faults, data edits, the clock) is switchable here, so production code needs
// no test-only branches.
package emulator

import (
	"crypto/rand"
	"crypto/x509"
	mrand "math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Demo credentials: fixed so `postern --demo` can print them, well-formed so
// they pass the same validation as real ones, and visibly not real.
const (
	DemoTenantID     = "d3e40000-7e1a-4e70-8000-000000000001"
	DemoTenantDomain = "contoso-demo.onmicrosoft.com"
	DemoClientID     = "d3e40000-c11e-4e70-8000-000000000002"
	DemoClientSecret = "Dem8Q~p0stern.Emulat0r-D3mo.N0t~A.Real_S"
	// DemoAppName is the app_displayname claim of issued tokens.
	DemoAppName = "Postern (emulator)"
	// DefaultMachines is the fleet size when Config.Machines is zero.
	DefaultMachines = 50
)

// Config names the one tenant and app the emulator accepts and the fleet it
// generates. Empty fields take the Demo defaults.
type Config struct {
	TenantID, TenantDomain, ClientID, ClientSecret string
	AppDisplayName                                 string
	Machines                                       int // 0 → DefaultMachines; negative → an empty fleet
	Seed                                           int64
	// ClientCertificates are registered on the app: a token request may
	// prove the app's identity with an assertion signed by one of them.
	ClientCertificates []*x509.Certificate
	Now                func() time.Time // nil → time.Now
}

// Emulator is the http.Handler. Its methods are safe for concurrent use.
type Emulator struct {
	cfg Config
	key []byte // HMAC key of the tokens this instance issues

	editMu sync.Mutex // serialises fleet writers: SetMachines, Mutate, Drift

	mu         sync.Mutex
	fleet      []Machine // immutable snapshot sorted by id; replaced, never edited
	faults     Faults
	stats      Stats
	calls      map[string][]time.Time // rate-limit log per appid|tid
	drift      *mrand.Rand            // drift randomness; guarded by editMu
	nextIndex  int
	certs      []*x509.Certificate     // the app's registered certificates
	avOverride map[string]func(*AVRow) // SetAVOverride; guarded by mu
	avCache    *avRowsCache            // AVRows of the current fleet; guarded by mu
}

// New generates the fleet from cfg.Seed and returns a ready handler.
func New(cfg Config) *Emulator {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&cfg.TenantID, DemoTenantID)
	def(&cfg.TenantDomain, DemoTenantDomain)
	def(&cfg.ClientID, DemoClientID)
	def(&cfg.ClientSecret, DemoClientSecret)
	def(&cfg.AppDisplayName, DemoAppName)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	n := cfg.Machines
	if n == 0 {
		n = DefaultMachines
	}
	n = max(n, 0)
	e := &Emulator{
		cfg:       cfg,
		key:       make([]byte, 32),
		calls:     map[string][]time.Time{},
		drift:     newRand(cfg.Seed, 2),
		nextIndex: n,
		certs:     cfg.ClientCertificates,
	}
	rand.Read(e.key)
	e.stats.Paths = map[string]int{}
	e.fleet = generate(cfg.Seed, n, e.now())
	return e
}

func (e *Emulator) now() time.Time { return e.cfg.Now().UTC() }

// ServeHTTP routes the token endpoints (/{tenant}/oauth2/v2.0/token and the
// v1 /{tenant}/oauth2/token) and the machines API (/api[/v1.0]/machines[/{id}]).
func (e *Emulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	e.mu.Lock()
	e.stats.Paths[p]++
	e.mu.Unlock()
	switch {
	case strings.HasSuffix(p, "/oauth2/v2.0/token"):
		e.serveToken(w, r, strings.TrimPrefix(strings.TrimSuffix(p, "/oauth2/v2.0/token"), "/"), true)
	case strings.HasSuffix(p, "/oauth2/token"):
		e.serveToken(w, r, strings.TrimPrefix(strings.TrimSuffix(p, "/oauth2/token"), "/"), false)
	default:
		e.serveAPI(w, r)
	}
}

// Stats counts what the emulator answered, for assertions and benchmarks.
type Stats struct {
	TokenRequests int            // calls to either token endpoint
	TokensIssued  int            // successful token responses
	APIRequests   int            // calls to anything that is not a token endpoint
	Throttled     int            // 429 responses sent
	Errors5xx     int            // 5xx responses sent by the API (faults)
	Paths         map[string]int // requests per URL path
}

// Stats returns a copy of the counters.
func (e *Emulator) Stats() Stats {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.stats
	s.Paths = make(map[string]int, len(e.stats.Paths))
	for k, v := range e.stats.Paths {
		s.Paths[k] = v
	}
	return s
}

// ResetStats zeroes the counters (the rate-limit windows are kept).
func (e *Emulator) ResetStats() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.stats = Stats{Paths: map[string]int{}}
}

func (e *Emulator) count(f func(*Stats)) {
	e.mu.Lock()
	f(&e.stats)
	e.mu.Unlock()
}

// snapshot returns the current fleet; callers must treat it as read-only.
func (e *Emulator) snapshot() []Machine {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.fleet
}

// Machines returns deep copies of the current fleet, sorted by id.
func (e *Emulator) Machines() []Machine {
	fl := e.snapshot()
	out := make([]Machine, len(fl))
	for i := range fl {
		out[i] = fl[i].clone()
	}
	return out
}

// SetMachines replaces the fleet with copies of ms (kept sorted by id).
func (e *Emulator) SetMachines(ms []Machine) {
	e.editMu.Lock()
	defer e.editMu.Unlock()
	e.setMachines(ms)
}

// Mutate lets a test edit the fleet atomically: fn gets copies and returns the
// new fleet. fn may call Machines but not SetMachines, Mutate or Drift.
func (e *Emulator) Mutate(fn func([]Machine) []Machine) {
	e.editMu.Lock()
	defer e.editMu.Unlock()
	e.setMachines(fn(e.Machines()))
}

func (e *Emulator) setMachines(ms []Machine) {
	fl := make([]Machine, len(ms))
	for i := range ms {
		fl[i] = ms[i].clone()
	}
	fl = sortByID(fl)
	e.mu.Lock()
	e.fleet = fl
	e.mu.Unlock()
}
