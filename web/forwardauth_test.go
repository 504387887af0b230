package web

import (
	"context"
	"io"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/PuerkitoBio/goquery"
	"github.com/labstack/echo/v4"

	"postern/internal/fleet"
	"postern/internal/model"
	"postern/internal/posture"
)

// faAsk sends one forward-auth request through the real server with a
// plain client: method, path suffix, and headers (values "" are skipped).
func faAsk(t *testing.T, e *testEnv, method, suffix string, hdr map[string]string) response {
	t.Helper()
	req, err := http.NewRequest(method, e.http.URL+forwardAuthPath+suffix, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		if v != "" {
			req.Header.Set(k, v)
		}
	}
	res, err := (&http.Client{}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return response{Response: res, body: string(b)}
}

// faWant checks a decision answer: status, X-Postern-Allowed, and a reason
// that is one header-safe line.
func faWant(t *testing.T, res response, status int) {
	t.Helper()
	wantStatus(t, res, status)
	if got, want := res.Header.Get(hdrAllowed), map[int]string{200: "true", 403: "false"}[status]; got != want {
		t.Errorf("X-Postern-Allowed %q, want %q", got, want)
	}
	r := res.Header.Get(hdrReason)
	if len(r) > maxReasonHeader {
		t.Errorf("X-Postern-Reason is %d bytes", len(r))
	}
	for _, c := range []byte(r) {
		if c < 0x20 || c >= 0x7f {
			t.Fatalf("X-Postern-Reason holds byte %#x: %q", c, r)
		}
	}
	if res.Header.Get("Cache-Control") == "" {
		t.Error("no Cache-Control")
	}
	if strings.TrimSpace(res.body) == "" || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/plain") {
		t.Errorf("body %q (%s), want a short text", res.body, res.Header.Get("Content-Type"))
	}
}

