package defender_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"

	"postern/internal/defender"
	"postern/internal/emulator"
)

// htmlProxy is a tiny reverse proxy in front of the emulator that passes
// sign-in through and answers every API path with its own HTML 404 page,
// as a proxy in front of a wrong host or path does.
func htmlProxy(t *testing.T, emuURL string) string {
	t.Helper()
	target, _ := url.Parse(emuURL)
	rp := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/api/") {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte("<html><head><title>404 Not Found</title></head><body><h1>Not Found</h1></body></html>"))
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// Validate accepts a 404 only as Defender's own "no machines": a proxy's
// HTML page, a body that is not Defender's, or another code fail the save
// in plain words.
func TestValidateNotFoundAnswers(t *testing.T) {
	sec := sentinel("notfound")
	emu := emulator.New(emulator.Config{ClientSecret: sec, Machines: 3, Seed: 3})
	base := startEmulator(t, emu)
	err := newClient(t, creds(sec), htmlProxy(t, base), nil).Validate(context.Background())
	var de *defender.Error
	if !errors.As(err, &de) || de.Code != "404 HTML" ||
		!strings.Contains(de.Message, "Microsoft answered 404 Not Found with an HTML page: check the API region and any proxy") {
		t.Fatalf("Validate through an HTML proxy = %v", err)
	}
	assertNoSecret(t, err, sec)

	for _, tc := range []struct {
		name, body, code string
	}{
		{"plain text", "404 page not found", "404 not JSON"},
		{"another JSON code", `{"error":{"code":"BadRoute","message":"x"}}`, "404 BadRoute"},
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasPrefix(r.URL.Path, "/api/") {
				w.WriteHeader(http.StatusNotFound)
				w.Write([]byte(tc.body))
				return
			}
			emu.ServeHTTP(w, r)
		}))
		err := newClient(t, creds(sec), srv.URL, nil).Validate(context.Background())
		srv.Close()
		if !errors.As(err, &de) || de.Code != tc.code || !strings.Contains(de.Message, "previous device data was kept") {
			t.Errorf("%s: Validate = %v", tc.name, err)
		}
	}

	empty := emulator.New(emulator.Config{ClientSecret: sec, Machines: -1})
	empty.SetFaults(emulator.Faults{Realism: emulator.Realism{EmptyTenant: true}})
	if err := newClient(t, creds(sec), startEmulator(t, empty), nil).Validate(context.Background()); err != nil {
		t.Errorf("Validate on a tenant that never used Defender = %v, want nil", err)
	}
}

// The listing reads a JSON 404 as "no machines" only on the first page.
func TestListMachinesNotFound(t *testing.T) {
	sec := sentinel("list404")
	emu := emulator.New(emulator.Config{ClientSecret: sec, Machines: 25, Seed: 3})
	emu.SetFaults(emulator.Faults{NoRateLimit: true, Realism: emulator.Realism{NotFoundOnPage: 2}})
	c := newClient(t, creds(sec), startEmulator(t, emu), nil)
	seen := 0
	st, err := c.ListMachines(context.Background(), defender.ListOptions{PageSize: 10}, func(ms []defender.Machine) error {
		seen += len(ms)
		return nil
	})
	var de *defender.Error
	if !errors.As(err, &de) || de.Code != "404 ResourceNotFound" || !strings.Contains(de.Message, "page 2") {
		t.Fatalf("ListMachines = %v after %d pages", err, st.Pages)
	}

	emu.SetFaults(emulator.Faults{NoRateLimit: true, Realism: emulator.Realism{HTML404: true}})
	if _, err := c.ListMachines(context.Background(), defender.ListOptions{PageSize: 10}, func([]defender.Machine) error { return nil }); !errors.As(err, &de) || de.Code != "404 HTML" {
		t.Errorf("HTML 404 on the first page: %v", err)
	}
}
