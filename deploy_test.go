package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"postern/internal/clientcert"
	"postern/web"
)

// Traefik and Envoy are not packaged by Debian, so the gateway tests
// (internal/e2e, which run deploy/nginx and deploy/caddy in the real
// programs) cannot run deploy/traefik and deploy/envoy. This test decodes
// them strictly into a schema of ours, the subset of Traefik's and Envoy's
// configuration the files use, with the keys spelled as those programs
// spell them: an unknown or misspelt key fails the test, as it would fail
// (Envoy) or be silently ignored by (Traefik) the real program. Then it
// checks what the files promise in docs/gateways.md. Traefik's and Envoy's
// own configuration types are not pulled in as Go modules: they would bring
// either program's whole dependency tree into go.mod for one test.

// decodeStrict decodes the YAML file at path into v, refusing unknown keys
// and more than one document.
func decodeStrict(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var extra any
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		t.Fatalf("%s: a second YAML document, or trailing garbage: %v", path, err)
	}
}

// Traefik v3 static configuration (the keys traefik.yml uses).
type traefikStatic struct {
	EntryPoints map[string]struct {
		Address string `yaml:"address"`
	} `yaml:"entryPoints"`
	Providers struct {
		File struct {
			Filename string `yaml:"filename"`
			Watch    bool   `yaml:"watch"`
		} `yaml:"file"`
	} `yaml:"providers"`
	Log struct {
		Level string `yaml:"level"`
	} `yaml:"log"`
}

// Traefik v3 dynamic configuration (the keys postern.yml uses).
type traefikDynamic struct {
	HTTP struct {
		Routers map[string]struct {
			Rule        string   `yaml:"rule"`
			EntryPoints []string `yaml:"entryPoints"`
			Service     string   `yaml:"service"`
			Middlewares []string `yaml:"middlewares"`
			TLS         *struct {
				Options string `yaml:"options"`
			} `yaml:"tls"`
		} `yaml:"routers"`
		Services map[string]struct {
			LoadBalancer struct {
				Servers []struct {
					URL string `yaml:"url"`
				} `yaml:"servers"`
			} `yaml:"loadBalancer"`
		} `yaml:"services"`
		Middlewares map[string]traefikMiddleware `yaml:"middlewares"`
	} `yaml:"http"`
	TLS struct {
		Certificates []struct {
			CertFile string `yaml:"certFile"`
			KeyFile  string `yaml:"keyFile"`
		} `yaml:"certificates"`
		Options map[string]struct {
			MinVersion string `yaml:"minVersion"`
			ClientAuth struct {
				CAFiles        []string `yaml:"caFiles"`
				ClientAuthType string   `yaml:"clientAuthType"`
			} `yaml:"clientAuth"`
		} `yaml:"options"`
	} `yaml:"tls"`
}

// traefikMiddleware holds one middleware: exactly one field is set.
type traefikMiddleware struct {
	Headers *struct {
		CustomRequestHeaders map[string]string `yaml:"customRequestHeaders"`
	} `yaml:"headers"`
	PassTLSClientCert *struct {
		PEM bool `yaml:"pem"`
	} `yaml:"passTLSClientCert"`
	ForwardAuth *struct {
		Address             string   `yaml:"address"`
		AuthRequestHeaders  []string `yaml:"authRequestHeaders"`
		AuthResponseHeaders []string `yaml:"authResponseHeaders"`
	} `yaml:"forwardAuth"`
}

// clientClaimHeaders are the headers a client could send to claim an
// identity or a verdict: every X-Postern-* header forward-auth reads or
// writes (web.PosternHeaders, named once there), and the
// forwarded-certificate headers Postern reads. Every gateway configuration
// removes each of them.
func clientClaimHeaders() []string {
	return append(web.PosternHeaders(), clientcert.HeaderTLS, clientcert.HeaderXFCC)
}

