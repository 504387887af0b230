package policy_test

import (
	"context"
	"io"
	"log/slog"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
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
	return newServiceAt(t, nil)
}

// newServiceAt is newService on a clock (nil: time.Now), with Defender
// disabled.
func newServiceAt(t *testing.T, now func() time.Time) (*policy.Service, *policy.Engine, *store.Store) {
	t.Helper()
	return newServiceWith(t, now, false)
}

// newServiceWith is newServiceAt with Defender enabled or not.
func newServiceWith(t *testing.T, now func() time.Time, defender bool) (*policy.Service, *policy.Engine, *store.Store) {
	t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "postern.db"), store.Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	enabled := func(context.Context) (bool, error) { return defender, nil }
	e := policy.New(st, &fleet.Holder{}, enabled, time.Hour, log, now)
	if err := e.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
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
			if _, err := svc.CreateException(ctx, policy.ExceptionInput{DeviceID: "d", Reason: "r", ExpiresOn: "2099-01-01"}); !apperr.Is(err, apperr.Forbidden) {
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
	_, err := svc.CreateException(ctx, policy.ExceptionInput{DeviceID: "nope", Reason: "r", ExpiresOn: time.Now().AddDate(0, 0, 7).Format(time.DateOnly)})
	if !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("err = %v, want not found", err)
	}
}

