package web

import (
	"net/http"
	"net/url"

	"github.com/labstack/echo/v4"

	"postern/internal/defender"
	"postern/internal/integration"
	"postern/views"
)

// helpDefender shows the setup guide of the Microsoft Defender integration.
func (s *Server) helpDefender(c echo.Context) error {
	p := views.HelpDefenderPage{Chrome: s.chrome(c, "Microsoft Defender setup guide", "integrations"), Hosts: defenderHosts()}
	return render(c, http.StatusOK, views.HelpDefender(p))
}

// defenderHosts lists each Cloud and API region choice with the hosts the
// Defender client then talks to, from the client's own table; the guide's
// list of hosts to allow through a firewall cannot drift from the code.
func defenderHosts() []views.CloudHosts {
	var out []views.CloudHosts
	for _, cl := range defender.Clouds {
		regions := defender.Regions
		if defender.Cloud(cl.Value) != defender.Commercial {
			regions = regions[:1] // one host: the region does not apply
		}
		for _, r := range regions {
			ep, err := defender.ResolveEndpoints(defender.Cloud(cl.Value), defender.Region(r.Value), "", "")
			if err != nil {
				continue // not a combination the dialog offers
			}
			h := views.CloudHosts{Cloud: cl.Label, LoginHost: host(ep.LoginURL), APIHost: host(ep.APIURL)}
			if len(regions) > 1 {
				h.Region = r.Label
			}
			out = append(out, h)
		}
	}
	return out
}

// host is the host name of a base URL.
func host(base string) string {
	if u, err := url.Parse(base); err == nil && u.Host != "" {
		return u.Host
	}
	return base
}

// fieldHelp is the setup guide's section for a field's own validation
// message (before Microsoft is asked): where to find the right value.
var fieldHelp = map[string]string{
	integration.FieldTenantID:        defender.HelpTenantID,
	integration.FieldClientID:        defender.HelpRegisterApp,
	integration.FieldClientSecret:    defender.HelpSecretValue,
	integration.FieldSecretExpiresOn: defender.HelpClientSecret,
}

// problemHelps maps each field with a problem to its guide section.
func problemHelps(p integration.Problems) map[string]string {
	out := map[string]string{}
	for field := range p {
		if a, ok := fieldHelp[field]; ok {
			out[field] = a
		}
	}
	return out
}
