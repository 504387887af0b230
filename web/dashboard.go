package web

import (
	"net/http"
	"net/url"

	"github.com/labstack/echo/v4"

	"postern/views"
	"postern/views/components"
)

// Defender's scales, worst last, and how each value is shown.
var (
	healthOrder = []struct{ value, status string }{
		{"Active", components.StatusOK}, {"Inactive", components.StatusWarn},
		{"ImpairedCommunication", components.StatusError}, {"NoSensorData", components.StatusError},
		{"NoSensorDataImpairedCommunication", components.StatusError}, {"Unknown", components.StatusNeutral},
	}
	riskOrder = []struct{ value, status string }{
		{"None", components.StatusOK}, {"Informational", components.StatusOK}, {"Low", components.StatusOK},
		{"Medium", components.StatusWarn}, {"High", components.StatusError},
	}
)

// dashboard shows the fleet at a glance, from the in-memory snapshot.
func (s *Server) dashboard(c echo.Context) error {
	card, err := s.defenderCard(c)
	if err != nil {
		return err
	}
	p := views.DashboardPage{Chrome: s.chrome(c, "Dashboard", "dashboard"), Defender: card}
	health, risk := map[string]int{}, map[string]int{}
	snap := s.fleet.Load()
	for i := range snap.Devices {
		d := &snap.Devices[i]
		if d.Removed {
			p.Removed++
			continue
		}
		p.Devices++
		health[d.HealthStatus]++
		risk[d.RiskScore]++
	}
	for _, h := range healthOrder {
		if n := health[h.value]; n > 0 {
			p.Health = append(p.Health, views.Tally{Label: h.value, Count: n, Status: h.status, Href: "/devices?health=" + url.QueryEscape(h.value)})
		}
	}
	for _, r := range riskOrder {
		if n := risk[r.value]; n > 0 {
			p.Risk = append(p.Risk, views.Tally{Label: r.value, Count: n, Status: r.status, Href: "/devices?risk=" + url.QueryEscape(r.value)})
		}
	}
	if n := risk[""]; n > 0 {
		p.Risk = append(p.Risk, views.Tally{Label: "No score", Count: n, Status: components.StatusNeutral, Href: "/devices?risk=none"})
	}
	_, overall, at := s.policy.Counts()
	p.Compliant, p.NonCompliant, p.Unknown, p.Counted = overall.Pass, overall.Fail, overall.Unknown, !at.IsZero()
	for _, ch := range s.policy.Checks() {
		if ch.Enabled {
			p.ChecksActive++
			if ch.Mode == "enforce" {
				p.Enforced++
			}
		}
	}
	changes, err := s.store.History(c.Request().Context(), "", 40)
	if err != nil {
		return err
	}
	for _, h := range changes {
		if h.CheckID != 0 || len(p.Changes) >= 8 {
			continue
		}
		vc := views.VerdictChange{At: h.At, DeviceID: h.DeviceID, From: h.From, To: h.To, Signal: h.Signal}
		if d, ok := snap.ByID(h.DeviceID); ok {
			vc.Host = d.Host
		}
		p.Changes = append(p.Changes, vc)
	}
	return render(c, http.StatusOK, views.Dashboard(p))
}
