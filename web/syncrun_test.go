package web

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"postern/internal/defender"
)

// A sync run opens to show what it changed: the devices it added, changed
// and removed.
func TestSyncRunShowsWhatItChanged(t *testing.T) {
	e := newEnv(t)
	e.setup()
	ms := []defender.Machine{testMachine(1, "alpha"), testMachine(2, "bravo"), testMachine(3, "charlie")}
	syncMachines(t, e.store, ms) // run 1: three added
	e.clock.Advance(5 * time.Minute)
	ms[1].HealthStatus = "Inactive"          // bravo changes
	ms = append(ms, testMachine(4, "delta")) // delta is new
	syncMachines(t, e.store, ms[1:])         // run 2: alpha missed once
	e.clock.Advance(5 * time.Minute)
	syncMachines(t, e.store, ms[1:]) // run 3: alpha missed twice: removed
	c := e.signedIn()

	list := parse(t, c.get("/sync-runs"))
	if withAttr(list.Find("a"), "href", "/sync-runs/2").Length() != 1 {
		t.Fatal("the sync runs list does not link to run #2")
	}
	for _, tc := range []struct {
		run                     string
		added, changed, removed []string
	}{
		{"1", []string{"alpha", "charlie"}, nil, nil}, // bravo changed later: listed under run 2
		{"2", []string{"delta"}, []string{"bravo"}, nil},
		{"3", nil, nil, []string{"alpha"}},
	} {
		res := c.get("/sync-runs/" + tc.run)
		wantStatus(t, res, http.StatusOK)
		doc := parse(t, res)
		if h1 := text(doc.Find("h1")); h1 != "Sync run #"+tc.run {
			t.Errorf("run %s headed %q", tc.run, h1)
		}
		for id, want := range map[string][]string{"run-added": tc.added, "run-changed": tc.changed, "run-removed": tc.removed} {
			got := texts(doc.Find(`section[aria-labelledby="` + id + `"] li a`))
			if !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
				t.Errorf("run %s %s lists %q, want %q", tc.run, id, got, want)
			}
		}
	}
	if res := c.get("/sync-runs/99"); res.StatusCode != http.StatusNotFound {
		t.Errorf("an unknown run answers %d", res.StatusCode)
	}
	if res := c.get("/sync-runs/x"); res.StatusCode != http.StatusNotFound || strings.Contains(res.body, "strconv") {
		t.Errorf("a malformed run id answers %d", res.StatusCode)
	}
}