// auditAfter lists the audit rows written after row id, oldest first.
func auditAfter(t *testing.T, st *store.Store, id int64) []audit.Entry {
	t.Helper()
	all, _, err := st.AuditEntries(context.Background(), audit.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	var out []audit.Entry
	for i := len(all) - 1; i >= 0; i-- {
		if all[i].ID > id {
			out = append(out, all[i])
		}
	}
	return out
}

func lastAuditID(t *testing.T, st *store.Store) int64 {
	t.Helper()
	e, _, err := st.AuditEntries(context.Background(), audit.Filter{Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(e) == 0 {
		return 0
	}
	return e[0].ID
}

// wantRefusal asks for exactly one row after id: a failure of action on
// target by owner, with detail.
func wantRefusal(t *testing.T, st *store.Store, id int64, action, target, detail string) {
	t.Helper()
	rows := auditAfter(t, st, id)
	if len(rows) != 1 {
		t.Fatalf("audit rows after the refusal = %+v, want one", rows)
	}
	got := rows[0]
	if got.Action != action || got.Target != target || got.Outcome != audit.Failure || got.Detail != detail ||
		got.Actor != owner.Email || got.SourceIP != owner.IP {
		t.Errorf("refusal row = %+v, want %s of %q failed by %s from %s, detail %q", got, action, target, owner.Email, owner.IP, detail)
	}
}

// A check the service refuses (the parser's problems, a Defender check
// while Defender is disabled, a taken name) is audited as a failure naming
// the fields, answers with each field's message, and changes nothing.
func TestRefusedCheckSavesAreAudited(t *testing.T) {
	svc, e, st := newService(t)
	ctx := actor.NewContext(context.Background(), owner)
	kept, err := svc.SaveCheck(ctx, reportCheck("Firewall on"))
	if err != nil {
		t.Fatal(err)
	}
	other, err := svc.SaveCheck(ctx, reportCheck("Disk encrypted"))
	if err != nil {
		t.Fatal(err)
	}
	parsed := reportCheck("Bad build")
	parsed.Problems = map[string]string{"min_os_build": "A minimum OS build is a whole number, such as 22631."}
	defender := reportCheck("Low risk")
	defender.Source, defender.Spec = posture.SourceDefender, posture.Spec{MaxRisk: "Low"}
	both := defender
	both.Name, both.Problems = "", map[string]string{"name": "Name the check, e.g. “Low risk only”."}
	taken := reportCheck("Firewall on")
	renamed := reportCheck("Firewall on")
	renamed.ID = other.ID
	for _, tc := range []struct {
		name   string
		in     policy.CheckInput
		action string
		want   map[string]string
	}{
		{"parser's problems", parsed, audit.CheckCreated, parsed.Problems},
		{"Defender disabled", defender, audit.CheckCreated, map[string]string{"source": "Microsoft Defender is disabled. Enable it in Settings → Integrations, or choose Device report."}},
		{"both", both, audit.CheckCreated, map[string]string{"name": both.Problems["name"], "source": "Microsoft Defender is disabled. Enable it in Settings → Integrations, or choose Device report."}},
		{"taken name", taken, audit.CheckCreated, map[string]string{"name": "Another check already has this name."}},
		{"renamed to a taken name", renamed, audit.CheckUpdated, map[string]string{"name": "Another check already has this name."}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := lastAuditID(t, st)
			_, err := svc.SaveCheck(ctx, tc.in)
			if !apperr.Is(err, apperr.Invalid) || !maps.Equal(apperr.FieldsOf(err), tc.want) {
				t.Fatalf("err = %v with fields %v, want invalid with %v", err, apperr.FieldsOf(err), tc.want)
			}
			wantRefusal(t, st, n, tc.action, tc.in.Name, "refused: "+strings.Join(slices.Sorted(maps.Keys(tc.want)), ", "))
		})
	}
	checks, err := st.PostureChecks(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(checks) != 2 || checks[0].ID != kept.ID && checks[1].ID != kept.ID || len(e.Checks()) != 2 {
		t.Errorf("checks after refusals = %+v (engine %d), want the two saved", checks, len(e.Checks()))
	}
	for _, c := range checks {
		if c.ID == other.ID && c.Name != "Disk encrypted" {
			t.Errorf("refused rename changed the check: %+v", c)
		}
	}
}

// Deleting a check that is not there is NotFound, audited with its id.
func TestDeleteUnknownCheckIsAudited(t *testing.T) {
	svc, _, st := newService(t)
	ctx := actor.NewContext(context.Background(), owner)
	n := lastAuditID(t, st)
	if _, err := svc.DeleteCheck(ctx, 4242); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("err = %v, want not found", err)
	}
	wantRefusal(t, st, n, audit.CheckDeleted, "4242", "Posture check was not found.")
}

// syncDevice stores one device as a sync run would and returns its id.
func syncDevice(t *testing.T, st *store.Store) string {
	t.Helper()
	ctx := context.Background()
	id := strings.Repeat("ab", 20)
	d := model.Device{ID: id, Host: "pc-01.contoso.com", OSPlatform: "Windows11", HealthStatus: "Active",
		OnboardingStatus: "Onboarded", Tags: []string{}, Raw: []byte(`{"id":"` + id + `"}`), ContentHash: []byte("v1")}
	run, err := st.StartRun(ctx, "defender", "manual")
	if err != nil {
		t.Fatal(err)
	}
	if err := st.StageDevices(ctx, run.ID, []model.Device{d}); err != nil {
		t.Fatal(err)
	}
	run.Outcome, run.Seen, run.Pages = model.RunSuccess, 1, 1
	if _, err := st.FinishRun(ctx, run, audit.Entry{Actor: "system", Action: audit.SyncRun, Outcome: audit.Success}); err != nil {
		t.Fatal(err)
	}
	return id
}

// An exception the service refuses (an unknown device, each rule of the
// form) is audited as a failure on the device and stores nothing; the
// messages are the form's.
func TestRefusedExceptionsAreAudited(t *testing.T) {
	now := time.Date(2026, 12, 5, 15, 30, 0, 0, time.UTC)
	svc, _, st := newServiceAt(t, func() time.Time { return now })
	ctx := actor.NewContext(context.Background(), owner)
	device := syncDevice(t, st)
	check, err := svc.SaveCheck(ctx, reportCheck("Firewall on"))
	if err != nil {
		t.Fatal(err)
	}

	n := lastAuditID(t, st)
	if _, err := svc.CreateException(ctx, policy.ExceptionInput{DeviceID: "nope", Reason: "CHG-1", ExpiresOn: "2026-12-12"}); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("unknown device: err = %v, want not found", err)
	}
	wantRefusal(t, st, n, audit.ExceptionCreated, "nope", "Device was not found.")

	good := policy.ExceptionInput{DeviceID: device, CheckID: strconv.FormatInt(check.ID, 10), Reason: "CHG-1", ExpiresOn: "2026-12-12"}
	for _, tc := range []struct {
		name        string
		edit        func(*policy.ExceptionInput)
		field, want string
	}{
		{"no reason", func(in *policy.ExceptionInput) { in.Reason = "  " }, "reason", "Say why this device may pass, e.g. the ticket of the fix under way."},
		{"long reason", func(in *policy.ExceptionInput) { in.Reason = strings.Repeat("é", 501) }, "reason", "Use at most 500 characters."},
		{"no date", func(in *policy.ExceptionInput) { in.ExpiresOn = "" }, "expires_on", "Choose when the exception ends."},
		{"not a date", func(in *policy.ExceptionInput) { in.ExpiresOn = "12/12/2026" }, "expires_on", "Use a date such as 2027-01-31."},
		{"today", func(in *policy.ExceptionInput) { in.ExpiresOn = "2026-12-05" }, "expires_on", "Choose a date after today."},
		{"over a year", func(in *policy.ExceptionInput) { in.ExpiresOn = "2027-12-07" }, "expires_on", "An exception can last at most one year."},
		{"gone check", func(in *policy.ExceptionInput) { in.CheckID = "9999" }, "check_id", "That check no longer exists."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := good
			tc.edit(&in)
			n := lastAuditID(t, st)
			_, err := svc.CreateException(ctx, in)
			if got := apperr.FieldsOf(err); !apperr.Is(err, apperr.Invalid) || len(got) != 1 || got[tc.field] != tc.want {
				t.Fatalf("err = %v with fields %v, want %s: %q", err, got, tc.field, tc.want)
			}
			wantRefusal(t, st, n, audit.ExceptionCreated, device, "refused: "+tc.field)
		})
	}
	if xs, _ := st.Exceptions(context.Background(), model.ExceptionFilter{}); len(xs) != 0 {
		t.Fatalf("refused exceptions stored %+v", xs)
	}

	// The limits themselves are allowed: a year and a day from today, 500
	// characters; the exception lasts through the end of its day.
	good.ExpiresOn, good.Reason = "2027-12-06", strings.Repeat("é", 500)
	x, err := svc.CreateException(ctx, good)
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2027, 12, 6, 23, 59, 59, 0, time.UTC); !x.ExpiresAt.Equal(want) || x.CheckID != check.ID || x.CreatedBy != owner.Email {
		t.Errorf("exception = %+v, want check %d until %v by %s", x, check.ID, want, owner.Email)
	}
}

