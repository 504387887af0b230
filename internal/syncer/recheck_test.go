package syncer_test

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"postern/internal/actor"
	"postern/internal/apperr"
	"postern/internal/audit"
)

// Re-checking a device Postern does not know is NotFound, audited as a
// failure on that id, and fetches and stores nothing.
func TestRecheckOfUnknownDeviceIsAudited(t *testing.T) {
	e := newEnv(t, envOptions{machines: 3})
	e.sync("manual")
	before := e.state()
	ctx := actor.NewContext(context.Background(), admin)
	id := strings.Repeat("f", 40)
	var fetched atomic.Int32
	e.onRequest(func(*http.Request) { fetched.Add(1) })
	changed, err := e.w.Recheck(ctx, id)
	if changed || !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("Recheck = %v, %v; want not found", changed, err)
	}
	action := audit.DeviceRechecked
	rows, _, err := e.st.AuditEntries(ctx, audit.Filter{Action: &action})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0].Outcome != audit.Failure || rows[0].Target != id || rows[0].Detail != "Device was not found." ||
		rows[0].Actor != admin.Email || rows[0].SourceIP != admin.IP {
		t.Errorf("audit rows = %+v, want one failure of %s by %s", rows, id, admin.Email)
	}
	if n := fetched.Load(); n != 0 {
		t.Errorf("Defender was asked %d times about an unknown device", n)
	}
	e.assertUnchanged(before)
}
