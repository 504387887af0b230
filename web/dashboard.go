package web

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"postern/internal/defender/vocab"
	"postern/internal/posture"
	"postern/views"
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
		if vocab.IsDiscovered(d.OnboardingStatus) {
			p.Discovered++
			continue
		}
		p.Devices++
		health[d.HealthStatus]++
		risk[d.RiskScore]++
	}
	p.Health = tallies(vocab.Health, health, func(v string) views.DeviceQuery { return views.DeviceQuery{Health: v} })
	p.Risk = tallies(vocab.Risk, risk, func(v string) views.DeviceQuery { return views.DeviceQuery{Risk: v} })
	if n := risk[""]; n > 0 {
		p.Risk = append(p.Risk, views.Tally{Label: vocab.Risk.Missing, Count: n, Tone: vocab.Neutral,
			Href: views.DeviceQuery{Risk: views.RiskUnscored}.URL()})
	}
	t := s.policy.Tally()
	p.Compliant, p.NonCompliant, p.Unknown, p.Counted = t.Overall.Pass, t.Overall.Fail, t.Overall.Unknown, t.Current
	for _, ch := range s.policy.Checks() {
		if ch.Enabled {
			p.ChecksActive++
			if ch.Mode == posture.ModeEnforce {
				p.Enforced++
			}
			if ch.PerRequest() {
				p.PerRequest++
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

// tallies counts devices per value of e, in e's order, each linking to the
// Devices page filtered to it; values no device has are left out.
func tallies(e *vocab.Enum, counts map[string]int, filter func(string) views.DeviceQuery) []views.Tally {
	var out []views.Tally
	for _, v := range e.Values() {
		if n := counts[v.Name]; n > 0 {
			out = append(out, views.Tally{Label: v.Label, Count: n, Tone: v.Tone, Href: filter(v.Name).URL()})
		}
	}
	return out
}
