package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"postern/internal/testkit"
)

// The gateway harness runs Debian's nginx and Caddy (`make gateways`
// installs them) in front of a test upstream, with the configurations in
// deploy/ rendered into a temporary directory: only the example ports,
// paths and token of those files are replaced, so the tests run what an
// admin copies.

// gatewayHost is the site name of the deploy/ configurations; the test
// clients send it (SNI and Host) and dial loopback.
const gatewayHost = "app.example.com"

// deployToken is the token placeholder of the deploy/ configurations.
const deployToken = "REPLACE_WITH_A_POSTERN_API_TOKEN"

// devicePKI is a test CA that issues the gateway's server certificate and
// device certificates, written as PEM files in a temporary directory.
type devicePKI struct {
	CAFile, ServerCertFile, ServerKeyFile string

	ca    *x509.Certificate
	caKey *ecdsa.PrivateKey
	pool  *x509.CertPool
}

// newDevicePKI makes the CA and the server certificate for gatewayHost.
func newDevicePKI(t testing.TB) *devicePKI {
	t.Helper()
	dir := t.TempDir()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber:          serial(t),
		Subject:               pkix.Name{CommonName: "Postern test device CA", Organization: []string{"Postern tests"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatalf("creating the test CA: %v", err)
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	p := &devicePKI{ca: ca, caKey: key, pool: x509.NewCertPool()}
	p.pool.AddCert(ca)
	p.CAFile = filepath.Join(dir, "device-ca.pem")
	writePEM(t, p.CAFile, "CERTIFICATE", der)

	server := p.issue(t, &x509.Certificate{
		Subject:     pkix.Name{CommonName: gatewayHost},
		DNSNames:    []string{gatewayHost},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	p.ServerCertFile = filepath.Join(dir, gatewayHost+".crt")
	p.ServerKeyFile = filepath.Join(dir, gatewayHost+".key")
	writePEM(t, p.ServerCertFile, "CERTIFICATE", server.Certificate[0])
	keyDER, err := x509.MarshalPKCS8PrivateKey(server.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, p.ServerKeyFile, "PRIVATE KEY", keyDER)
	return p
}

// deviceCert issues a client certificate as an Intune SCEP or PKCS profile
// writes it: the Entra device id as a bare GUID in a URI SAN (the
// {{AAD_Device_ID}} variable), the host name as a DNS SAN, beside the
// IntuneDeviceId and the strong-mapping SID SANs, which are not the Entra
// device id.
func (p *devicePKI) deviceCert(t testing.TB, entraDeviceID, hostname string) tls.Certificate {
	t.Helper()
	uris := []*url.URL{
		{Path: entraDeviceID},
		{Scheme: "IntuneDeviceId", Host: "7c1a0f2e-5a4b-4c3d-9e8f-0a1b2c3d4e5f"},
		{Scheme: "tag", Opaque: "microsoft.com,2022-09-14:sid:S-1-5-21-1004336348-1177238915-682003330-512"},
	}
	return p.issue(t, &x509.Certificate{
		Subject:     pkix.Name{CommonName: entraDeviceID},
		DNSNames:    []string{hostname},
		URIs:        uris,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
}

// issue signs tmpl with the CA, over a fresh key.
func (p *devicePKI) issue(t testing.TB, tmpl *x509.Certificate) tls.Certificate {
	t.Helper()
	key := newKey(t)
	tmpl.SerialNumber = serial(t)
	tmpl.NotBefore = time.Now().Add(-time.Hour)
	tmpl.NotAfter = time.Now().Add(24 * time.Hour)
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, &key.PublicKey, p.caKey)
	if err != nil {
		t.Fatalf("issuing a certificate for %q: %v", tmpl.Subject.CommonName, err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func serial(t testing.TB) *big.Int {
	t.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func writePEM(t testing.TB, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// gatewayConfig is what the deploy/ configurations are rendered with.
type gatewayConfig struct {
	PKI      *devicePKI
	Postern  string // host:port of Postern (or of a stand-in)
	Upstream string // host:port of the application
	Token    string // the API token the gateway sends
}

// gateway is a running nginx or Caddy.
type gateway struct {
	Name string
	Port string // the HTTPS port on 127.0.0.1

	pki  *devicePKI
	cmd  *exec.Cmd
	out  testkit.Buffer
	done chan struct{}
	dir  string
}

// gatewayBinary returns the path of nginx or caddy, or skips the test (fails
// it when POSTERN_E2E_REQUIRED=1) when it is not installed.
func gatewayBinary(t testing.TB, name string) string {
	t.Helper()
	if path, err := exec.LookPath(name); err == nil {
		return path
	}
	for _, dir := range []string{"/usr/sbin", "/usr/bin"} { // nginx is in /usr/sbin, outside a user's PATH
		if path := filepath.Join(dir, name); isExecutable(path) {
			return path
		}
	}
	skipOrFail(t, "%s is not installed: run `make gateways` as root, or apt-get install nginx caddy", name)
	return ""
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// renderDeploy reads deploy/<rel> and replaces each key of subs by its
// value; a key missing from the file fails the test, so that the file and
// the tests cannot drift apart silently.
func renderDeploy(t testing.TB, rel string, subs [][2]string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(mustModuleRoot(t), "deploy", rel))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, kv := range subs {
		if !strings.Contains(s, kv[0]) {
			t.Fatalf("deploy/%s no longer contains %q, which the gateway tests replace", rel, kv[0])
		}
		s = strings.ReplaceAll(s, kv[0], kv[1])
	}
	return s
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t testing.TB) string {
	t.Helper()
	_, port, _ := net.SplitHostPort(freeAddr(t))
	return port
}

// startNginx runs deploy/nginx/postern-gateway.conf in Debian's nginx, as
// the current user, inside a main configuration like Debian's nginx.conf
// whose pid file, logs and temporary directories are in a temporary
// directory.
func startNginx(t testing.TB, cfg gatewayConfig) *gateway {
	t.Helper()
	bin := gatewayBinary(t, "nginx")
	dir := t.TempDir()
	port := freePort(t)
	site := renderDeploy(t, "nginx/postern-gateway.conf", [][2]string{
		{"listen 443 ssl;", "listen 127.0.0.1:" + port + " ssl;"},
		{"/etc/nginx/postern/app.example.com.crt", cfg.PKI.ServerCertFile},
		{"/etc/nginx/postern/app.example.com.key", cfg.PKI.ServerKeyFile},
		{"/etc/nginx/postern/device-ca.pem", cfg.PKI.CAFile},
		{"127.0.0.1:8081", cfg.Upstream},
		{"127.0.0.1:8080", cfg.Postern},
		{deployToken, cfg.Token},
		{"/var/cache/nginx/postern", filepath.Join(dir, "postern-cache")},
	})
	sitePath := filepath.Join(dir, "postern-gateway.conf")
	must(t, os.WriteFile(sitePath, []byte(site), 0o600))
	var main strings.Builder
	fmt.Fprintf(&main, "pid %s;\nerror_log %s info;\nworker_processes 1;\n", filepath.Join(dir, "nginx.pid"), filepath.Join(dir, "error.log"))
	if os.Geteuid() == 0 {
		// Started by root, nginx would run its workers as nobody, who
		// cannot enter the test's private temporary directories (the
		// answer cache of deploy/nginx is there).
		main.WriteString("user root;\n")
	}
	main.WriteString("events { worker_connections 128; }\nhttp {\n")
	fmt.Fprintf(&main, "  access_log %s;\n", filepath.Join(dir, "access.log"))
	for _, temp := range []string{"client_body", "proxy", "fastcgi", "uwsgi", "scgi"} {
		fmt.Fprintf(&main, "  %s_temp_path %s;\n", temp, filepath.Join(dir, temp))
	}
	fmt.Fprintf(&main, "  include %s;\n}\n", sitePath)
	conf := filepath.Join(dir, "nginx.conf")
	must(t, os.WriteFile(conf, []byte(main.String()), 0o600))
	g := &gateway{Name: "nginx", Port: port, pki: cfg.PKI, dir: dir}
	g.start(t, exec.Command(bin, "-p", dir, "-c", conf, "-e", filepath.Join(dir, "error.log"), "-g", "daemon off;"),
		filepath.Join(dir, "error.log"))
	return g
}

// startCaddy runs deploy/caddy/Caddyfile in Debian's Caddy, as the current
// user, with its admin API, HTTP and HTTPS ports free loopback ports and its
// storage, config and data directories temporary.
func startCaddy(t testing.TB, cfg gatewayConfig) *gateway {
	t.Helper()
	bin := gatewayBinary(t, "caddy")
	dir := t.TempDir()
	port := freePort(t)
	caddyfile := renderDeploy(t, "caddy/Caddyfile", [][2]string{
		{"admin 127.0.0.1:2019", "admin 127.0.0.1:" + freePort(t)},
		{"http_port 80", "http_port " + freePort(t) + "\n\tdefault_bind 127.0.0.1"},
		{"https_port 443", "https_port " + port},
		{"storage file_system /var/lib/caddy", "storage file_system " + filepath.Join(dir, "storage")},
		{"/etc/caddy/postern/app.example.com.crt", cfg.PKI.ServerCertFile},
		{"/etc/caddy/postern/app.example.com.key", cfg.PKI.ServerKeyFile},
		{"/etc/caddy/postern/device-ca.pem", cfg.PKI.CAFile},
		{"127.0.0.1:8081", cfg.Upstream},
		{"127.0.0.1:8080", cfg.Postern},
		{deployToken, cfg.Token},
	})
	path := filepath.Join(dir, "Caddyfile")
	must(t, os.WriteFile(path, []byte(caddyfile), 0o600))
	cmd := exec.Command(bin, "run", "--config", path, "--adapter", "caddyfile")
	cmd.Env = append(envWithout("XDG_"), "HOME="+dir, "XDG_CONFIG_HOME="+filepath.Join(dir, "config"), "XDG_DATA_HOME="+filepath.Join(dir, "data"))
	g := &gateway{Name: "caddy", Port: port, pki: cfg.PKI, dir: dir}
	g.start(t, cmd, "")
	return g
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// start runs cmd and waits until the gateway answers HTTPS on its port.
// At cleanup it is stopped; when the test failed, its output and errorLog
// are logged.
func (g *gateway) start(t testing.TB, cmd *exec.Cmd, errorLog string) {
	t.Helper()
	g.cmd = cmd
	g.done = make(chan struct{})
	cmd.Dir = g.dir
	cmd.Stdout, cmd.Stderr = &g.out, &g.out
	cmd.WaitDelay = time.Second
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // nginx's workers go with it
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", g.Name, err)
	}
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(g.done) }()
	logs := func() string {
		s := g.out.String()
		if errorLog != "" {
			if b, err := os.ReadFile(errorLog); err == nil {
				s += "\n" + errorLog + ":\n" + string(b)
			}
		}
		return s
	}
	var stopOnce sync.Once
	stop := func() {
		stopOnce.Do(func() {
			syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
			select {
			case <-g.done:
			case <-time.After(5 * time.Second):
				syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
				<-g.done
			}
		})
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("%s %v output:\n%s", g.Name, cmd.Args, logs())
		}
	})
	client := g.Client(nil)
	deadline := time.Now().Add(15 * time.Second)
	last := "no answer yet"
	for time.Now().Before(deadline) {
		select {
		case <-g.done:
			t.Fatalf("%s exited at start: %v\n%s", g.Name, exitText(waitErr), logs())
		default:
		}
		// Any HTTP answer over TLS means the gateway is up, whatever
		// its status.
		res, err := client.Get(g.URL("/"))
		if err == nil {
			res.Body.Close()
			return
		}
		last = err.Error()
		time.Sleep(50 * time.Millisecond)
	}
	stop()
	t.Fatalf("%s did not answer HTTPS within 15 s; last: %s\n%s", g.Name, last, logs())
}

// URL is the gateway's address for path, as the clients see it.
func (g *gateway) URL(path string) string {
	return "https://" + gatewayHost + ":" + g.Port + path
}

// Client returns an HTTP client that trusts the test CA, presents cert
// when it is not nil, and dials gatewayHost on loopback.
func (g *gateway) Client(cert *tls.Certificate) *http.Client {
	tlsConf := &tls.Config{RootCAs: g.pki.pool, ServerName: gatewayHost, MinVersion: tls.VersionTLS12}
	if cert != nil {
		tlsConf.Certificates = []tls.Certificate{*cert}
	}
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	return &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			TLSClientConfig:   tlsConf,
			DisableKeepAlives: true,
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				_, port, err := net.SplitHostPort(addr)
				if err != nil {
					return nil, err
				}
				return dialer.DialContext(ctx, network, net.JoinHostPort("127.0.0.1", port))
			},
		},
	}
}

// Get sends GET path through the gateway with cert (nil for none) and the
// extra request headers, and returns the response with its body read.
func (g *gateway) Get(t testing.TB, cert *tls.Certificate, path string, headers map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, g.URL(path), nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	res, err := g.Client(cert).Do(req)
	if err != nil {
		t.Fatalf("%s: GET %s: %v", g.Name, path, err)
	}
	defer res.Body.Close()
	var body strings.Builder
	if _, err := io.Copy(&body, res.Body); err != nil {
		t.Fatalf("%s: reading the answer to GET %s: %v", g.Name, path, err)
	}
	return res, body.String()
}
