// Package web is Postern's HTTP layer: routes, middleware, handlers and the
// one error handler. Handlers bind and validate input, call the store or a
// service, and render a views component.
package web

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"postern/internal/auth"
	"postern/internal/clientcert"
	"postern/internal/decisionlog"
	"postern/internal/fleet"
	"postern/internal/integration"
	"postern/internal/metrics"
	"postern/internal/model"
	"postern/internal/policy"
	"postern/internal/signin"
	"postern/internal/syncer"
	"postern/internal/webhook"
	"postern/store"
)

// Deps are the server's explicit dependencies.
type Deps struct {
	Store       *store.Store
	Integration *integration.Service
	SignIn      *signin.Service
	Syncer      Syncer
	Fleet       *fleet.Holder
	Tokens      *auth.Tokens
	// MFA is two-factor authentication for local accounts.
	MFA            *auth.MFA
	Policy         *policy.Engine
	Checks         *policy.Service
	Webhooks       *webhook.Service
	Metrics        *metrics.Metrics
	Logger         *slog.Logger
	Now            func() time.Time
	TrustedProxies []netip.Prefix
	// ClientCert says how forward-auth reads forwarded client
	// certificates; nil reads them with the defaults and verifies nothing.
	ClientCert *clientcert.Config
	// ForwardAuthMaxAge is how long a proxy may cache a forward-auth
	// decision (Cache-Control), never past its valid_until; 0: no-store.
	ForwardAuthMaxAge time.Duration
	// Decisions is the decision log; nil records nothing.
	Decisions *decisionlog.Log
	// DecisionDays is the decision log's retention, as the page states it
	// (default 7).
	DecisionDays int
	// Replica reports this replica among several on one PostgreSQL
	// database; nil on a single Postern.
	Replica func() ReplicaStatus
	// Keys reports the master key ids this Postern holds, for
	// /readyz?verbose; nil reports none.
	Keys func() KeyStatus
}

// KeyStatus is the master keyring as this Postern last read it: key ids
// only, never key material.
type KeyStatus struct {
	Active string   // the key id that seals new values
	IDs    []string // every key id held
}

// ReplicaStatus is a replica as /readyz?verbose, /metrics and the
// Integrations card report it.
type ReplicaStatus struct {
	Name  string
	Role  string // replica.RoleLeader or replica.RoleFollower
	Epoch int64  // the leader's term; 0 as a follower
	Since time.Time
}

// Syncer is the background sync as the console drives it.
type Syncer interface {
	Trigger(reason string)
	Cancel()
	Status() syncer.Status
	SyncNow(ctx context.Context) error
	Recheck(ctx context.Context, id string) (bool, error)
	AcceptRemoval(ctx context.Context, id int64) (model.SyncRun, error)
}

// Server is the console's HTTP handler.
type Server struct {
	echo          *echo.Echo
	store         *store.Store
	integration   *integration.Service
	signin        *signin.Service
	syncer        Syncer
	fleet         *fleet.Holder
	tokens        *auth.Tokens
	admins        *auth.Admins
	mfa           *auth.MFA
	passkeys      *auth.Passkeys
	policy        *policy.Engine
	checks        *policy.Service
	webhooks      *webhook.Service
	metrics       *metrics.Metrics
	log           *slog.Logger
	now           func() time.Time
	proxies       []netip.Prefix
	sessions      *auth.SessionStore
	limiter       *auth.Limiter
	decisions     *decisionlog.Log
	decisionDays  int
	replica       func() ReplicaStatus // nil: a single Postern
	keys          func() KeyStatus     // nil: none reported
	apiSummary    apiCounts
	clientCert    *clientcert.Config
	forwardMaxAge time.Duration
	certCache     clientcert.Cache // identities of recently forwarded certificates
}

// Login limits: ten failures per account or per client address within
// fifteen minutes; the eleventh attempt is refused until the window moves.
const (
	loginMaxFailures = 10
	loginWindow      = 15 * time.Minute
)

