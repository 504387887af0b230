package syncer_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"postern/internal/emulator"
	"postern/internal/fleet"
	"postern/internal/integration"
	"postern/internal/model"
	"postern/internal/secret"
	"postern/internal/syncer"
	"postern/internal/testkit/pgtest"
	"postern/internal/testkit/teststore"
	"postern/store"
)

// A follower replica's snapshot, reloaded from PostgreSQL after the
// leader's sync, equals the one the leader published from what it
// fetched, field by field, device by device (antivirus health included),
// and answers the same lookups: after a first sync of a varied fleet
// (discovered records, duplicates, tags with quotes and accents, Entra
// ids, exclusions), after a second that changes and adds machines while
// others leave, and after a third that marks those removed.
func TestFollowerReloadEqualsLeaderSnapshot(t *testing.T) {
	url := pgtest.DatabaseURL(t)
	emu := emulator.New(emulator.Config{Machines: 400, Discovered: 60, Seed: 23})
	emu.Mutate(func(ms []emulator.Machine) []emulator.Machine {
		for i := range ms {
			switch i % 7 {
			case 0:
				ms[i].MachineTags = []string{`with "quote"`, "Zürich", "back\\slash"}
			case 1:
				ms[i].MachineTags = nil
			}
		}
		return ms
	})
	hs := httptest.NewServer(emu)
	t.Cleanup(hs.Close)
	log := slog.New(slog.DiscardHandler)
	kr, _, err := secret.LoadKeyring("", filepath.Join(t.TempDir(), "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	leaderStore := teststore.OpenAt(t, "", store.Options{URL: url, Replica: "leader"})
	svc := integration.New(leaderStore, kr, log, integration.Options{LoginURL: hs.URL, APIURL: hs.URL})
	configureDemo(t, svc)
	leaderFleet := &fleet.Holder{}
	leader := syncer.New(leaderStore, svc, leaderFleet, log, syncer.Options{Interval: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- leader.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	for leader.Status().NextRun.IsZero() {
		time.Sleep(time.Millisecond)
	}

	followerStore := teststore.OpenAt(t, "", store.Options{URL: url, Replica: "follower"})
	followerFleet := &fleet.Holder{}
	follower := syncer.New(followerStore, integration.New(followerStore, kr, log, integration.Options{}), followerFleet, log,
		syncer.Options{Interval: time.Hour, Replica: true})

	for round := range 3 { // the machines that left are marked removed at their second missed run
		if round == 1 {
			emu.Mutate(func(ms []emulator.Machine) []emulator.Machine {
				for i := range ms {
					if i%3 == 0 {
						r := "High"
						ms[i].RiskScore = &r
					}
				}
				n := ms[2]
				n.ID, n.ComputerDNSName = fmt.Sprintf("%040x", 77), "newcomer.contoso.com"
				return append(ms[5:], n) // five machines leave
			})
		}
		if run, _ := benchRun(leader); run.Outcome != model.RunSuccess {
			t.Fatalf("round %d: the leader's sync %s: %s %s", round, run.Outcome, run.ErrorCode, run.Error)
		}
		if err := follower.Reload(context.Background()); err != nil {
			t.Fatalf("round %d: Reload: %v", round, err)
		}
		assertSameSnapshot(t, round, followerFleet.Load(), leaderFleet.Load())
	}
}

// assertSameSnapshot compares a follower's snapshot with the leader's.
func assertSameSnapshot(t *testing.T, round int, got, want *fleet.Snapshot) {
	t.Helper()
	if got.RunID != want.RunID || !got.SyncedAt.Equal(want.SyncedAt) || got.Active != want.Active ||
		got.Discovered != want.Discovered || got.AVUnknown != want.AVUnknown || got.Len() != want.Len() {
		t.Fatalf("round %d: follower run %d at %v, %d devices, %d active, %d discovered, av unknown %q;\nleader run %d at %v, %d devices, %d active, %d discovered, av unknown %q",
			round, got.RunID, got.SyncedAt, got.Len(), got.Active, got.Discovered, got.AVUnknown,
			want.RunID, want.SyncedAt, want.Len(), want.Active, want.Discovered, want.AVUnknown)
	}
	var withAV, withTags, removed int
	for i := range want.Devices {
		g, w := got.Devices[i], want.Devices[i]
		if !reflect.DeepEqual(g, w) {
			t.Errorf("round %d: device %d differs:\nfollower %+v (av %+v)\nleader   %+v (av %+v)", round, i, g, g.AV, w, w.AV)
			continue
		}
		if w.AV != nil {
			withAV++
		}
		if len(w.Tags) > 0 {
			withTags++
		}
		if w.Removed {
			removed++
		}
		for _, q := range []struct{ got, want fleet.Devices }{
			{got.ByHost(w.Host), want.ByHost(w.Host)}, {got.ByAAD(w.AADDeviceID), want.ByAAD(w.AADDeviceID)},
		} {
			if q.got.Len() != q.want.Len() {
				t.Errorf("round %d: device %s: the lookups find %d devices on the follower, %d on the leader", round, w.ID, q.got.Len(), q.want.Len())
			}
		}
	}
	if withAV == 0 || withTags == 0 || (round == 2 && removed == 0) {
		t.Errorf("round %d: the fleet is not varied enough: %d with antivirus health, %d with tags, %d removed", round, withAV, withTags, removed)
	}
	t.Logf("round %d: %d devices equal (%d with antivirus health, %d with tags, %d removed)", round, got.Len(), withAV, withTags, removed)
}