// Revoking an exception that is not there, already revoked or of another
// device is NotFound, audited on the device in the request.
func TestRefusedRevocationsAreAudited(t *testing.T) {
	svc, _, st := newService(t)
	ctx := actor.NewContext(context.Background(), owner)
	device := syncDevice(t, st)
	x, err := svc.CreateException(ctx, policy.ExceptionInput{DeviceID: device, Reason: "CHG-2", ExpiresOn: time.Now().AddDate(0, 0, 7).Format(time.DateOnly)})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		device string
		id     int64
	}{
		{"unknown id", device, x.ID + 100},
		{"another device's", "other-device", x.ID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := lastAuditID(t, st)
			if err := svc.RevokeException(ctx, tc.device, tc.id); !apperr.Is(err, apperr.NotFound) {
				t.Fatalf("err = %v, want not found", err)
			}
			wantRefusal(t, st, n, audit.ExceptionRevoked, tc.device, "Exception was not found.")
		})
	}
	if xs, _ := st.Exceptions(context.Background(), model.ExceptionFilter{}); len(xs) != 1 || xs[0].RevokedAt != nil {
		t.Fatalf("exceptions after refused revocations = %+v", xs)
	}
	if err := svc.RevokeException(ctx, device, x.ID); err != nil {
		t.Fatal(err)
	}
	n := lastAuditID(t, st)
	if err := svc.RevokeException(ctx, device, x.ID); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("second revoke: err = %v, want not found", err)
	}
	wantRefusal(t, st, n, audit.ExceptionRevoked, device, "Exception was not found.")
}