func TestForwardAuthDecisions(t *testing.T) {
	d, token, f := evSetupDefender(t)
	e := d.testEnv
	evSaveCheck(t, e, model.PostureCheck{Name: "Low risk only", DataSource: posture.SourceDefender, Enabled: true},
		posture.Spec{MaxRisk: "Medium"})
	bearer := "Bearer " + token

	t.Run("allowed, any method, any suffix", func(t *testing.T) {
		for _, m := range []string{"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"} {
			for _, suffix := range []string{"", "/", "/app/some/page?q=1"} {
				res := faAsk(t, e, m, suffix, map[string]string{"Authorization": bearer, hdrDeviceID: f.low.ID})
				wantStatus(t, res, http.StatusOK)
				if res.Header.Get(hdrAllowed) != "true" || res.Header.Get(hdrDevice) != f.low.ID ||
					res.Header.Get(hdrMatchedBy) != "defender_machine_id" {
					t.Errorf("%s %q: headers %v", m, suffix, res.Header)
				}
			}
		}
		faWant(t, faAsk(t, e, "GET", "", map[string]string{"Authorization": bearer, hdrDeviceID: f.low.ID}), 200)
	})

	// Envoy's ext_authz forwards the client's own method, which may be one
	// Echo keeps no route table for (WebDAV's, QUERY, any token): each is
	// answered as GET is, never 405.
	t.Run("methods outside Echo's table", func(t *testing.T) {
		for _, m := range []string{"MKCOL", "LOCK", "UNLOCK", "COPY", "MOVE", "PROPPATCH", "QUERY", "SEARCH", "X-MADE-UP", "PROPFIND", "REPORT", "TRACE"} {
			for _, suffix := range []string{"", "/dav/folder/"} {
				res := faAsk(t, e, m, suffix, map[string]string{"Authorization": bearer, hdrDeviceID: f.low.ID})
				faWant(t, res, http.StatusOK)
				if res.Header.Get(hdrDevice) != f.low.ID {
					t.Errorf("%s %q: headers %v", m, suffix, res.Header)
				}
				res = faAsk(t, e, m, suffix, map[string]string{"Authorization": bearer, hdrHostname: "ev-high-01"})
				faWant(t, res, http.StatusForbidden)
				if res.Header.Get(hdrDevice) != f.high.ID {
					t.Errorf("%s %q denied: headers %v", m, suffix, res.Header)
				}
			}
			// Without a token the method changes nothing either: 401.
			wantStatus(t, faAsk(t, e, m, "", map[string]string{hdrDeviceID: f.low.ID}), http.StatusUnauthorized)
		}
		// Elsewhere (a path that only begins like forward-auth's too) an
		// unknown method is still refused.
		for _, p := range []string{"/api/v1/posture/evaluate", forwardAuthPath + "x"} {
			req, _ := http.NewRequest("MKCOL", e.http.URL+p, nil)
			req.Header.Set("Authorization", bearer)
			req.Header.Set(hdrDeviceID, f.low.ID)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != http.StatusNotFound && res.StatusCode != http.StatusMethodNotAllowed {
				t.Errorf("MKCOL %s: %d, want 404 or 405", p, res.StatusCode)
			}
		}
	})

	t.Run("denied with the reason evaluate gives", func(t *testing.T) {
		res := faAsk(t, e, "GET", "", map[string]string{"Authorization": bearer, hdrHostname: "ev-high-01"})
		faWant(t, res, http.StatusForbidden)
		ev := evaluate(t, e, token, map[string]any{"hostname": "ev-high-01"})
		_, reasons := ev.check(t, "Low risk only")
		if got := res.Header.Get(hdrReason); got != reasons[0] {
			t.Errorf("X-Postern-Reason %q, want evaluate's first reason %q", got, reasons[0])
		}
		if res.Header.Get(hdrDevice) != f.high.ID || res.Header.Get(hdrMatchedBy) != "hostname" {
			t.Errorf("device %q by %q", res.Header.Get(hdrDevice), res.Header.Get(hdrMatchedBy))
		}
		if !strings.Contains(res.body, "risk score High") {
			t.Errorf("body %q", res.body)
		}
	})

	t.Run("entra id header", func(t *testing.T) {
		res := faAsk(t, e, "GET", "", map[string]string{hdrToken: token, hdrEntraID: *f.low.AADDeviceID})
		faWant(t, res, http.StatusOK)
		if res.Header.Get(hdrMatchedBy) != "aad_device_id" {
			t.Errorf("matched by %q", res.Header.Get(hdrMatchedBy))
		}
	})

	t.Run("device id wins over entra id and host name", func(t *testing.T) {
		res := faAsk(t, e, "GET", "", map[string]string{"Authorization": bearer, hdrDeviceID: f.high.ID,
			hdrEntraID: *f.low.AADDeviceID, hdrHostname: f.low.ComputerDNSName})
		faWant(t, res, http.StatusForbidden)
		if res.Header.Get(hdrDevice) != f.high.ID {
			t.Errorf("device %q", res.Header.Get(hdrDevice))
		}
	})

	t.Run("unknown device is denied, not an error", func(t *testing.T) {
		res := faAsk(t, e, "GET", "", map[string]string{"Authorization": bearer, hdrHostname: "nobody-here"})
		faWant(t, res, http.StatusForbidden)
		if res.Header.Get(hdrMatchedBy) != "none" || res.Header.Get(hdrDevice) != "" {
			t.Errorf("headers %v", res.Header)
		}
	})

	t.Run("no identity is 403 with the reason", func(t *testing.T) {
		res := faAsk(t, e, "GET", "", map[string]string{"Authorization": bearer})
		faWant(t, res, http.StatusForbidden)
		if got := res.Header.Get(hdrReason); got != reasonNoIdentity {
			t.Errorf("reason %q", got)
		}
	})

	t.Run("malformed identity header is 403 saying what", func(t *testing.T) {
		res := faAsk(t, e, "GET", "", map[string]string{"Authorization": bearer, hdrHostname: strings.Repeat("a", 300)})
		faWant(t, res, http.StatusForbidden)
		if got := res.Header.Get(hdrReason); !strings.Contains(got, "X-Postern-Hostname is longer than 255") {
			t.Errorf("reason %q", got)
		}
	})

	t.Run("monitor-only failure allows", func(t *testing.T) {
		evSaveCheck(t, e, model.PostureCheck{Name: "Watch risk", DataSource: posture.SourceDefender, Enabled: true,
			Mode: posture.ModeMonitor}, posture.Spec{MaxRisk: "None"})
		res := faAsk(t, e, "GET", "", map[string]string{"Authorization": bearer, hdrDeviceID: f.low.ID})
		faWant(t, res, http.StatusOK)
		if !strings.Contains(res.Header.Get(hdrReason), "risk score Low exceeds the allowed None") {
			t.Errorf("reason %q, want the monitor failure", res.Header.Get(hdrReason))
		}
	})
}