func TestDeployTraefik(t *testing.T) {
	var static traefikStatic
	decodeStrict(t, "deploy/traefik/traefik.yml", &static)
	if static.Providers.File.Filename != "/etc/traefik/postern.yml" || static.EntryPoints["websecure"].Address != ":443" {
		t.Errorf("traefik.yml: file provider %q, websecure %q", static.Providers.File.Filename, static.EntryPoints["websecure"].Address)
	}

	var dyn traefikDynamic
	decodeStrict(t, "deploy/traefik/postern.yml", &dyn)
	mw := dyn.HTTP.Middlewares
	for name, m := range mw {
		n := 0
		for _, set := range []bool{m.Headers != nil, m.PassTLSClientCert != nil, m.ForwardAuth != nil} {
			if set {
				n++
			}
		}
		if n != 1 {
			t.Errorf("middleware %s has %d kinds, want 1", name, n)
		}
	}
	router, ok := dyn.HTTP.Routers["app"]
	if !ok {
		t.Fatal("no router app")
	}
	// Strip and set the token, then the certificate, then ask Postern, then
	// take the token off: in that order.
	if want := []string{"postern-in", "postern-cert", "postern-auth", "postern-out"}; !slices.Equal(router.Middlewares, want) {
		t.Fatalf("router app middlewares %v, want %v", router.Middlewares, want)
	}
	for _, name := range router.Middlewares {
		if _, ok := mw[name]; !ok {
			t.Errorf("router app names middleware %s, which is not defined", name)
		}
	}
	if _, ok := dyn.HTTP.Services[router.Service]; !ok {
		t.Errorf("router app names service %q, which is not defined", router.Service)
	}
	if router.TLS == nil {
		t.Fatal("router app has no tls")
	}
	opts, ok := dyn.TLS.Options[router.TLS.Options]
	if !ok || opts.ClientAuth.ClientAuthType != "VerifyClientCertIfGiven" || len(opts.ClientAuth.CAFiles) != 1 {
		t.Errorf("tls options %q: %+v", router.TLS.Options, opts)
	}

	in := mw["postern-in"].Headers
	if in == nil {
		t.Fatal("postern-in is not a headers middleware")
	}
	for _, h := range clientClaimHeaders() {
		v, ok := in.CustomRequestHeaders[h]
		switch {
		case !ok:
			t.Errorf("postern-in does not replace the client's %s", h)
		case h == "X-Postern-Token" && v != "REPLACE_WITH_A_POSTERN_API_TOKEN":
			t.Errorf("postern-in sets X-Postern-Token to %q, not the placeholder", v)
		case h != "X-Postern-Token" && v != "":
			t.Errorf("postern-in sets %s to %q; it should remove it", h, v)
		}
	}
	if c := mw["postern-cert"].PassTLSClientCert; c == nil || !c.PEM {
		t.Error("postern-cert does not pass the client certificate (passTLSClientCert pem)")
	}
	fa := mw["postern-auth"].ForwardAuth
	if fa == nil {
		t.Fatal("postern-auth is not a forwardAuth middleware")
	}
	if fa.Address != "http://127.0.0.1:8080/api/v1/posture/forward-auth" {
		t.Errorf("forwardAuth address %q", fa.Address)
	}
	if want := []string{"X-Postern-Token", "X-Forwarded-Tls-Client-Cert"}; !slices.Equal(fa.AuthRequestHeaders, want) {
		t.Errorf("forwardAuth authRequestHeaders %v, want only %v", fa.AuthRequestHeaders, want)
	}
	if want := []string{"X-Postern-Device", "X-Postern-Matched-By"}; !slices.Equal(fa.AuthResponseHeaders, want) {
		t.Errorf("forwardAuth authResponseHeaders %v, want %v", fa.AuthResponseHeaders, want)
	}
	if out := mw["postern-out"].Headers; out == nil || len(out.CustomRequestHeaders) != 1 || out.CustomRequestHeaders["X-Postern-Token"] != "" {
		t.Error("postern-out does not take the token off before the application")
	}
}