// NewServer wires the middleware, in order, and the routes.
func NewServer(d Deps) *Server {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.ClientCert == nil {
		d.ClientCert = &clientcert.Config{}
	}
	if d.Checks == nil && d.Policy != nil {
		d.Checks = policy.NewService(d.Store, d.Policy, d.Logger)
	}
	s := &Server{
		echo:          echo.New(),
		store:         d.Store,
		integration:   d.Integration,
		signin:        d.SignIn,
		syncer:        d.Syncer,
		fleet:         d.Fleet,
		tokens:        d.Tokens,
		mfa:           d.MFA,
		policy:        d.Policy,
		checks:        d.Checks,
		webhooks:      d.Webhooks,
		metrics:       d.Metrics,
		log:           slog.New(LogHandler(d.Logger.Handler())), // idempotent: serve.go's logger has it already
		now:           func() time.Time { return d.Now().UTC() },
		proxies:       d.TrustedProxies,
		clientCert:    d.ClientCert,
		forwardMaxAge: d.ForwardAuthMaxAge,
		limiter:       auth.NewLimiter(d.Store, loginMaxFailures, loginWindow, d.Now),
		decisions:     d.Decisions,
	}
	s.decisionDays = d.DecisionDays
	s.replica = d.Replica
	s.keys = d.Keys
	if s.decisionDays <= 0 {
		s.decisionDays = 7
	}
	s.admins = auth.NewAdmins(d.Store, s.log)
	s.passkeys = auth.NewPasskeys(d.Store, s.log)
	s.sessions = auth.NewSessionStore(d.Store, d.Now)
	s.sessions.Secure = s.isHTTPS

	e := s.echo
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.handleError
	e.IPExtractor = s.ipExtractor()

	e.Use(middleware.RecoverWithConfig(middleware.RecoverConfig{
		DisableStackAll: true,
		LogErrorFunc: func(c echo.Context, err error, stack []byte) error {
			s.logger(c).Error("panic", "err", err, "stack", string(stack))
			return err
		},
	}))
	e.Use(s.requestID)
	e.Use(s.requestLog())
	e.Use(s.securityHeaders)
	// A request without a body (the enforcement API's GETs over HTTP/1,
	// which net/http gives http.NoBody) has nothing to limit.
	e.Use(middleware.BodyLimitWithConfig(middleware.BodyLimitConfig{Limit: "1M",
		Skipper: func(c echo.Context) bool { return c.Request().Body == http.NoBody }}))
	s.routes()
	return s
}

// ServeHTTP makes Server an http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	forwardAuthAnyMethod(r)
	s.echo.ServeHTTP(w, r)
}

// Routes lists every registered route; tests use it so that no route escapes
// the authentication check.
func (s *Server) Routes() []*echo.Route { return s.echo.Routes() }

// NewHTTPServer wraps h with timeouts that stop slow clients from holding
// connections open.
func NewHTTPServer(addr string, h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// ipExtractor believes X-Forwarded-For only from trusted proxies; otherwise
// the client address is the TCP peer, so a spoofed header cannot reset the
// per-address login limit.
func (s *Server) ipExtractor() echo.IPExtractor {
	if len(s.proxies) == 0 {
		return echo.ExtractIPDirect()
	}
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, p := range s.proxies {
		_, n, err := net.ParseCIDR(p.String())
		if err == nil {
			opts = append(opts, echo.TrustIPRange(n))
		}
	}
	return echo.ExtractIPFromXFFHeader(opts...)
}

// fromTrustedProxy reports whether the TCP peer is a configured proxy.
func (s *Server) fromTrustedProxy(r *http.Request) bool {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	addr := ap.Addr().Unmap()
	for _, p := range s.proxies {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// isHTTPS reports whether the browser reached us over TLS, directly or
// through a trusted proxy that says so.
func (s *Server) isHTTPS(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	return s.fromTrustedProxy(r) && strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}
