package web

import (
	"fmt"
	"net/http"
	"net/url"

	"github.com/labstack/echo/v4"

	"postern/internal/defender"
	"postern/internal/integration"
	"postern/views"
)

// helpDefender shows the setup guide of the Microsoft Defender integration.
func (s *Server) helpDefender(c echo.Context) error {
	p := views.HelpDefenderPage{Chrome: s.chrome(c, "Microsoft Defender setup guide", "help"), Hosts: guideHosts}
	return render(c, http.StatusOK, views.HelpDefender(p))
}

// guideHosts is computed once: a choice without endpoints stops the start.
var guideHosts = defenderHosts()

// defenderHosts lists each Cloud and API region choice with the hosts the
// Defender client then talks to, from the client's own table; the guide's
// list of hosts to allow through a firewall cannot drift from the code.
func defenderHosts() []views.CloudHosts {
	var out []views.CloudHosts
	for _, cl := range defender.Clouds {
		cloud := defender.Cloud(cl.Value)
		if cloud != defender.Commercial { // one host: the API region does not apply
			out = append(out, cloudHosts(cloud, defender.Global, cl.Label, ""))
			continue
		}
		for _, r := range defender.Regions {
			out = append(out, cloudHosts(cloud, defender.Region(r.Value), cl.Label, r.Label))
		}
	}
	return out
}

// cloudHosts is one row of the guide's host table; regionLabel is empty when
// the region does not apply.
func cloudHosts(cloud defender.Cloud, region defender.Region, cloudLabel, regionLabel string) views.CloudHosts {
	ep, err := defender.ResolveEndpoints(cloud, region, "", "")
	if err != nil { // every choice the dialog offers resolves (TestDefenderHostsCoverEveryChoice)
		panic(fmt.Sprintf("help: no endpoints for %s/%s: %v", cloud, region, err))
	}
	return views.CloudHosts{Cloud: cloudLabel, Region: regionLabel, LoginHost: host(ep.LoginURL), APIHost: host(ep.APIURL)}
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
	integration.FieldCertificate:     defender.HelpCertificate,
	integration.FieldPrivateKey:      defender.HelpCertificate,
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