// Envoy v3 API, as a bootstrap (the keys envoy.yaml uses).
type envoyBootstrap struct {
	StaticResources struct {
		Listeners []struct {
			Name         string             `yaml:"name"`
			Address      envoyAddress       `yaml:"address"`
			FilterChains []envoyFilterChain `yaml:"filter_chains"`
		} `yaml:"listeners"`
		Clusters []struct {
			Name           string `yaml:"name"`
			Type           string `yaml:"type"`
			ConnectTimeout string `yaml:"connect_timeout"`
			LoadAssignment struct {
				ClusterName string `yaml:"cluster_name"`
				Endpoints   []struct {
					LBEndpoints []struct {
						Endpoint struct {
							Address envoyAddress `yaml:"address"`
						} `yaml:"endpoint"`
					} `yaml:"lb_endpoints"`
				} `yaml:"endpoints"`
			} `yaml:"load_assignment"`
		} `yaml:"clusters"`
	} `yaml:"static_resources"`
}

type envoyAddress struct {
	SocketAddress struct {
		Address   string `yaml:"address"`
		PortValue int    `yaml:"port_value"`
	} `yaml:"socket_address"`
}

type envoyDataSource struct {
	Filename string `yaml:"filename"`
}

type envoyFilterChain struct {
	TransportSocket struct {
		Name        string `yaml:"name"`
		TypedConfig struct {
			Type                     string `yaml:"@type"`
			RequireClientCertificate bool   `yaml:"require_client_certificate"`
			CommonTLSContext         struct {
				TLSCertificates []struct {
					CertificateChain envoyDataSource `yaml:"certificate_chain"`
					PrivateKey       envoyDataSource `yaml:"private_key"`
				} `yaml:"tls_certificates"`
				ValidationContext struct {
					TrustedCA envoyDataSource `yaml:"trusted_ca"`
				} `yaml:"validation_context"`
			} `yaml:"common_tls_context"`
		} `yaml:"typed_config"`
	} `yaml:"transport_socket"`
	Filters []struct {
		Name        string   `yaml:"name"`
		TypedConfig envoyHCM `yaml:"typed_config"`
	} `yaml:"filters"`
}

// envoyHCM is envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager.
type envoyHCM struct {
	Type                        string `yaml:"@type"`
	StatPrefix                  string `yaml:"stat_prefix"`
	ForwardClientCertDetails    string `yaml:"forward_client_cert_details"`
	SetCurrentClientCertDetails struct {
		Cert bool `yaml:"cert"`
	} `yaml:"set_current_client_cert_details"`
	RouteConfig struct {
		Name                   string   `yaml:"name"`
		RequestHeadersToRemove []string `yaml:"request_headers_to_remove"`
		VirtualHosts           []struct {
			Name    string   `yaml:"name"`
			Domains []string `yaml:"domains"`
			Routes  []struct {
				Match struct {
					Prefix string `yaml:"prefix"`
				} `yaml:"match"`
				Route struct {
					Cluster string `yaml:"cluster"`
				} `yaml:"route"`
			} `yaml:"routes"`
		} `yaml:"virtual_hosts"`
	} `yaml:"route_config"`
	HTTPFilters []struct {
		Name        string          `yaml:"name"`
		TypedConfig envoyHTTPFilter `yaml:"typed_config"`
	} `yaml:"http_filters"`
}

