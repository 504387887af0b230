package web

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strings"

	"github.com/gorilla/sessions"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"postern/internal/actor"
	"postern/internal/audit"
	"postern/internal/auth"
	"postern/internal/model"
)

// Context keys set by middleware.
const (
	ctxSession = "session"
	ctxAdmin   = "admin"
	ctxCSRF    = "csrf"
)

// requestID gives every request a fresh id; an incoming X-Request-ID is not
// trusted, so clients cannot forge log correlation.
func (s *Server) requestID(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		ri := &requestInfo{Context: r.Context()}
		ri.id[0] = newRequestID()
		c.Response().Header()[echo.HeaderXRequestID] = ri.id[:]
		// Packages below web log with the request's context (slog's
		// ...Context methods); LogHandler adds the id to their lines.
		c.SetRequest(r.WithContext(ri))
		return next(c)
	}
}

// requestInfo is what the middleware learns about a request, kept in its
// context, which it is: the request's id and, once the token middleware
// has admitted an API client, its token. Being the context itself, it
// costs a request one allocation, not one for the context and one for
// each value.
type requestInfo struct {
	context.Context
	id          [1]string // the X-Request-Id header's value as well
	tokenID     int64     // the API token presented; 0: none
	tokenSource string    // that token's identity source (model.Identity*)
	decided     bool      // answered with a decision (recordDecision)
}

type requestInfoKey struct{}

func (ri *requestInfo) Value(key any) any {
	if key == (requestInfoKey{}) {
		return ri
	}
	return ri.Context.Value(key)
}

// infoOf is the requestInfo in ctx, or nil.
func infoOf(ctx context.Context) *requestInfo {
	ri, _ := ctx.Value(requestInfoKey{}).(*requestInfo)
	return ri
}

// requestIDOf is the id of c's request, or "" outside the middleware.
func requestIDOf(c echo.Context) string {
	if ri := infoOf(c.Request().Context()); ri != nil {
		return ri.id[0]
	}
	return ""
}

// newRequestID is 16 hex digits from the runtime's ChaCha8 generator,
// seeded by the system: unique enough to find a request's lines, and no
// system call per request, as crypto/rand would make. It is never a
// secret.
func newRequestID() string {
	const digits = "0123456789abcdef"
	var b [16]byte
	for i, x := 0, rand.Uint64(); i < len(b); i, x = i+1, x>>4 {
		b[i] = digits[x&0xf]
	}
	return string(b[:])
}

// LogHandler wraps h so that a line logged with a request's context carries
// that request's id, whichever package logs it. It must be the outermost
// handler of a logger (NewServer makes sure of it for the server's own):
// Server.logger replaces it, and a second one further in would add the id
// again.
func LogHandler(h slog.Handler) slog.Handler { return requestIDHandler{Handler: unwrapRequestID(h)} }

// requestIDHandler adds request_id to each line: id when set (a logger bound
// to one request), else the id in the context the line is logged with.
type requestIDHandler struct {
	slog.Handler
	id string
}

func unwrapRequestID(h slog.Handler) slog.Handler {
	if r, ok := h.(requestIDHandler); ok {
		return r.Handler
	}
	return h
}

func (h requestIDHandler) Handle(ctx context.Context, r slog.Record) error {
	id := h.id
	if id == "" {
		if ri := infoOf(ctx); ri != nil {
			id = ri.id[0]
		}
	}
	if id != "" {
		r.AddAttrs(slog.String("request_id", id))
	}
	return h.Handler.Handle(ctx, r)
}

func (h requestIDHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return requestIDHandler{h.Handler.WithAttrs(as), h.id}
}

func (h requestIDHandler) WithGroup(name string) slog.Handler {
	return requestIDHandler{h.Handler.WithGroup(name), h.id}
}

// logger is the server's logger bound to the request: every line it writes
// carries the request id, once, whatever context it is logged with. It is
// built on use, not for every request.
func (s *Server) logger(c echo.Context) *slog.Logger {
	id := requestIDOf(c)
	if id == "" {
		return s.log
	}
	return slog.New(requestIDHandler{Handler: unwrapRequestID(s.log.Handler()), id: id})
}

