package defender_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"postern/internal/defender"
	"postern/internal/emulator"
)

// TestUnreachableMessagesNameTheirCode holds the unreachable half of
// security item 10 (docs/security.md#item-10) to its code, as
// TestValidateMapsFailures does for the AADSTS and API answers: a refused
// connection and a Microsoft too slow to answer (token endpoint or API)
// are Unreachable with the code "network", in Error() too, each with its
// own message. (TestValidateTimeouts and TestValidateClosedServerIsUnreachable
// check the bounds and the wording without the code.)
func TestUnreachableMessagesNameTheirCode(t *testing.T) {
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	cases := []struct {
		name    string
		faults  *emulator.Faults // nil: nothing listens
		message string
	}{
		{"connection refused", nil, "Could not reach Microsoft"},
		{"token endpoint slow", &emulator.Faults{TokenDelay: time.Second}, "did not answer in time"},
		{"API slow", &emulator.Faults{SlowPage: time.Second}, "did not answer in time"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sec := sentinel("unreachable")
			base := closed.URL
			if tc.faults != nil {
				emu := emulator.New(emulator.Config{ClientSecret: sec, Machines: 3, Seed: 3})
				emu.SetFaults(*tc.faults)
				base = startEmulator(t, emu)
			}
			err := newClient(t, creds(sec), base, &http.Client{Timeout: 150 * time.Millisecond}).Validate(context.Background())
			var de *defender.Error
			if !errors.As(err, &de) {
				t.Fatalf("Validate = %v (%T), want *defender.Error", err, err)
			}
			if de.Reason != defender.Unreachable || de.Code != "network" || !strings.Contains(de.Message, tc.message) {
				t.Errorf("reason %q code %q message %q; want unreachable, network, %q", de.Reason, de.Code, de.Message, tc.message)
			}
			if !strings.Contains(err.Error(), "(network)") {
				t.Errorf("Error() = %q does not name the code", err)
			}
			assertNoSecret(t, err, sec)
		})
	}
}
