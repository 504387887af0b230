package web

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"postern/internal/policy"
	"postern/internal/posture"
	"postern/views"
	"postern/views/components"
)

// switchesOf reads the Disable dialog's switch.<check id> fields; "" and
// anything unknown mean no switch.
func switchesOf(v url.Values) map[int64]string {
	out := map[int64]string{}
	for k := range v {
		id, err := strconv.ParseInt(strings.TrimPrefix(k, "switch."), 10, 64)
		if !strings.HasPrefix(k, "switch.") || err != nil || id <= 0 {
			continue
		}
		if sw := v.Get(k); policy.Switched(sw) {
			out[id] = sw
		}
	}
	return out
}

// disableConfirm says what Disable would do to access, with the switches.
func (s *Server) disableConfirm(c echo.Context, switches map[int64]string) views.DisableConfirm {
	di := s.policy.DisableImpact(switches)
	d := views.DisableConfirm{CSRF: csrfToken(c), Devices: di.Devices, Denied: di.Denied, Allowed: di.Allowed, NewlyDenied: di.NewlyDenied}
	stored := map[int64]posture.Check{}
	for _, ch := range s.policy.Checks() {
		stored[ch.ID] = ch
		if ch.Source == posture.SourceDefender && !ch.Enabled {
			d.Idle = append(d.Idle, ch.Name)
		}
	}
	for _, ch := range di.Checks {
		was := stored[ch.ID]
		d.Checks = append(d.Checks, views.DisableCheck{ID: ch.ID, Name: ch.Name, Mode: ch.Mode, WhenUnavailable: ch.WhenUnavailable,
			Switch: ch.Switch, Denies: ch.Denies,
			Offered: was.Mode != posture.ModeMonitor && was.WhenUnavailable != posture.UnavailableAllow})
	}
	return d
}

// defenderDisableConfirm asks before disabling, with what Disable does to
// access; ?part=summary is the figures alone, as switches are chosen.
func (s *Server) defenderDisableConfirm(c echo.Context) error {
	d := s.disableConfirm(c, switchesOf(c.QueryParams()))
	switch {
	case c.QueryParam("part") == "summary":
		return render(c, http.StatusOK, views.DisableSummary(d))
	case isHTMX(c):
		return render(c, http.StatusOK, views.DisableDialog(d))
	}
	return render(c, http.StatusOK, views.DisableFull(views.DisablePage{Chrome: s.chrome(c, "Disable Microsoft Defender", "integrations"), Confirm: d}))
}

// defenderDisable makes the chosen switches (each audited), then stops
// using Defender; nothing is deleted.
func (s *Server) defenderDisable(c echo.Context) error {
	if err := c.Request().ParseForm(); err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, "The form could not be read.")
	}
	ctx := c.Request().Context()
	var switched []string
	if sw := switchesOf(c.Request().PostForm); len(sw) > 0 {
		done, err := s.checks.SwitchChecks(ctx, sw)
		if err != nil {
			return err
		}
		for _, ch := range done {
			switched = append(switched, "“"+ch.Name+"”")
		}
	}
	if err := s.integration.Disable(ctx); err != nil {
		return s.refusedAction(c, err)
	}
	text := "Microsoft Defender is disabled. Synced devices, history and credentials are kept."
	if len(switched) > 0 {
		text = "Switched " + strings.Join(switched, ", ") + " first, then disabled Microsoft Defender. Synced devices, history and credentials are kept."
	}
	return s.afterAction(c, components.FlashInfo, text, false)
}
