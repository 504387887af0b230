package auth_test

import (
	"testing"

	"postern/internal/apperr"
	"postern/internal/auth"
)

// The relying party is the console as the browser reached it: a host
// name (never an IP address), over HTTPS or at localhost.
func TestRPFor(t *testing.T) {
	for _, tc := range []struct {
		host     string
		https    bool
		id, orig string // "" when refused
	}{
		{"postern.example.com", true, "postern.example.com", "https://postern.example.com"},
		{"Postern.Example.com:8443", true, "postern.example.com", "https://postern.example.com:8443"},
		{"localhost:8080", false, "localhost", "http://localhost:8080"},
		{"console.localhost:8080", false, "console.localhost", "http://console.localhost:8080"},
		{"postern.example.com", false, "", ""}, // plain HTTP off localhost: no secure context
		{"127.0.0.1:8080", false, "", ""},      // an IP address is never an RP ID
		{"10.0.0.5", true, "", ""},             // not over HTTPS either
		{"[::1]:8080", true, "", ""},           // nor IPv6
		{"", true, "", ""},                     // no Host
	} {
		rp, err := auth.RPFor(tc.host, tc.https)
		if tc.id == "" {
			if apperr.KindOf(err) != apperr.Conflict || apperr.MessageOf(err) == "" {
				t.Errorf("RPFor(%q, %v) = %+v, %v; want a Conflict that says why", tc.host, tc.https, rp, err)
			}
			continue
		}
		if err != nil || rp.ID != tc.id || rp.Origin != tc.orig {
			t.Errorf("RPFor(%q, %v) = %+v, %v; want %s %s", tc.host, tc.https, rp, err, tc.id, tc.orig)
		}
	}
}
