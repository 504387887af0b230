package defender_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"postern/internal/defender"
	"postern/internal/emulator"
)

// TestValidateTimeoutMessage holds the timeout half of SECURITY item 10
// (docs/security.md#item-10): Microsoft answering too late is Unreachable
// with the code "network" and its own message, not the refused-connection
// one, whether the token endpoint or the API is slow.
func TestValidateTimeoutMessage(t *testing.T) {
	for _, f := range []emulator.Faults{{TokenDelay: 2 * time.Second}, {SlowPage: 2 * time.Second}} {
		sec := sentinel("timeout")
		emu := emulator.New(emulator.Config{ClientSecret: sec, Machines: 3, Seed: 3})
		emu.SetFaults(f)
		base := startEmulator(t, emu)
		err := newClient(t, creds(sec), base, &http.Client{Timeout: 200 * time.Millisecond}).Validate(context.Background())
		var de *defender.Error
		if !errors.As(err, &de) {
			t.Fatalf("Validate = %v (%T), want *defender.Error", err, err)
		}
		if de.Reason != defender.Unreachable || de.Code != "network" || !strings.Contains(de.Message, "did not answer in time") {
			t.Errorf("faults %+v: reason %q code %q message %q; want unreachable, network, \"did not answer in time\"",
				f, de.Reason, de.Code, de.Message)
		}
		if !strings.Contains(err.Error(), "(network)") {
			t.Errorf("Error() = %q does not name the code", err)
		}
		assertNoSecret(t, err, sec)
	}
}