// envoyHTTPFilter is the ext_authz filter's configuration
// (envoy.extensions.filters.http.ext_authz.v3.ExtAuthz), the
// header_mutation filter's
// (envoy.extensions.filters.http.header_mutation.v3.HeaderMutation) or,
// with only @type, the router's.
type envoyHTTPFilter struct {
	Type      string `yaml:"@type"`
	Mutations *struct {
		RequestMutations []struct {
			Remove string `yaml:"remove"`
		} `yaml:"request_mutations"`
	} `yaml:"mutations"`
	TransportAPIVersion string `yaml:"transport_api_version"`
	FailureModeAllow    *bool  `yaml:"failure_mode_allow"`
	StatusOnError       struct {
		Code string `yaml:"code"`
	} `yaml:"status_on_error"`
	HTTPService *struct {
		ServerURI struct {
			URI     string `yaml:"uri"`
			Cluster string `yaml:"cluster"`
			Timeout string `yaml:"timeout"`
		} `yaml:"server_uri"`
		PathPrefix           string `yaml:"path_prefix"`
		AuthorizationRequest struct {
			AllowedHeaders envoyStringMatchers `yaml:"allowed_headers"`
			HeadersToAdd   []struct {
				Key   string `yaml:"key"`
				Value string `yaml:"value"`
			} `yaml:"headers_to_add"`
		} `yaml:"authorization_request"`
		AuthorizationResponse struct {
			AllowedUpstreamHeaders envoyStringMatchers `yaml:"allowed_upstream_headers"`
			AllowedClientHeaders   envoyStringMatchers `yaml:"allowed_client_headers"`
		} `yaml:"authorization_response"`
	} `yaml:"http_service"`
}

type envoyStringMatchers struct {
	Patterns []struct {
		Exact string `yaml:"exact"`
	} `yaml:"patterns"`
}

func (m envoyStringMatchers) exact() []string {
	var s []string
	for _, p := range m.Patterns {
		s = append(s, p.Exact)
	}
	return s
}

