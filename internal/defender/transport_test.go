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

// apiServer signs in through the emulator and answers the API with api.
func apiServer(t *testing.T, sec string, api http.HandlerFunc) string {
	t.Helper()
	emu := emulator.New(emulator.Config{ClientSecret: sec, Machines: 3, Seed: 3})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/api/") {
			api(w, r)
			return
		}
		emu.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// A call has no deadline as a whole: Microsoft must start answering within
// FirstByte and never pause longer than Idle; a body over MaxBody is an
// error that names the limit.
func TestClientLimits(t *testing.T) {
	limits := defender.Limits{FirstByte: 200 * time.Millisecond, Idle: 200 * time.Millisecond, MaxBody: 1 << 20}
	list := func(c *defender.Client) error {
		_, err := c.ListMachines(context.Background(), defender.ListOptions{PageSize: 10, MaxAttempts: 1},
			func([]defender.Machine) error { return nil })
		return err
	}
	var stop chan struct{} // closed when a subtest ends, before its server closes
	wait := func(d time.Duration) {
		select {
		case <-stop:
		case <-time.After(d):
		}
	}
	fresh := func(t *testing.T) {
		stop = make(chan struct{})
		t.Cleanup(func() { close(stop) })
	}
	t.Run("stalls before the headers", func(t *testing.T) {
		sec := sentinel("stall-headers")
		base := apiServer(t, sec, func(w http.ResponseWriter, r *http.Request) { wait(5 * time.Second) })
		fresh(t)
		start := time.Now()
		err := list(newClient(t, creds(sec), base, nil).WithLimits(limits))
		assertStalled(t, err, start, "no answer within 200ms")
	})
	t.Run("stalls mid-body", func(t *testing.T) {
		sec := sentinel("stall-body")
		base := apiServer(t, sec, func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(`{"value":[{"id":"aaaaaaaa1"},`))
			http.NewResponseController(w).Flush()
			wait(5 * time.Second)
		})
		fresh(t)
		start := time.Now()
		err := list(newClient(t, creds(sec), base, nil).WithLimits(limits))
		assertStalled(t, err, start, "stopped for 200ms mid-way")
	})
	t.Run("a slow page that keeps coming arrives", func(t *testing.T) {
		sec := sentinel("slow-body")
		base := apiServer(t, sec, func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(`{"value":[`))
			for i := 0; i < 8; i++ { // 8 × 80 ms: longer than FirstByte + Idle together
				http.NewResponseController(w).Flush()
				wait(80 * time.Millisecond)
				if i > 0 {
					w.Write([]byte(","))
				}
				w.Write([]byte(`{"id":"aaaaaaaa` + string(rune('0'+i)) + `"}`))
			}
			w.Write([]byte("]}"))
		})
		fresh(t)
		if err := list(newClient(t, creds(sec), base, nil).WithLimits(limits)); err != nil {
			t.Fatalf("a page that kept arriving failed: %v", err)
		}
	})
	t.Run("sends more than the cap", func(t *testing.T) {
		sec := sentinel("too-large")
		base := apiServer(t, sec, func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(`{"value":[{"id":"aaaaaaaa1","computerDnsName":"`))
			w.Write([]byte(strings.Repeat("x", 2<<20)))
			w.Write([]byte(`"}]}`))
		})
		// Only the cap is under test: on a loaded machine, a pause of
		// 200 ms in the 2 MiB would be reported as a stall first.
		capOnly := limits
		capOnly.FirstByte, capOnly.Idle = 10*time.Second, 10*time.Second
		err := list(newClient(t, creds(sec), base, nil).WithLimits(capOnly))
		var de *defender.Error
		if !errors.As(err, &de) || de.Code != "body too large" || !strings.Contains(de.Message, "limit of 1 MiB") ||
			!strings.Contains(de.Message, "--defender-page-size") {
			t.Fatalf("ListMachines = %v, want the size cap named", err)
		}
	})
	if got := defender.DefaultLimits.MaxBody; got != 256<<20 {
		t.Errorf("default cap %d, want 256 MiB", got)
	}
}

func assertStalled(t *testing.T, err error, start time.Time, detail string) {
	t.Helper()
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("took %v, want it bounded by the 200ms limits", took)
	}
	var de *defender.Error
	if !errors.As(err, &de) || de.Reason != defender.Unreachable || !strings.Contains(de.Message, "did not answer in time") {
		t.Fatalf("err = %v, want Unreachable, did not answer in time", err)
	}
	if !strings.Contains(err.Error(), detail) {
		t.Errorf("Error() = %q, want it to say %q", err, detail)
	}
}