// requestLog writes one line per request. The query string is left out: it
// is not needed to follow a request and may carry search terms. API
// requests (/api/*, /metrics) log at debug level, and a line a minute sums
// them up at info (RunAPISummary); their server errors stay at error.
func (s *Server) requestLog() echo.MiddlewareFunc {
	return middleware.RequestLoggerWithConfig(middleware.RequestLoggerConfig{
		HandleError: true,
		LogStatus:   true, LogLatency: true, LogMethod: true, LogURIPath: true, LogRemoteIP: true, LogRoutePath: true,
		Skipper: func(c echo.Context) bool {
			p := c.Request().URL.Path
			return strings.HasPrefix(p, "/static/") || p == "/healthz" || p == "/readyz"
		},
		LogValuesFunc: func(c echo.Context, v middleware.RequestLoggerValues) error {
			s.metrics.Observe(v.RoutePath, v.Method, v.Status, v.Latency)
			level := slog.LevelInfo
			if isAPIPath(v.URIPath) {
				s.observeAPI(c, v.Status)
				level = slog.LevelDebug
			}
			if v.Status >= 500 {
				level = slog.LevelError
			}
			if !s.log.Enabled(c.Request().Context(), level) {
				return nil
			}
			// The request's context carries its id to LogHandler.
			s.log.LogAttrs(c.Request().Context(), level, "request",
				slog.String("method", v.Method), slog.String("path", v.URIPath),
				slog.Int("status", v.Status), slog.Duration("duration", v.Latency),
				slog.String("remote_ip", v.RemoteIP))
			return nil
		},
	})
}

// contentSecurityPolicy allows only our own scripts and styles: no inline
// code, no eval, no framing, no plugins, no <base> rewriting. data: images
// are the form plugin's select arrows and checkmarks.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"

// securityHeaders sets the headers every response carries. Pages are never
// cached (they may show admin data); static assets set their own caching.
// The answers of the API and /metrics, read by gateways and scrapers, never
// rendered by a browser, carry the few that still matter there (OWASP's
// REST guidance): nosniff, no caching and a CSP that allows nothing, not
// even framing; the page-only ones (referrer, opener and permissions
// policies) are left off the enforcement API's hot path, where each header
// is copied and sorted again for every answer.
// The values are shared slices, never to be edited in place, assigned under
// canonical names: Header.Set would allocate a slice per header per
// response. (An Add appends to a full slice, which copies it, so no
// response can change another's.)
func (s *Server) securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		switch p := c.Request().URL.Path; {
		case isAPIPath(p):
			for _, kv := range apiHeaders {
				h[kv.name] = kv.value
			}
		case strings.HasPrefix(p, "/static/"):
			for _, kv := range baseHeaders {
				h[kv.name] = kv.value
			}
		default:
			for _, kv := range baseHeaders {
				h[kv.name] = kv.value
			}
			h["Content-Security-Policy"] = cspValue
			h["Cache-Control"] = noStore
		}
		if s.isHTTPS(c.Request()) {
			h["Strict-Transport-Security"] = hstsValue
		}
		return next(c)
	}
}

type headerValue struct {
	name  string // canonical
	value []string
}

var (
	baseHeaders = []headerValue{
		{"X-Content-Type-Options", []string{"nosniff"}},
		{"Referrer-Policy", []string{"no-referrer"}},
		{"X-Frame-Options", []string{"DENY"}},
		{"Cross-Origin-Opener-Policy", []string{"same-origin"}},
		{"Cross-Origin-Resource-Policy", []string{"same-origin"}},
		{"Permissions-Policy", []string{"camera=(), microphone=(), geolocation=(), payment=(), usb=()"}},
	}
	apiHeaders = []headerValue{
		{"X-Content-Type-Options", []string{"nosniff"}},
		{"Content-Security-Policy", []string{"default-src 'none'; frame-ancestors 'none'"}},
		{"Cache-Control", noStore},
	}
	cspValue  = []string{contentSecurityPolicy}
	noStore   = []string{"no-store"}
	hstsValue = []string{"max-age=31536000; includeSubDomains"}
)

// sessionCookieName uses the __Host- prefix over HTTPS, which makes the
// browser insist on Secure, Path=/ and no Domain.
func (s *Server) sessionCookieName(r *http.Request) string {
	if s.isHTTPS(r) {
		return "__Host-postern_session"
	}
	return "postern_session"
}

