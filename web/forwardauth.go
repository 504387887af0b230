package web

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"postern/internal/clientcert"
	"postern/internal/model"
	"postern/internal/posture"
)

// forwardAuthPath is the forward-auth endpoint for reverse proxies (nginx
// auth_request, Caddy forward_auth, Traefik ForwardAuth, Envoy ext_authz);
// it also answers under forwardAuthPath+"/*" since Envoy appends the
// original path (docs/api.md#forward-auth).
const forwardAuthPath = "/api/v1/posture/forward-auth"

// The headers forward-auth reads and writes.
const (
	hdrToken        = "X-Postern-Token"
	hdrDeviceID     = "X-Postern-Device-Id"
	hdrEntraID      = "X-Postern-Entra-Device-Id"
	hdrHostname     = "X-Postern-Hostname"
	hdrAllowed      = "X-Postern-Allowed"
	hdrDevice       = "X-Postern-Device"
	hdrMatchedBy    = "X-Postern-Matched-By"
	hdrReason       = "X-Postern-Reason"
	hdrValidUntil   = "X-Postern-Valid-Until"
	maxReasonHeader = 512
)

// PosternHeaders are all the X-Postern-* headers forward-auth reads and
// writes: the gateway configurations in deploy/ remove each one a client
// sends (deploy_test.go holds them to this list).
func PosternHeaders() []string {
	return []string{hdrToken, hdrDeviceID, hdrEntraID, hdrHostname, hdrAllowed, hdrDevice, hdrMatchedBy, hdrReason, hdrValidUntil}
}

// reasonNoIdentity is the 403 reason when a request names no device.
const reasonNoIdentity = "no device identity: send X-Postern-Device-Id or a client certificate"

// forwardAuth answers a reverse proxy: 200 to let the request pass, 403 to
// refuse it, and no other status for a decision (nginx serves a 500 for
// anything but 2xx, 401 and 403). 401 (a bad token) comes from the token
// middleware; 503 only while the snapshot is loading, as evaluate.
func (s *Server) forwardAuth(c echo.Context) error {
	if !s.fleet.Loaded() {
		c.Response().Header().Set("Retry-After", "1")
		return c.String(http.StatusServiceUnavailable, "the device snapshot is still loading; retry in a second\n")
	}
	req, problem := s.forwardIdentity(c)
	if problem != "" {
		s.recordNoIdentity(c, problem)
		return forwardDeny(c, problem)
	}
	a := answers.Get().(*answer)
	defer a.release()
	dec := s.decide(c, req, a)
	return forwardAnswer{allowed: dec.Allowed, device: deviceID(dec), matchedBy: matchedBy(dec), reason: headerSafe(firstReason(dec)),
		validUntil: validUntil(dec), cacheSecs: cacheSeconds(s.forwardMaxAge, dec.ValidUntil, s.now())}.write(c, a.buf)
}

// forwardAnswer is what forward-auth tells the proxy.
type forwardAnswer struct {
	allowed           bool
	device, matchedBy string // device: "" when none matched
	reason            string // header-safe; "" for none
	validUntil        string // "" when none is known
	cacheSecs         int64  // from cacheSeconds
}

// write sends fa: 200 or 403, the X-Postern-* and cache headers, and a
// short body for humans, a denial's built in buf's array. The values that
// vary share one array: one allocation, not one per header. Each header
// gets a full slice of it (len == cap), so that an Add copies instead of
// writing over the next header's value.
func (fa forwardAnswer) write(c echo.Context, buf []byte) error {
	vals := make([]string, 0, 6)
	one := func(v string) []string {
		vals = append(vals, v)
		return vals[len(vals)-1 : len(vals) : len(vals)]
	}
	h := c.Response().Header()
	h[hdrAllowed] = valFalse
	if fa.allowed {
		h[hdrAllowed] = valTrue
	}
	// Always set, empty when no device matched: a proxy that copies it to
	// the application then never passes on one the client sent.
	h[hdrDevice] = one(fa.device)
	h[hdrMatchedBy] = one(fa.matchedBy)
	if fa.reason != "" {
		h[hdrReason] = one(fa.reason)
	}
	if fa.validUntil != "" {
		h[hdrValidUntil] = one(fa.validUntil)
	}
	// "Cache-Control: private, max-age=N" and "X-Accel-Expires: N", or
	// "no-store" and "X-Accel-Expires: 0" (nginx: never cache this one).
	if fa.cacheSecs > 0 {
		h[echo.HeaderCacheControl] = one(cacheControl(fa.cacheSecs))
		h[hdrAccelExpires] = one(strconv.FormatInt(fa.cacheSecs, 10))
	} else {
		h[echo.HeaderCacheControl], h[hdrAccelExpires] = noStore, valZero
	}
	if fa.allowed {
		return writeText(c, http.StatusOK, bodyAllowed)
	}
	return writeText(c, http.StatusForbidden, append(append(append(buf[:0], "denied: "...), fa.reason...), '\n'))
}

// Shared header values and the allow's body, never edited in place (see
// securityHeaders).
var (
	valTrue     = []string{"true"}
	valFalse    = []string{"false"}
	valZero     = []string{"0"}
	textPlain   = []string{echo.MIMETextPlainCharsetUTF8}
	bodyAllowed = []byte("allowed\n")
)

// writeText sends a plain-text answer, as c.String does without copying
// body or allocating the Content-Type header's value.
func writeText(c echo.Context, code int, body []byte) error {
	res := c.Response()
	res.Header()[echo.HeaderContentType] = textPlain
	res.WriteHeader(code)
	_, err := res.Write(body)
	return err
}