func TestForwardAuthToken(t *testing.T) {
	e := newAdminEnv(t)
	admin := e.signedIn()
	token := createToken(t, admin, "Gateway fa")
	id := map[string]string{hdrHostname: "laptop-1"}
	with := func(kv ...string) map[string]string {
		m := map[string]string{hdrHostname: "laptop-1"}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	for _, tc := range []struct {
		name string
		hdr  map[string]string
	}{
		{"none", id},
		{"wrong bearer", with("Authorization", "Bearer pst_wrongwrongwrongwrong")},
		{"basic scheme", with("Authorization", "Basic "+token)},
		{"wrong X-Postern-Token beside a right bearer", with(hdrToken, "pst_wrongwrongwrongwrong", "Authorization", "Bearer "+token)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := faAsk(t, e, "GET", "", tc.hdr)
			wantStatus(t, res, http.StatusUnauthorized)
			if strings.Contains(res.body, token) {
				t.Error("the 401 echoes the token")
			}
		})
	}
	t.Run("session cookie does not count", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, e.http.URL+forwardAuthPath, nil)
		req.Header.Set(hdrHostname, "laptop-1")
		res, err := admin.hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusUnauthorized {
			t.Errorf("status %d with a session cookie", res.StatusCode)
		}
	})
	for _, h := range []map[string]string{with("Authorization", "Bearer "+token), with(hdrToken, token),
		with(hdrToken, token, "Authorization", "Bearer client-own-token")} {
		faWant(t, faAsk(t, e, "GET", "/x", h), http.StatusOK) // no checks: every device passes
	}
	t.Run("revoked", func(t *testing.T) {
		toks, err := e.store.APITokens(context.Background())
		if err != nil || len(toks) != 1 {
			t.Fatalf("tokens %+v, %v", toks, err)
		}
		wantRedirect(t, admin.post("/settings/api-tokens/"+itoa(toks[0].ID)+"/revoke", url.Values{}), "/settings/api-tokens")
		wantStatus(t, faAsk(t, e, "GET", "", with(hdrToken, token)), http.StatusUnauthorized)
		wantStatus(t, faAsk(t, e, "POST", "/a", with("Authorization", "Bearer "+token)), http.StatusUnauthorized)
	})
}

