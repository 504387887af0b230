package defender_test

import (
	"strings"
	"testing"

	"postern/internal/defender"
)

const (
	commercialLogin = "https://login.microsoftonline.com"
	govLogin        = "https://login.microsoftonline.us"
	commercialScope = "https://api.securitycenter.microsoft.com/.default"
	govScope        = "https://securitycenter.onmicrosoft.us/windowsatpservice/.default"
)

// regions includes "" because an unset region means Global.
var regions = []defender.Region{"", defender.Global, defender.US, defender.EU, defender.UK, defender.AU, defender.SWA, defender.INA}

func TestResolveEndpointsEveryCloudAndRegion(t *testing.T) {
	commercialAPI := map[defender.Region]string{
		"":              "https://api.security.microsoft.com",
		defender.Global: "https://api.security.microsoft.com",
		defender.US:     "https://us.api.security.microsoft.com",
		defender.EU:     "https://eu.api.security.microsoft.com",
		defender.UK:     "https://uk.api.security.microsoft.com",
		defender.AU:     "https://au.api.security.microsoft.com",
		defender.SWA:    "https://swa.api.security.microsoft.com",
		defender.INA:    "https://ina.api.security.microsoft.com",
	}
	for _, cloud := range []defender.Cloud{"", defender.Commercial, defender.GCC, defender.GCCHigh, defender.DoD} {
		for _, region := range regions {
			t.Run(string(cloud)+"/"+string(region), func(t *testing.T) {
				var want defender.Endpoints
				switch cloud {
				case "", defender.Commercial:
					want = defender.Endpoints{LoginURL: commercialLogin, APIURL: commercialAPI[region], Scope: commercialScope}
				case defender.GCC:
					// Government clouds have one API host: the region is ignored.
					want = defender.Endpoints{LoginURL: commercialLogin, APIURL: "https://api-gcc.securitycenter.microsoft.us", Scope: commercialScope}
				case defender.GCCHigh, defender.DoD:
					want = defender.Endpoints{LoginURL: govLogin, APIURL: "https://api-gov.securitycenter.microsoft.us", Scope: govScope}
				}
				got, err := defender.ResolveEndpoints(cloud, region, "", "")
				if err != nil {
					t.Fatalf("ResolveEndpoints(%q, %q) error = %v", cloud, region, err)
				}
				if got != want {
					t.Errorf("ResolveEndpoints(%q, %q) =\n  %+v\nwant\n  %+v", cloud, region, got, want)
				}
			})
		}
	}
}

// Every listed option resolves, so the Manage dialog cannot offer a choice
// the client refuses.
func TestResolveEndpointsCoversListedOptions(t *testing.T) {
	for _, c := range defender.Clouds {
		for _, r := range defender.Regions {
			if _, err := defender.ResolveEndpoints(defender.Cloud(c.Value), defender.Region(r.Value), "", ""); err != nil {
				t.Errorf("ResolveEndpoints(%q, %q) error = %v, want nil", c.Value, r.Value, err)
			}
		}
	}
}

func TestResolveEndpointsCommercialScopeIsMDE(t *testing.T) {
	ep, err := defender.ResolveEndpoints(defender.Commercial, defender.Global, "", "")
	if err != nil {
		t.Fatal(err)
	}
	// Not the XDR scope https://api.security.microsoft.com/.default, whose
	// tokens the MDE API answers with 403 (docs/defender-api.md#wrong-audience).
	if ep.Scope != "https://api.securitycenter.microsoft.com/.default" {
		t.Errorf("Scope = %q, want https://api.securitycenter.microsoft.com/.default", ep.Scope)
	}
}