// forwardDeny refuses a request whose device cannot be identified (or
// whose token lacks the evaluate scope), never to be cached.
func forwardDeny(c echo.Context, reason string) error {
	return forwardAnswer{matchedBy: posture.MatchedByNone, reason: headerSafe(reason)}.write(c, nil)
}

// forwardIdentity reads the device's identity from what the proxy
// forwarded, or says why it cannot.
func (s *Server) forwardIdentity(c echo.Context) (posture.Request, string) {
	h := c.Request().Header
	var req posture.Request
	if ri := infoOf(c.Request().Context()); ri != nil && ri.tokenSource == model.IdentityCertificate {
		// The client's own X-Postern-* headers may reach us through the
		// proxy: a certificate token believes none of them.
		return s.certIdentity(h)
	}
	for _, f := range [...]struct {
		name string
		dst  *string
	}{{hdrDeviceID, &req.DefenderMachineID}, {hdrEntraID, &req.AADDeviceID}, {hdrHostname, &req.Hostname}} {
		vs := h.Values(f.name)
		if len(vs) > 1 {
			return req, f.name + " appears more than once"
		}
		if len(vs) == 0 {
			continue
		}
		v := strings.TrimSpace(vs[0])
		if len(v) > 255 {
			return req, f.name + " is longer than 255 bytes"
		}
		if strings.ContainsAny(v, "\x00\r\n") || !utf8.ValidString(v) {
			return req, f.name + " contains control characters or invalid UTF-8"
		}
		*f.dst = v
	}
	if req.DefenderMachineID == "" && req.AADDeviceID == "" && req.Hostname == "" {
		return s.certIdentity(h)
	}
	return req, ""
}

// certIdentity reads the device from the forwarded client certificate.
func (s *Server) certIdentity(h http.Header) (posture.Request, string) {
	id, err := s.certCache.FromRequest(h, s.clientCert)
	switch {
	case errors.Is(err, clientcert.ErrNone):
		return posture.Request{}, reasonNoIdentity
	case err != nil:
		return posture.Request{}, "client certificate: " + err.Error()
	}
	return posture.Request{AADDeviceID: id.EntraDeviceID, Hostname: id.Hostname}, ""
}

// reasonCut ends a reason cut to fit maxReasonHeader: "…" spelled in ASCII
// as asciiFor spells it.
const reasonCut = "..."

// asciiFor spells the non-ASCII characters reasons use in ASCII.
var asciiFor = map[rune]string{'…': "...", '“': `"`, '”': `"`, '‘': "'", '’': "'", '—': "-", '–': "-", '→': "->", '≥': ">=", '≤': "<=", '×': "x"}

// headerSafe makes s one line of printable ASCII, at most maxReasonHeader
// bytes, for a response header that nginx, Caddy, Traefik and Envoy all
// pass on: control characters become spaces, runs of spaces one space,
// other characters their ASCII spelling or "?". A longer reason is cut
// between two characters of s (never inside the spelling of one, as "-"
// of "->") and ends with reasonCut, all within maxReasonHeader bytes.
func headerSafe(s string) string {
	if headerReady(s) {
		return s
	}
	var b strings.Builder
	space := false // a space is owed before the next character
	cut := -1      // b's length where reasonCut would still fit after it
	for _, r := range s {
		var add string
		switch {
		case r == utf8.RuneError:
			add = "?"
		case r < 0x20 || r == 0x7f || r == ' ':
			space = b.Len() > 0
			continue
		case r < 0x7f:
			add = string(r)
		default:
			if a, ok := asciiFor[r]; ok {
				add = a
			} else {
				add = "?"
			}
		}
		n := len(add)
		if space {
			n++
		}
		if cut < 0 && b.Len()+n > maxReasonHeader-len(reasonCut) {
			cut = b.Len()
		}
		if b.Len()+n > maxReasonHeader {
			return b.String()[:cut] + reasonCut
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteString(add)
	}
	return b.String()
}

// headerReady reports whether headerSafe would return s as it is:
// printable ASCII within maxReasonHeader bytes, single spaces between
// words. Most reasons are, and are then not copied.
func headerReady(s string) bool {
	if len(s) > maxReasonHeader {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == ' ':
			if i == 0 || i == len(s)-1 || s[i-1] == ' ' {
				return false
			}
		case c < 0x20 || c >= 0x7f:
			return false
		}
	}
	return true
}

// cacheSeconds is how long a proxy may cache a decision, in whole
// seconds: maxAge, never past validUntil (zero: unbounded); 0 (not at all)
// when that leaves no whole second, as with the default maxAge of 0.
func cacheSeconds(maxAge time.Duration, validUntil, now time.Time) int64 {
	if !validUntil.IsZero() && validUntil.Sub(now) < maxAge {
		maxAge = validUntil.Sub(now)
	}
	return max(int64(maxAge/time.Second), 0)
}

// hdrAccelExpires is nginx's own caching header, read before
// Cache-Control: nginx never caches a "private" answer, so the documented
// nginx recipe caches by this header alone (docs/gateways.md#caching).
const hdrAccelExpires = "X-Accel-Expires"

// cacheControl is the Cache-Control value for secs from cacheSeconds.
func cacheControl(secs int64) string {
	if secs <= 0 {
		return "no-store"
	}
	return "private, max-age=" + strconv.FormatInt(secs, 10)
}