func TestHeaderSafe(t *testing.T) {
	for in, want := range map[string]string{
		"plain":                         "plain",
		"a\r\nb\tc":                     "a b c",
		"exception by a@b until 2026 …": "exception by a@b until 2026 ...",
		"“quoted” — ünïcode":            `"quoted" - ?n?code`,
		"bad \xff byte":                 "bad ? byte",
		"  lead":                        "lead",
	} {
		if got := headerSafe(in); got != want {
			t.Errorf("headerSafe(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestHeaderSafeCut: a reason longer than maxReasonHeader bytes is cut
// between two characters and ends with "..." (reasonCut, the ASCII spelling
// of "…"), the whole value within the limit; one that fits is left whole.
func TestHeaderSafeCut(t *testing.T) {
	x := func(n int) string { return strings.Repeat("x", n) }
	for _, tc := range []struct {
		name, in, want string
	}{
		{"exactly 512 bytes", x(512), x(512)},
		{"513 bytes", x(513), x(509) + "..."},
		{"511 bytes", x(511), x(511)},
		// "é" is 2 bytes in UTF-8 and 1 ("?") in the header: 512 of them fit.
		{"512 two-byte characters", strings.Repeat("é", 512), strings.Repeat("?", 512)},
		{"513 two-byte characters", strings.Repeat("é", 513), strings.Repeat("?", 509) + "..."},
		{"long multi-byte", strings.Repeat("日本語 ", 400), strings.Repeat("??? ", 127) + "?..."},
		// "→" is spelled "->": 256 fill 512 bytes; one more is cut at 508
		// bytes, never leaving a lone "-" of the next one before the marker.
		{"512 bytes of spellings", strings.Repeat("→", 256), strings.Repeat("->", 256)},
		{"513 bytes of spellings", strings.Repeat("→", 256) + "x", strings.Repeat("->", 254) + "..."},
		{"an ellipsis at the cut", x(508) + "…" + x(10), x(509)[:508] + "..."},
		{"trailing space is not a cut", x(512) + " \r\n\t ", x(512)},
		{"no space before the marker", x(508) + " yyyy", x(508) + "..."},
		{"control characters", x(300) + "\r\n" + x(300), x(300) + " " + x(208) + "..."},
		{"invalid UTF-8", strings.Repeat("\xff", 600), strings.Repeat("?", 509) + "..."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := headerSafe(tc.in)
			if got != tc.want {
				t.Errorf("headerSafe = %q (%d bytes),\nwant %q (%d bytes)", got, len(got), tc.want, len(tc.want))
			}
			wantHeaderSafe(t, got)
		})
	}
}

// TestHeaderSafeProperties: for reasons of every length around the limit,
// made of ASCII, spelled and unknown characters and control characters, or
// of printable ASCII and spaces alone, the value is printable ASCII on one
// line within maxReasonHeader bytes, cut only when the whole would not
// fit, and a cut one ends with reasonCut.
func TestHeaderSafeProperties(t *testing.T) {
	pieces := []string{"a", "Z", " ", "~", "\n", "é", "日", "→", "…", "≥", "\xff", "\x7f", "“"}
	rng := rand.New(rand.NewPCG(14, 512))
	for i := 0; i < 3000; i++ {
		// One reason in two is plain ASCII and spaces, which headerReady
		// lets through as it is.
		from := pieces
		if i%2 == 0 {
			from = pieces[:4]
		}
		var b strings.Builder
		for n := 100 + rng.IntN(500); n > 0; n-- {
			b.WriteString(from[rng.IntN(len(from))])
		}
		in := b.String()
		got := headerSafe(in)
		wantHeaderSafe(t, got)
		whole := headerSafeWhole(in)
		switch {
		case len(whole) <= maxReasonHeader && got != whole:
			t.Fatalf("headerSafe(%q) = %q, cut although %d bytes fit", in, got, len(whole))
		case len(whole) > maxReasonHeader && (!strings.HasSuffix(got, reasonCut) || !strings.HasPrefix(whole, strings.TrimSuffix(got, reasonCut))):
			t.Fatalf("headerSafe(%q) = %q, not a cut of %q ending in %q", in, got, whole, reasonCut)
		}
	}
}

// headerReady passes a reason through as it is exactly when headerSafe's
// long way would give it back unchanged.
func TestHeaderReadyAgreesWithHeaderSafe(t *testing.T) {
	x := func(n int) string { return strings.Repeat("x", n) }
	cases := []string{"", "a", " a", "a ", "a b", "a  b", "a\tb", "é", "a\x7f", x(512), x(513), x(255) + " " + x(256)}
	pieces := []string{"a", "Z", "~", " ", " ", "\t", "\x7f", "é"}
	rng := rand.New(rand.NewPCG(15, 513))
	for range 5000 {
		var b strings.Builder
		for n := rng.IntN(40); n > 0; n-- {
			b.WriteString(pieces[rng.IntN(len(pieces))])
		}
		cases = append(cases, b.String())
	}
	for _, in := range cases {
		unchanged := len(in) <= maxReasonHeader && headerSafeWhole(in) == in
		if got := headerReady(in); got != unchanged {
			t.Errorf("headerReady(%q) = %v, but headerSafe would change it: %v", in, got, !unchanged)
		}
	}
}

// headerSafeWhole is headerSafe with no limit, to compare against.
func headerSafeWhole(s string) string {
	var words []string
	for _, w := range strings.FieldsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f || r == ' ' }) {
		var b strings.Builder
		for _, r := range w {
			switch a, ok := asciiFor[r]; {
			case ok:
				b.WriteString(a)
			case r < 0x7f && r != utf8.RuneError:
				b.WriteRune(r)
			default:
				b.WriteByte('?')
			}
		}
		words = append(words, b.String())
	}
	return strings.Join(words, " ")
}

// wantHeaderSafe fails unless v is one line of printable ASCII within
// maxReasonHeader bytes, with no space at either end.
func wantHeaderSafe(t *testing.T, v string) {
	t.Helper()
	if len(v) > maxReasonHeader {
		t.Errorf("%d bytes, more than %d", len(v), maxReasonHeader)
	}
	for i := 0; i < len(v); i++ {
		if v[i] < 0x20 || v[i] >= 0x7f {
			t.Fatalf("byte %d of %q is %#x, not printable ASCII", i, v, v[i])
		}
	}
	if strings.TrimSpace(v) != v {
		t.Errorf("%q has a space at an end", v)
	}
}

// createTokenFrom creates a token with the given identity source through
// the form.
func createTokenFrom(t *testing.T, c *client, name, source string) string {
	t.Helper()
	res := c.post("/settings/api-tokens", url.Values{"name": {name}, "identity_source": {source}})
	wantStatus(t, res, http.StatusOK)
	token := text(parse(t, res).Find(testID("new-token")))
	if !tokenRE.MatchString(token) {
		t.Fatalf("the new token is not shown (%q):\n%.800s", token, res.body)
	}
	return token
}

func TestAPITokenIdentitySource(t *testing.T) {
	e := newAdminEnv(t)
	admin := e.signedIn()
	page := parse(t, admin.get("/settings/api-tokens"))
	sel := page.Find("select#identity-source[name=identity_source]")
	if sel.Length() != 1 || text(page.Find(`label[for="identity-source"]`)) != "Identity source" {
		t.Fatal("the create form has no labelled Identity source choice")
	}
	var opts []string
	sel.Find("option").Each(func(_ int, o *goquery.Selection) { opts = append(opts, o.AttrOr("value", "")+"="+text(o)) })
	if strings.Join(opts, ";") != "headers=Headers set by the proxy;certificate=Client certificate" {
		t.Errorf("options %q", opts)
	}

	hdrTok := createToken(t, admin, "Proxy headers") // no choice sent: headers
	certTok := createTokenFrom(t, admin, "Proxy certificate", "certificate")
	res := admin.post("/settings/api-tokens", url.Values{"name": {"Proxy odd"}, "identity_source": {"cookies"}})
	wantStatus(t, res, http.StatusUnprocessableEntity)
	if !strings.Contains(res.body, "Choose where the device") || !strings.Contains(res.body, `value="Proxy odd"`) {
		t.Errorf("a bad identity source is not explained, or the name is lost: %.600s", res.body)
	}

	list := admin.get("/settings/api-tokens")
	rows := parse(t, list).Find("tbody tr")
	got := map[string]string{}
	rows.Each(func(_ int, r *goquery.Selection) { got[text(r.Find("td").Eq(0))] = text(r.Find("td").Eq(2)) })
	if got["Proxy headers"] != "Headers set by the proxy" || got["Proxy certificate"] != "Client certificate" {
		t.Errorf("the list shows identity %q", got)
	}

	toks, err := e.store.APITokens(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, tk := range toks {
		if want := map[string]string{"Proxy headers": "headers", "Proxy certificate": "certificate"}[tk.Name]; tk.IdentitySource != want {
			t.Errorf("%s stored with %q, want %q", tk.Name, tk.IdentitySource, want)
		}
	}

	e.fleet.Store(fleet.NewSnapshot([]fleet.Device{{ID: "0123456789abcdef0123456789abcdef01234567", Host: "snap-1",
		RiskScore: "Low"}}, e.clock.Now(), 1))
	spoof := map[string]string{hdrDeviceID: "0123456789abcdef0123456789abcdef01234567", hdrHostname: "snap-1",
		hdrEntraID: "aaaaaaaa-0000-4000-8000-000000000001"}
	spoof[hdrToken] = hdrTok
	if res := faAsk(t, e, "GET", "", spoof); res.Header.Get(hdrMatchedBy) != "defender_machine_id" {
		t.Errorf("a headers token does not read the headers: %v", res.Header)
	}
	spoof[hdrToken] = certTok
	res = faAsk(t, e, "GET", "", spoof)
	faWant(t, res, http.StatusForbidden)
	if res.Header.Get(hdrReason) != reasonNoIdentity || res.Header.Get(hdrDevice) != "" {
		t.Errorf("a certificate token believed the X-Postern-* headers: %v", res.Header)
	}
}

// valid_until is the same on both endpoints: here the Defender data
// turning stale, 3 sync intervals (of an hour) after the sync at 10:00.
func TestForwardAuthValidUntil(t *testing.T) {
	d, token, f := evSetupDefender(t)
	e := d.testEnv
	evSaveCheck(t, e, model.PostureCheck{Name: "Low risk only", DataSource: posture.SourceDefender, Enabled: true},
		posture.Spec{MaxRisk: "Medium"})
	const staleAt = "2026-11-25T13:00:00Z"
	if r := evaluate(t, e, token, map[string]any{"defender_machine_id": f.low.ID}); r.ValidUntil != staleAt {
		t.Errorf("evaluate: valid_until %q, want %q", r.ValidUntil, staleAt)
	}
	res := faAsk(t, e, "GET", "", map[string]string{hdrToken: token, hdrDeviceID: f.low.ID})
	faWant(t, res, http.StatusOK)
	if got := res.Header.Get("X-Postern-Valid-Until"); got != staleAt {
		t.Errorf("X-Postern-Valid-Until %q, want %q", got, staleAt)
	}
	if got := res.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control %q by default, want no-store", got)
	}
	if got := res.Header.Get("X-Accel-Expires"); got != "0" {
		t.Errorf("X-Accel-Expires %q by default, want 0 (nginx: do not cache)", got)
	}
}

func TestForwardAuthCacheControl(t *testing.T) {
	e := newEnvDeps(t, "http://127.0.0.1:1", Deps{ForwardAuthMaxAge: 5 * time.Second})
	e.setup()
	token := evToken(t, e)
	res := faAsk(t, e, "GET", "", map[string]string{hdrToken: token, hdrHostname: "pc-1"})
	faWant(t, res, http.StatusOK)
	if got := res.Header.Get("Cache-Control"); got != "private, max-age=5" {
		t.Errorf("Cache-Control %q, want private, max-age=5", got)
	}
	// nginx never caches a "private" answer: it reads X-Accel-Expires first.
	if got := res.Header.Get("X-Accel-Expires"); got != "5" {
		t.Errorf("X-Accel-Expires %q, want 5", got)
	}
	if got := res.Header.Get("X-Postern-Valid-Until"); got != "" {
		t.Errorf("X-Postern-Valid-Until %q with nothing to expire", got)
	}
	if h := faAsk(t, e, "GET", "", map[string]string{hdrToken: token}).Header; h.Get("Cache-Control") != "no-store" || h.Get("X-Accel-Expires") != "0" {
		t.Errorf("a refusal without identity is cacheable: Cache-Control %q, X-Accel-Expires %q", h.Get("Cache-Control"), h.Get("X-Accel-Expires"))
	}

	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		max   time.Duration
		until time.Time
		want  string
	}{
		{0, time.Time{}, "no-store"},
		{5 * time.Second, time.Time{}, "private, max-age=5"},
		{5 * time.Second, now.Add(3500 * time.Millisecond), "private, max-age=3"},
		{5 * time.Second, now.Add(900 * time.Millisecond), "no-store"},
		{5 * time.Second, now.Add(-time.Second), "no-store"},
		{time.Hour, now.Add(10 * time.Minute), "private, max-age=600"},
	} {
		secs := cacheSeconds(c.max, c.until, now)
		if got := cacheControl(secs); got != c.want {
			t.Errorf("cacheControl(%v, %v) = %q, want %q", c.max, c.until, got, c.want)
		}
		rec := httptest.NewRecorder()
		if err := (forwardAnswer{allowed: true, cacheSecs: secs}).write(echo.New().NewContext(httptest.NewRequest(http.MethodGet, "/", nil), rec), nil); err != nil {
			t.Fatal(err)
		}
		h := rec.Header()
		wantAccel := strings.TrimPrefix(c.want, "private, max-age=")
		if c.want == "no-store" {
			wantAccel = "0"
		}
		if h.Get("Cache-Control") != c.want || h.Get("X-Accel-Expires") != wantAccel {
			t.Errorf("(%v, %v): Cache-Control %q, X-Accel-Expires %q, want %q and %q", c.max, c.until, h.Get("Cache-Control"), h.Get("X-Accel-Expires"), c.want, wantAccel)
		}
	}
}