func TestDeployEnvoy(t *testing.T) {
	var b envoyBootstrap
	decodeStrict(t, "deploy/envoy/envoy.yaml", &b)
	sr := b.StaticResources
	if len(sr.Listeners) != 1 || len(sr.Listeners[0].FilterChains) != 1 {
		t.Fatalf("want one listener with one filter chain: %+v", sr.Listeners)
	}
	chain := sr.Listeners[0].FilterChains[0]
	tlsCtx := chain.TransportSocket.TypedConfig
	if tlsCtx.Type != "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext" ||
		tlsCtx.RequireClientCertificate || tlsCtx.CommonTLSContext.ValidationContext.TrustedCA.Filename == "" {
		t.Errorf("the TLS context does not ask for a device certificate of the CA: %+v", tlsCtx)
	}
	if len(chain.Filters) != 1 {
		t.Fatalf("want one network filter, got %d", len(chain.Filters))
	}
	hcm := chain.Filters[0].TypedConfig
	if hcm.Type != "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager" {
		t.Fatalf("network filter @type %q", hcm.Type)
	}
	// SANITIZE_SET replaces a client-sent x-forwarded-client-cert.
	if hcm.ForwardClientCertDetails != "SANITIZE_SET" || !hcm.SetCurrentClientCertDetails.Cert {
		t.Errorf("forward_client_cert_details %q, cert %v", hcm.ForwardClientCertDetails, hcm.SetCurrentClientCertDetails.Cert)
	}
	// A route's request_headers_to_remove acts only in the router, after
	// ext_authz has added Postern's own x-postern-device: the client's
	// headers are removed by a header_mutation filter before ext_authz.
	if len(hcm.RouteConfig.RequestHeadersToRemove) != 0 {
		t.Errorf("request_headers_to_remove %v would also remove Postern's answer", hcm.RouteConfig.RequestHeadersToRemove)
	}
	var names []string
	for _, f := range hcm.HTTPFilters {
		names = append(names, f.Name)
	}
	if want := []string{"envoy.filters.http.header_mutation", "envoy.filters.http.ext_authz", "envoy.filters.http.router"}; !slices.Equal(names, want) {
		t.Fatalf("http filters %v, want %v", names, want)
	}
	mut := hcm.HTTPFilters[0].TypedConfig
	if mut.Type != "type.googleapis.com/envoy.extensions.filters.http.header_mutation.v3.HeaderMutation" || mut.Mutations == nil {
		t.Fatalf("header_mutation typed_config: %+v", mut)
	}
	var removed []string
	for _, m := range mut.Mutations.RequestMutations {
		removed = append(removed, m.Remove)
	}
	for _, h := range clientClaimHeaders() {
		// x-forwarded-client-cert is replaced by SANITIZE_SET (above).
		if h != clientcert.HeaderXFCC && !slices.Contains(removed, strings.ToLower(h)) {
			t.Errorf("header_mutation does not remove the client's %s", h)
		}
	}
	authz := hcm.HTTPFilters[1].TypedConfig
	router := hcm.HTTPFilters[2].TypedConfig
	if router.Type != "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router" || router.HTTPService != nil {
		t.Errorf("router typed_config: %+v", router)
	}
	if authz.Type != "type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthz" || authz.HTTPService == nil {
		t.Fatalf("ext_authz typed_config: %+v", authz)
	}
	if authz.FailureModeAllow == nil || *authz.FailureModeAllow || authz.StatusOnError.Code != "ServiceUnavailable" {
		t.Error("ext_authz does not fail closed (failure_mode_allow false, status_on_error ServiceUnavailable)")
	}
	hs := authz.HTTPService
	if hs.PathPrefix != "/api/v1/posture/forward-auth" || hs.ServerURI.Cluster != "postern" {
		t.Errorf("http_service: path_prefix %q, cluster %q", hs.PathPrefix, hs.ServerURI.Cluster)
	}
	if got := hs.AuthorizationRequest.AllowedHeaders.exact(); !slices.Equal(got, []string{"x-forwarded-client-cert"}) {
		t.Errorf("allowed_headers %v: only the sanitized certificate header may go to Postern", got)
	}
	if h := hs.AuthorizationRequest.HeadersToAdd; len(h) != 1 || h[0].Key != "X-Postern-Token" || h[0].Value != "REPLACE_WITH_A_POSTERN_API_TOKEN" {
		t.Errorf("headers_to_add %+v, want the token as X-Postern-Token", h)
	}
	if got := hs.AuthorizationResponse.AllowedClientHeaders.exact(); !slices.Contains(got, "x-postern-reason") {
		t.Errorf("allowed_client_headers %v: a denied client would not see the reason", got)
	}
	if got := hs.AuthorizationResponse.AllowedUpstreamHeaders.exact(); !slices.Equal(got, []string{"x-postern-device", "x-postern-matched-by"}) {
		t.Errorf("allowed_upstream_headers %v", got)
	}
	clusters := map[string]int{}
	for _, c := range sr.Clusters {
		if len(c.LoadAssignment.Endpoints) == 1 && len(c.LoadAssignment.Endpoints[0].LBEndpoints) == 1 {
			clusters[c.Name] = c.LoadAssignment.Endpoints[0].LBEndpoints[0].Endpoint.Address.SocketAddress.PortValue
		}
	}
	route := hcm.RouteConfig.VirtualHosts[0].Routes[0].Route.Cluster
	if clusters["postern"] != 8080 || clusters[route] != 8081 {
		t.Errorf("clusters %v, route to %q", clusters, route)
	}
}