func TestResolveEndpointsOverrides(t *testing.T) {
	tests := []struct {
		name               string
		cloud              defender.Cloud
		region             defender.Region
		login, api         string
		wantLogin, wantAPI string
		wantScope          string
	}{
		{"both, trailing slash", defender.Commercial, defender.EU, "http://127.0.0.1:8080/", "http://127.0.0.1:9090/",
			"http://127.0.0.1:8080", "http://127.0.0.1:9090", commercialScope},
		{"several trailing slashes", defender.Commercial, defender.Global, "http://emu.local///", "http://emu.local//",
			"http://emu.local", "http://emu.local", commercialScope},
		{"no trailing slash", defender.Commercial, defender.US, "http://emu.local", "http://emu.local",
			"http://emu.local", "http://emu.local", commercialScope},
		{"login only", defender.Commercial, defender.UK, "https://proxy.example/login/", "",
			"https://proxy.example/login", "https://uk.api.security.microsoft.com", commercialScope},
		{"api only", defender.Commercial, defender.AU, "", "https://proxy.example/api/",
			commercialLogin, "https://proxy.example/api", commercialScope},
		{"gov cloud keeps its scope", defender.GCCHigh, "", "http://emu.local/", "http://emu.local/",
			"http://emu.local", "http://emu.local", govScope},
		{"dod", defender.DoD, defender.Global, "http://emu.local", "",
			"http://emu.local", "https://api-gov.securitycenter.microsoft.us", govScope},
		{"gcc", defender.GCC, defender.Global, "", "http://emu.local/",
			commercialLogin, "http://emu.local", commercialScope},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := defender.ResolveEndpoints(tt.cloud, tt.region, tt.login, tt.api)
			if err != nil {
				t.Fatalf("error = %v", err)
			}
			want := defender.Endpoints{LoginURL: tt.wantLogin, APIURL: tt.wantAPI, Scope: tt.wantScope}
			if got != want {
				t.Errorf("got  %+v\nwant %+v", got, want)
			}
		})
	}
}

func TestResolveEndpointsUnknown(t *testing.T) {
	tests := []struct {
		name     string
		cloud    defender.Cloud
		region   defender.Region
		mentions string
	}{
		{"unknown cloud", "azure-china", defender.Global, "azure-china"},
		{"cloud label instead of value", "GCC High", "", "GCC High"},
		{"cloud wrong case", "Commercial", defender.Global, "Commercial"},
		{"unknown region", defender.Commercial, "mars", "mars"},
		{"region wrong case", defender.Commercial, "EU", "EU"},
		{"unknown region, default cloud", "", "apac", "apac"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, ov := range []string{"", "http://emu.local"} {
				got, err := defender.ResolveEndpoints(tt.cloud, tt.region, ov, ov)
				if err == nil {
					t.Fatalf("ResolveEndpoints(%q, %q, override %q) = %+v, want error", tt.cloud, tt.region, ov, got)
				}
				if !strings.Contains(err.Error(), tt.mentions) {
					t.Errorf("error %q does not name %q", err, tt.mentions)
				}
				if got != (defender.Endpoints{}) {
					t.Errorf("error came with endpoints %+v, want zero", got)
				}
			}
		})
	}
}

// The server's defender-scope replaces the cloud's scope and nothing else;
// only an absolute URI ending in /.default passes.
func TestScopeOverride(t *testing.T) {
	ep, err := defender.ResolveEndpoints(defender.GCCHigh, "", "", "")
	if err != nil {
		t.Fatal(err)
	}
	if got := ep.WithScope(""); got != ep {
		t.Errorf("an empty override changed the endpoints: %+v", got)
	}
	const gov = "https://api-gov.securitycenter.microsoft.us/.default"
	if got := ep.WithScope(gov); got.Scope != gov || got.APIURL != ep.APIURL || got.LoginURL != ep.LoginURL {
		t.Errorf("WithScope = %+v", got)
	}
	for _, ok := range []string{gov, "https://securitycenter.onmicrosoft.us/windowsatpservice/.default", "api://0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0/.default"} {
		if err := defender.CheckScope(ok); err != nil {
			t.Errorf("CheckScope(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", "https://api.securitycenter.microsoft.com", "api.securitycenter.microsoft.com/.default", "/.default", "https:///.default", "https://h /.default", "https://h/?a=b/.default"} {
		if err := defender.CheckScope(bad); err == nil {
			t.Errorf("CheckScope(%q) accepted it", bad)
		}
	}
}

// Graph's host follows the cloud as Microsoft's national cloud table says:
// GCC stays on the worldwide service; every listed cloud has one.
func TestGraphURLEveryCloud(t *testing.T) {
	want := map[defender.Cloud]string{
		"": "https://graph.microsoft.com", defender.Commercial: "https://graph.microsoft.com",
		defender.GCC: "https://graph.microsoft.com", defender.GCCHigh: "https://graph.microsoft.us",
		defender.DoD: "https://dod-graph.microsoft.us",
	}
	for c, w := range want {
		if got, err := defender.GraphURL(c); got != w || err != nil {
			t.Errorf("GraphURL(%q) = %q, %v; want %q", c, got, err, w)
		}
	}
	for _, o := range defender.Clouds {
		if _, ok := want[defender.Cloud(o.Value)]; !ok {
			t.Errorf("cloud %q has no Graph host in this test", o.Value)
		}
	}
	if _, err := defender.GraphURL("china"); err == nil {
		t.Error("an unknown cloud has a Graph host")
	}
}
