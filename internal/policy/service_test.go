package policy_test

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"postern/internal/actor"
	"postern/internal/apperr"
	"postern/internal/audit"
	"postern/internal/fleet"
	"postern/internal/model"
	"postern/internal/policy"
	"postern/internal/posture"
	"postern/store"
	"postern/store/storetest"
)

// *store.Store is the store both the service and the engine run on, and so
// is any engine that passes the store conformance suite.
var (
	_ policy.Store       = (*store.Store)(nil)
	_ policy.EngineStore = (*store.Store)(nil)
	_ policy.Store       = storetest.Store(nil)
	_ policy.EngineStore = storetest.Store(nil)
)

func newService(t *testing.T) (*policy.Service, *policy.Engine, *store.Store) {
	t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "postern.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	enabled := func(context.Context) (bool, error) { return false, nil }
	e := policy.New(st, &fleet.Holder{}, enabled, time.Hour, log, nil)
	return policy.NewService(st, e, log), e, st
}

var owner = actor.Actor{ID: 1, Email: "ada@example.com", Role: actor.Owner, IP: "192.0.2.4"}

func reportCheck(name string) policy.CheckInput {
	return policy.CheckInput{Name: name, Source: posture.SourceDeviceReport, Mode: posture.ModeEnforce,
		WhenUnavailable: posture.UnavailableDeny, Enabled: true, Spec: posture.Spec{ReportFirewall: true}}
}

// A check saved through the service is stored, audited by the actor from
// their address, and in force at once.
func TestSaveCheckAuditsAndReloads(t *testing.T) {
	svc, e, st := newService(t)
	ctx := actor.NewContext(context.Background(), owner)
	c, err := svc.SaveCheck(ctx, reportCheck("Firewall on"))
	if err != nil {
		t.Fatal(err)
	}
	if got := e.Checks(); len(got) != 1 || got[0].ID != c.ID {
		t.Fatalf("engine checks after save = %+v", got)
	}
	in := reportCheck("Firewall always on")
	in.ID = c.ID
	if _, err := svc.SaveCheck(ctx, in); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.DeleteCheck(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	if got := e.Checks(); len(got) != 0 {
		t.Fatalf("engine checks after delete = %+v", got)
	}
	entries, _, err := st.AuditEntries(context.Background(), audit.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	want := []struct{ action, target string }{
		{audit.CheckDeleted, "Firewall always on"}, {audit.CheckUpdated, "Firewall always on"}, {audit.CheckCreated, "Firewall on"},
	}
	if len(entries) != len(want) {
		t.Fatalf("audit entries = %+v", entries)
	}
	for i, w := range want {
		got := entries[i]
		if got.Action != w.action || got.Target != w.target || got.Actor != owner.Email || got.SourceIP != owner.IP || got.Outcome != audit.Success {
			t.Errorf("entry %d = %+v, want %s on %q by %s from %s", i, got, w.action, w.target, owner.Email, owner.IP)
		}
	}
}

// Without a signed-in admin in the context every change is Forbidden and
// nothing is written.
func TestServiceRefusesWithoutAnAdmin(t *testing.T) {
	svc, _, st := newService(t)
	for name, ctx := range map[string]context.Context{
		"no actor":  context.Background(),
		"anonymous": actor.NewContext(context.Background(), actor.Actor{IP: "192.0.2.9"}),
		"system":    actor.NewContext(context.Background(), actor.Sync),
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := svc.SaveCheck(ctx, reportCheck("x")); !apperr.Is(err, apperr.Forbidden) {
				t.Errorf("SaveCheck err = %v, want forbidden", err)
			}
			if _, err := svc.DeleteCheck(ctx, 1); !apperr.Is(err, apperr.Forbidden) {
				t.Errorf("DeleteCheck err = %v, want forbidden", err)
			}
			if _, err := svc.CreateException(ctx, model.Exception{DeviceID: "d", Reason: "r", ExpiresAt: time.Now().Add(time.Hour)}); !apperr.Is(err, apperr.Forbidden) {
				t.Errorf("CreateException err = %v, want forbidden", err)
			}
			if err := svc.RevokeException(ctx, "d", 1); !apperr.Is(err, apperr.Forbidden) {
				t.Errorf("RevokeException err = %v, want forbidden", err)
			}
		})
	}
	if checks, _ := st.PostureChecks(context.Background()); len(checks) != 0 {
		t.Errorf("refused saves stored %d checks", len(checks))
	}
}

// An exception needs a device Postern knows.
func TestCreateExceptionOfUnknownDevice(t *testing.T) {
	svc, _, _ := newService(t)
	ctx := actor.NewContext(context.Background(), owner)
	_, err := svc.CreateException(ctx, model.Exception{DeviceID: "nope", Reason: "r", ExpiresAt: time.Now().Add(time.Hour)})
	if !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("err = %v, want not found", err)
	}
}