// The strict decoder refuses what the real programs would not read as
// meant: an unknown key, at any depth.
func TestDeployDecodeIsStrict(t *testing.T) {
	for _, c := range []struct {
		file string
		from string
		to   string
		v    any
	}{
		{"deploy/traefik/postern.yml", "authResponseHeaders:", "authResponseHeader:", &traefikDynamic{}},
		{"deploy/traefik/postern.yml", "clientAuthType:", "clientAuthtype:", &traefikDynamic{}},
		{"deploy/envoy/envoy.yaml", "failure_mode_allow:", "failure_mode_allowed:", &envoyBootstrap{}},
		{"deploy/envoy/envoy.yaml", "allowed_client_headers:", "allowed_client_header:", &envoyBootstrap{}},
	} {
		b, err := os.ReadFile(c.file)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(b, []byte(c.from)) {
			t.Fatalf("%s has no %q", c.file, c.from)
		}
		dec := yaml.NewDecoder(strings.NewReader(strings.Replace(string(b), c.from, c.to, 1)))
		dec.KnownFields(true)
		if err := dec.Decode(c.v); err == nil || !strings.Contains(err.Error(), strings.TrimSuffix(c.to, ":")) {
			t.Errorf("%s with %q decoded: %v", c.file, c.to, err)
		}
	}
}

// nginxBlock returns the body of the block that opens with the line open
// (as "location / {"), up to its matching brace.
func nginxBlock(t *testing.T, conf, open string) string {
	t.Helper()
	i := strings.Index(conf, open)
	if i < 0 {
		t.Fatalf("no %q", open)
	}
	depth := 0
	for j := i; j < len(conf); j++ {
		switch conf[j] {
		case '{':
			depth++
		case '}':
			depth--
			if depth == 0 {
				return conf[i:j]
			}
		}
	}
	t.Fatalf("%q is not closed", open)
	return ""
}

// nginx (run by the gateway tests, which send some spoofed headers) sets
// every claim header in both places a client's request goes: to the
// application (location /) and to Postern (the /_postern subrequest).
func TestDeployNginxStripsEveryClaim(t *testing.T) {
	b, err := os.ReadFile("deploy/nginx/postern-gateway.conf")
	if err != nil {
		t.Fatal(err)
	}
	conf := string(b)
	set := regexp.MustCompile(`(?m)^\s*proxy_set_header\s+(\S+)\s+(\S+);`)
	for _, c := range []struct {
		block string
		want  map[string]string // the value set where it is not ""
	}{
		{"location / {", map[string]string{"X-Postern-Device": "$postern_device", "X-Postern-Matched-By": "$postern_matched"}},
		{"location = /_postern {", map[string]string{clientcert.HeaderTLS: "$ssl_client_escaped_cert"}},
	} {
		got := map[string]string{}
		for _, m := range set.FindAllStringSubmatch(nginxBlock(t, conf, c.block), -1) {
			got[m[1]] = m[2]
		}
		for _, h := range clientClaimHeaders() {
			want, ok := c.want[h]
			if !ok {
				want = `""`
			}
			if v, ok := got[h]; !ok || v != want {
				t.Errorf("%s: proxy_set_header %s is %q (set: %v), want %s", c.block, h, v, ok, want)
			}
		}
	}
}

// Caddy removes every X-Postern-* header and forwarded certificate a client
// sends before forward_auth and the application read the request.
func TestDeployCaddyStripsEveryClaim(t *testing.T) {
	b, err := os.ReadFile("deploy/caddy/Caddyfile")
	if err != nil {
		t.Fatal(err)
	}
	conf := string(b)
	fa := strings.Index(conf, "\n\t\tforward_auth ")
	if fa < 0 {
		t.Fatal("no forward_auth")
	}
	removes := regexp.MustCompile(`(?m)^\s*request_header\s+-(\S+)\s*$`).FindAllStringSubmatchIndex(conf[:fa], -1)
	var removed []string
	for _, m := range removes {
		removed = append(removed, conf[m[2]:m[3]])
	}
	for _, h := range clientClaimHeaders() {
		if !slices.ContainsFunc(removed, func(r string) bool {
			p, wild := strings.CutSuffix(r, "*")
			return strings.EqualFold(r, h) || wild && strings.HasPrefix(strings.ToLower(h), strings.ToLower(p))
		}) {
			t.Errorf("Caddyfile does not remove the client's %s before forward_auth (removes %v)", h, removed)
		}
	}
}
