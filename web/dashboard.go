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
	return render(c, http.StatusOK, views.Dashboard(p))
}
