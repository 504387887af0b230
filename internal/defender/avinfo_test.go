package defender_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"postern/internal/defender"
	"postern/internal/emulator"
)

func TestListAVInfoPagesAndKeepsTheLatestRow(t *testing.T) {
	sec := sentinel("av")
	emu := emulator.New(emulator.Config{ClientSecret: sec, Machines: 120, Seed: 3})
	emu.SetFaults(emulator.Faults{NoRateLimit: true})
	base := startEmulator(t, emu)
	rows := emu.AVRows()
	latest := map[string]emulator.AVRow{}
	older := 0
	for _, r := range rows {
		if old, ok := latest[r.MachineID]; ok {
			older++
			if !r.DataRefreshTimestamp.After(old.DataRefreshTimestamp) {
				continue
			}
		}
		latest[r.MachineID] = r
	}
	if older == 0 {
		t.Fatal("the emulator's report has no machine with two rows: the test proves nothing")
	}
	got, st, err := newClient(t, creds(sec), base, nil).ListAVInfo(context.Background(), defender.ListOptions{PageSize: 25})
	if err != nil {
		t.Fatalf("ListAVInfo: %v", err)
	}
	wantPages := len(rows)/25 + 1
	if st.Pages != wantPages || st.Rows != len(rows) || st.Machines != len(latest) || len(got) != len(latest) {
		t.Errorf("stats %+v, %d machines; want %d pages, %d rows, %d machines", st, len(got), wantPages, len(rows), len(latest))
	}
	byID := make(map[string]defender.AVInfo, len(got))
	for i, g := range got {
		if i > 0 && got[i-1].MachineID >= g.MachineID {
			t.Errorf("rows %d and %d are %q then %q: not in machine id order, once each", i-1, i, got[i-1].MachineID, g.MachineID)
		}
		byID[g.MachineID] = g
	}
	for id, want := range latest {
		g, ok := byID[id]
		switch {
		case !ok:
			t.Errorf("machine %s missing", id)
		case string(g.AVMode) != want.AVMode || string(g.SignatureUpToDate) != want.AVIsSignatureUpToDate ||
			!g.DataRefreshTimestamp.Equal(want.DataRefreshTimestamp):
			t.Errorf("machine %s: mode %q up to date %q refreshed %v; want the latest row: %q %q %v", id, g.AVMode,
				g.SignatureUpToDate, g.DataRefreshTimestamp, want.AVMode, want.AVIsSignatureUpToDate, want.DataRefreshTimestamp)
		}
	}
	if n := emu.Stats().Paths["/api/deviceavinfo"]; n != wantPages {
		t.Errorf("report requests %d, want %d", n, wantPages)
	}
}

func TestListAVInfoFollowsNextLink(t *testing.T) {
	// Without $top the emulator pages by 20 with @odata.nextLink, as the
	// documentation describes; a client that asked $top=10,000 of a
	// larger report gets the same from the real service.
	sec := sentinel("avlink")
	emu := emulator.New(emulator.Config{ClientSecret: sec, Machines: 30, Seed: 3})
	emu.SetFaults(emulator.Faults{NoRateLimit: true, AVInfoPageSize: 10})
	base := startEmulator(t, emu)
	hc := &http.Client{Transport: stripTop{http.DefaultTransport}}
	got, st, err := newClient(t, creds(sec), base, hc).ListAVInfo(context.Background(), defender.ListOptions{})
	if err != nil {
		t.Fatalf("ListAVInfo: %v", err)
	}
	if n := len(emu.AVRows()); st.Rows != n || st.Pages < 3 || len(got) == 0 {
		t.Errorf("stats %+v, want all %d rows over several pages", st, n)
	}
}

// stripTop drops $top/$skip from the first request, so the emulator pages
// with nextLinks.
type stripTop struct{ rt http.RoundTripper }

func (s stripTop) RoundTrip(r *http.Request) (*http.Response, error) {
	if q := r.URL.Query(); q.Get("$skip") == "0" {
		r = r.Clone(r.Context())
		r.URL.RawQuery = ""
	}
	return s.rt.RoundTrip(r)
}

func TestListAVInfoFailureIsAnError(t *testing.T) {
	sec := sentinel("avfail")
	emu := emulator.New(emulator.Config{ClientSecret: sec, Machines: 5, Seed: 3})
	emu.SetFaults(emulator.Faults{NoRateLimit: true, AVInfoStatus: http.StatusForbidden})
	base := startEmulator(t, emu)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got, _, err := newClient(t, creds(sec), base, nil).ListAVInfo(ctx, defender.ListOptions{})
	var de *defender.Error
	if !errors.As(err, &de) || got != nil || de.Message == "" {
		t.Fatalf("ListAVInfo on a 403 = %v, %v; want a defender.Error and no rows", got, err)
	}
	assertNoSecret(t, err, sec)
}
