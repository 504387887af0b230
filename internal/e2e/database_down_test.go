package e2e

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	neturl "net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"postern/internal/testkit"
	"postern/internal/testkit/pgtest"
)

// tcpCut forwards loopback connections to a server until cut, which
// closes every connection and refuses new ones: the database host gone.
type tcpCut struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
	cut   bool
}

func startTCPCut(t *testing.T, target string) *tcpCut {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tcpCut{ln: ln}
	t.Cleanup(p.Cut)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			if p.cut {
				p.mu.Unlock()
				c.Close()
				s.Close()
				return
			}
			p.conns = append(p.conns, c, s)
			p.mu.Unlock()
			go func() { io.Copy(s, c); s.Close() }()
			go func() { io.Copy(c, s); c.Close() }()
		}
	}()
	return p
}

// Cut closes the listener and every connection through it.
func (p *tcpCut) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	p.ln.Close()
	for _, c := range p.conns {
		c.Close()
	}
}

// When the database goes away under a running replica, the enforcement
// API keeps answering from the snapshot in memory and the plain /readyz
// stays ready (a load balancer must not drop every replica when the
// database blinks), while /readyz?verbose and /metrics report the
// database down and the console shows its error page.
func TestDatabaseDownKeepsAnswering(t *testing.T) {
	dbURL := pgtest.DatabaseURL(t)
	u, err := neturl.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	cut := startTCPCut(t, u.Host)
	u.Host = cut.ln.Addr().String()
	ms := startPagingMicrosoft(t, 500)
	srv := startServerIn(t, t.TempDir(), append([]string{"--database-url", u.String(), "--replica-name", "only"}, ms.args()...)...)
	c := newConsole(t)
	c.setUp(srv.URL)
	c.configure(srv.URL)
	token := c.createToken(srv.URL)
	high, _ := pickMachines(t, ms.emu.Machines())
	testkit.WaitFor(t, 30*time.Second, "the first sync", func() bool {
		code, v := askVerdict(t, srv.URL, token, high)
		return code == http.StatusOK && v.Device.ID != ""
	})
	_, before := askVerdict(t, srv.URL, token, high)

	cut.Cut()
	for i := range 20 {
		code, v := askVerdict(t, srv.URL, token, high)
		if code != http.StatusOK || !sameVerdict(v, before) {
			t.Fatalf("evaluate %d with the database gone: %d %+v, want %+v", i, code, v, before)
		}
	}
	get := func(path string) (*http.Response, string) {
		t.Helper()
		res, err := c.client.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res, string(b)
	}
	if res, _ := get("/readyz"); res.StatusCode != http.StatusOK {
		t.Errorf("plain /readyz with the database gone: %s, want 200", res.Status)
	}
	res, body := get("/readyz?verbose")
	var r struct {
		Database struct{ OK bool } `json:"database"`
	}
	if err := json.Unmarshal([]byte(body), &r); err != nil || r.Database.OK || res.StatusCode != http.StatusOK {
		t.Errorf("/readyz?verbose with the database gone: %s %s, want 200 with the database down", res.Status, body)
	}
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	mres, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	mb, _ := io.ReadAll(mres.Body)
	mres.Body.Close()
	if !strings.Contains(string(mb), "\npostern_database_up 0\n") {
		t.Errorf("/metrics with the database gone: %s, want postern_database_up 0", mres.Status)
	}
	res, body = get("/devices")
	if res.StatusCode < 500 || !strings.Contains(body, "<html") {
		t.Errorf("a console page with the database gone: %s, want the console's error page", res.Status)
	}
}