// loadSession puts the session and, when signed in, the admin in the context.
func (s *Server) loadSession(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		sess, err := s.sessions.Get(r, s.sessionCookieName(r))
		if err != nil {
			return err
		}
		c.Set(ctxSession, sess)
		s.setActor(c, nil)
		if id := auth.AdminID(sess); id != 0 {
			// A disabled admin's sessions are deleted with the change;
			// the check here holds even if one were left behind.
			if a, err := s.store.Admin(r.Context(), id); err == nil && a.Enabled() && a.Role.Valid() {
				s.setActor(c, &a)
			}
		}
		return next(c)
	}
}

func session(c echo.Context) *sessions.Session {
	sess, _ := c.Get(ctxSession).(*sessions.Session)
	return sess
}

// setActor makes a the request's actor (nil: an anonymous client): in
// the request's context for the services, and in Echo's for the views.
func (s *Server) setActor(c echo.Context, a *model.Admin) {
	who := actor.Actor{IP: c.RealIP()}
	if a != nil {
		c.Set(ctxAdmin, *a)
		who.ID, who.Email, who.Role = a.ID, a.Email, a.Role
	}
	r := c.Request()
	c.SetRequest(r.WithContext(actor.NewContext(r.Context(), who)))
}

// currentAdmin is the signed-in admin, if any.
func currentAdmin(c echo.Context) (model.Admin, bool) {
	a, ok := c.Get(ctxAdmin).(model.Admin)
	return a, ok
}

// requireAdmin sends anonymous browsers to sign in (htmx requests get
// HX-Redirect, since a 303 would be swapped into the page).
func (s *Server) requireAdmin(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if _, ok := currentAdmin(c); ok {
			return next(c)
		}
		if c.Request().Header.Get("HX-Request") == "true" {
			c.Response().Header().Set("HX-Redirect", "/login")
			return c.NoContent(http.StatusUnauthorized)
		}
		rememberReturn(c)
		return c.Redirect(http.StatusSeeOther, "/login")
	}
}

// csrf refuses cross-site state changes: browsers that send Fetch Metadata
// are judged by Sec-Fetch-Site, others must echo the token from their CSRF
// cookie in the X-CSRF-Token header or the _csrf form field. Every refusal is
// a 403 and is audited.
func (s *Server) csrf() echo.MiddlewareFunc {
	build := func(name string, secure bool) echo.MiddlewareFunc {
		return middleware.CSRFWithConfig(middleware.CSRFConfig{
			TokenLookup:    "header:" + echo.HeaderXCSRFToken + ",form:_csrf",
			ContextKey:     ctxCSRF,
			CookieName:     name,
			CookiePath:     "/",
			CookieMaxAge:   12 * 60 * 60,
			CookieSecure:   secure,
			CookieHTTPOnly: true,
			CookieSameSite: http.SameSiteStrictMode,
			ErrorHandler:   func(err error, c echo.Context) error { return s.csrfRejected(c, "token missing or invalid") },
			AllowSecFetchSiteFunc: func(c echo.Context) (bool, error) {
				return false, s.csrfRejected(c, "Sec-Fetch-Site "+c.Request().Header.Get(echo.HeaderSecFetchSite))
			},
		})
	}
	plain, secure := build("postern_csrf", false), build("__Host-postern_csrf", true)
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		p, sc := plain(next), secure(next)
		return func(c echo.Context) error {
			// Echo's form lookup also reads the URL query; a token in a URL
			// ends up in logs and history, so such requests are refused.
			if r := c.Request(); r.Method != http.MethodGet && r.Method != http.MethodHead && r.URL.Query().Has("_csrf") {
				return s.csrfRejected(c, "token in the URL")
			}
			if s.isHTTPS(c.Request()) {
				return sc(c)
			}
			return p(c)
		}
	}
}

func (s *Server) csrfRejected(c echo.Context, why string) error {
	r := c.Request()
	s.audit(c, audit.CSRFRejected, r.Method+" "+r.URL.Path, audit.Denied, why)
	return echo.NewHTTPError(http.StatusForbidden, "This form has expired or came from another site. Reload the page and try again.")
}

// csrfToken is the token forms and htmx send back.
func csrfToken(c echo.Context) string {
	t, _ := c.Get(ctxCSRF).(string)
	return t
}
