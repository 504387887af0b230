// Package defender is Postern's read-only client for Microsoft Defender for
// Endpoint: a client-credentials token from Entra ID and the machines API.
// Remote failures become *Error values an admin can act on.
package defender

import (
	"fmt"
	"net/url"
	"strings"
)

// Cloud is the Microsoft cloud the tenant lives in.
type Cloud string

// Clouds, as the Manage dialog lists them.
const (
	Commercial Cloud = "commercial"
	GCC        Cloud = "gcc"
	GCCHigh    Cloud = "gcc-high"
	DoD        Cloud = "dod"
)

// Region picks the Defender API host closest to the tenant's data.
type Region string

// API regions (commercial cloud only; government clouds have one host).
const (
	Global Region = "global"
	US     Region = "us"
	EU     Region = "eu"
	UK     Region = "uk"
	AU     Region = "au"
	SWA    Region = "swa" // Switzerland
	INA    Region = "ina" // India
)

// Option is a value and its label for a select control.
type Option struct{ Value, Label string }

// Clouds lists the clouds in display order.
var Clouds = []Option{
	{string(Commercial), "Commercial"}, {string(GCC), "GCC"}, {string(GCCHigh), "GCC High"}, {string(DoD), "DoD"},
}

// Regions lists the API regions in display order.
var Regions = []Option{
	{string(Global), "Global"}, {string(US), "US"}, {string(EU), "EU"}, {string(UK), "UK"}, {string(AU), "AU"},
	{string(SWA), "Switzerland"}, {string(INA), "India"},
}

// Valid reports whether value is one of opts.
func Valid(opts []Option, value string) bool {
	for _, o := range opts {
		if o.Value == value {
			return true
		}
	}
	return false
}

// Label returns the display label of value in opts, or value itself.
func Label(opts []Option, value string) string {
	for _, o := range opts {
		if o.Value == value {
			return o.Label
		}
	}
	return value
}

// Endpoints are the two base URLs a client talks to, and the scope it asks for.
type Endpoints struct {
	LoginURL string // e.g. https://login.microsoftonline.com
	APIURL   string // e.g. https://api.security.microsoft.com
	Scope    string
}

// commercialScope is the Defender for Endpoint resource; its tokens carry
// aud=https://api.securitycenter.microsoft.com, which the API accepts. The
// XDR scope (api.security.microsoft.com) yields tokens the MDE API refuses.
const commercialScope = "https://api.securitycenter.microsoft.com/.default"

// govScope is the resource for GCC High and DoD tenants.
const govScope = "https://securitycenter.onmicrosoft.us/windowsatpservice/.default"

// ResolveEndpoints maps a cloud and region to hosts
// (docs/defender-api.md#clouds-and-hosts). Non-empty overrides replace the
// hosts (tests, proxies, the emulator).
func ResolveEndpoints(cloud Cloud, region Region, loginOverride, apiOverride string) (Endpoints, error) {
	var ep Endpoints
	switch cloud {
	case Commercial, "":
		ep = Endpoints{LoginURL: "https://login.microsoftonline.com", Scope: commercialScope}
		switch region {
		case Global, "":
			ep.APIURL = "https://api.security.microsoft.com"
		case US, EU, UK, AU, SWA, INA:
			ep.APIURL = "https://" + string(region) + ".api.security.microsoft.com"
		default:
			return Endpoints{}, fmt.Errorf("defender: unknown API region %q", region)
		}
	case GCC:
		ep = Endpoints{LoginURL: "https://login.microsoftonline.com", APIURL: "https://api-gcc.securitycenter.microsoft.us", Scope: commercialScope}
	case GCCHigh, DoD:
		ep = Endpoints{LoginURL: "https://login.microsoftonline.us", APIURL: "https://api-gov.securitycenter.microsoft.us", Scope: govScope}
	default:
		return Endpoints{}, fmt.Errorf("defender: unknown cloud %q", cloud)
	}
	if loginOverride != "" {
		ep.LoginURL = strings.TrimRight(loginOverride, "/")
	}
	if apiOverride != "" {
		ep.APIURL = strings.TrimRight(apiOverride, "/")
	}
	return ep, nil
}

// WithScope returns ep asking for scope instead, when scope is set: the
// server's defender-scope, for clouds whose scope Microsoft does not
// document.
func (ep Endpoints) WithScope(scope string) Endpoints {
	if scope != "" {
		ep.Scope = scope
	}
	return ep
}

// CheckScope reports whether scope can be a client-credentials scope: an
// absolute URI with a host, ending in /.default.
func CheckScope(scope string) error {
	res, ok := strings.CutSuffix(scope, "/.default")
	u, err := url.Parse(res)
	if !ok || err != nil || u.Scheme == "" || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || strings.ContainsAny(scope, " \t\r\n") {
		return fmt.Errorf("%q is not an absolute URI ending in /.default, such as https://api.securitycenter.microsoft.com/.default", scope)
	}
	return nil
}

// GraphURL is the Microsoft Graph host of cloud
// (https://learn.microsoft.com/graph/deployments): GCC tenants use the
// worldwide service, GCC High its own host, DoD the L5 host.
func GraphURL(cloud Cloud) (string, error) {
	switch cloud {
	case Commercial, GCC, "":
		return "https://graph.microsoft.com", nil
	case GCCHigh:
		return "https://graph.microsoft.us", nil
	case DoD:
		return "https://dod-graph.microsoft.us", nil
	}
	return "", fmt.Errorf("defender: unknown cloud %q", cloud)
}
