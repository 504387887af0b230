package web

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/labstack/echo/v4"

	"postern/internal/fleet"
)

// floorServer is the floor of this stack for the enforcement API, the
// yardstick BenchmarkEvaluateHTTP and BenchmarkForwardAuthHTTP report
// their ratios to: a bare Echo server, none of Postern's middleware, whose
// handlers take the same requests (the Authorization header compared, the
// evaluate body decoded with encoding/json, or forward-auth's token and
// identity headers read), look the device up in plain maps over the same
// 100,000 devices and write an answer of the same shape (evaluate: the
// device and a verdict for each of the same 20 checks, with
// encoding/json; forward-auth: 200 or 403 with every X-Postern-* header
// and the cache headers Postern sets, and a short body). Both carry the
// headers every API answer of Postern's does (floorAPIHeaders): the
// answer's shape includes them, and docs/security.md and the tests require
// them. It decides nothing, so what Postern spends beyond it is its own
// work: the policy, the encoding, the middleware.
type floorServer struct {
	authz, token        string
	byID, byAAD, byHost map[string]*fleet.Device
	checks              []EvaluatedItem
	ids                 atomic.Uint64 // X-Request-Id
}

// floorAPIHeaders sets what every API answer carries: a request id, and
// the security headers that matter outside a browser (nosniff, a CSP that
// allows nothing, no caching), written plainly with Header.Set.
func (f *floorServer) floorAPIHeaders(c echo.Context) {
	h := c.Response().Header()
	// 16 hex digits, as long as Postern's ids.
	h.Set(echo.HeaderXRequestID, strconv.FormatUint(f.ids.Add(1)|1<<63, 16))
	h.Set(echo.HeaderXContentTypeOptions, "nosniff")
	h.Set(echo.HeaderContentSecurityPolicy, "default-src 'none'; frame-ancestors 'none'")
	h.Set(echo.HeaderCacheControl, "no-store")
}

// newFloor starts the floor over the devices of snap, answering with a
// verdict for each of checks; it stops with b.
func newFloor(b *testing.B, snap *fleet.Snapshot, checks []string, authz string) string {
	b.Helper()
	hs := httptest.NewServer(newFloorHandler(snap, checks, authz))
	b.Cleanup(hs.Close)
	return hs.URL
}

// newFloorHandler is the floor's handler, for newFloor and for measuring
// in process.
func newFloorHandler(snap *fleet.Snapshot, checks []string, authz string) http.Handler {
	f := &floorServer{authz: authz, token: strings.TrimPrefix(authz, "Bearer "),
		byID: make(map[string]*fleet.Device, len(snap.Devices)), byAAD: map[string]*fleet.Device{}, byHost: map[string]*fleet.Device{}}
	for i := range snap.Devices {
		d := &snap.Devices[i]
		f.byID[d.ID] = d
		if d.AADDeviceID != "" {
			f.byAAD[d.AADDeviceID] = d
		}
		f.byHost[strings.ToLower(d.Host)] = d
	}
	for i, name := range checks {
		f.checks = append(f.checks, EvaluatedItem{ID: int64(i + 1), Name: name, Mode: "enforce", Result: "pass", Reasons: []string{}})
	}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.POST(evaluatePath, f.evaluate)
	e.Any(forwardAuthPath, f.forwardAuth)
	e.Any(forwardAuthPath+"/*", f.forwardAuth)
	return e
}

func (f *floorServer) lookup(id, aad, host string) *fleet.Device {
	switch {
	case id != "":
		return f.byID[strings.ToLower(id)]
	case aad != "":
		return f.byAAD[strings.ToLower(aad)]
	default:
		return f.byHost[strings.ToLower(host)]
	}
}

func (f *floorServer) evaluate(c echo.Context) error {
	f.floorAPIHeaders(c)
	if c.Request().Header.Get(echo.HeaderAuthorization) != f.authz {
		return c.NoContent(http.StatusUnauthorized)
	}
	var req EvaluateRequest
	if err := json.NewDecoder(c.Request().Body).Decode(&req); err != nil || req.Device == nil {
		return c.NoContent(http.StatusBadRequest)
	}
	out := EvaluateResponse{Checks: f.checks, EvaluatedAt: "2026-01-01T00:00:00Z", ValidUntil: floorValidUntil}
	if d := f.lookup(req.Device.DefenderMachineID, req.Device.AADDeviceID, req.Device.Hostname); d != nil {
		out.Allowed, out.Device = true, EvaluatedDevice{DefenderMachineID: d.ID, MatchedBy: "defender_machine_id"}
	}
	return c.JSON(http.StatusOK, out)
}

func (f *floorServer) forwardAuth(c echo.Context) error {
	f.floorAPIHeaders(c)
	h := c.Request().Header
	if h.Get(hdrToken) != f.token {
		return c.NoContent(http.StatusUnauthorized)
	}
	// The same shape as Postern's answer: every X-Postern-* header, the
	// cache headers, and the short body.
	out := c.Response().Header()
	out.Set(hdrAccelExpires, "0")
	d := f.lookup(h.Get(hdrDeviceID), h.Get(hdrEntraID), h.Get(hdrHostname))
	if d == nil {
		out.Set(hdrAllowed, "false")
		out.Set(hdrDevice, "")
		out.Set(hdrMatchedBy, "none")
		out.Set(hdrReason, "unknown device")
		return c.String(http.StatusForbidden, "denied: unknown device\n")
	}
	out.Set(hdrAllowed, "true")
	out.Set(hdrDevice, d.ID)
	out.Set(hdrMatchedBy, "defender_machine_id")
	out.Set(hdrValidUntil, floorValidUntil)
	return c.String(http.StatusOK, "allowed\n")
}

// floorValidUntil is the valid_until the floor's answers carry, as
// Postern's do.
const floorValidUntil = "2026-01-01T00:10:00Z"