// Every X-Postern-* name forwardauth.go spells is in PosternHeaders, the
// list deploy_test.go holds the gateway configurations to.
func TestPosternHeadersComplete(t *testing.T) {
	b, err := os.ReadFile("forwardauth.go")
	if err != nil {
		t.Fatal(err)
	}
	spelled := map[string]bool{}
	for _, m := range regexp.MustCompile(`"(X-Postern-[A-Za-z-]+)"`).FindAllStringSubmatch(string(b), -1) {
		spelled[m[1]] = true
	}
	listed := map[string]bool{}
	for _, h := range PosternHeaders() {
		listed[h] = true
	}
	if len(spelled) < 9 || !maps.Equal(spelled, listed) {
		t.Errorf("forwardauth.go spells %v, PosternHeaders lists %v", slices.Sorted(maps.Keys(spelled)), PosternHeaders())
	}
}

// X-Postern-Device is on every answer, empty when no device matched (an
// allow with no checks, a refusal without identity), so a proxy copying it
// to the application replaces whatever the client sent.
func TestForwardAuthDeviceAlwaysSet(t *testing.T) {
	e := newEnvDeps(t, "http://127.0.0.1:1", Deps{})
	e.setup()
	token := evToken(t, e)
	for _, c := range []struct {
		hdr    map[string]string
		status int
	}{
		{map[string]string{hdrToken: token, hdrHostname: "pc-1"}, http.StatusOK},
		{map[string]string{hdrToken: token}, http.StatusForbidden},
	} {
		res := faAsk(t, e, "GET", "", c.hdr)
		faWant(t, res, c.status)
		if got := res.Header.Values(hdrDevice); len(got) != 1 || got[0] != "" {
			t.Errorf("answer %d: X-Postern-Device %q, want one empty value", c.status, got)
		}
	}
}
