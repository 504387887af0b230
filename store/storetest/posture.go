package storetest

import (
	"slices"
	"testing"

	"postern/internal/apperr"
	"postern/internal/audit"
	"postern/internal/model"
)

func testChecks(t *testing.T, open Opener) {
	cases(t, open,
		tcase{"CreateUpdateList", checkSave},
		tcase{"NameInUseIsAConflict", checkConflict},
		tcase{"DeleteTakesItsExceptions", checkDelete},
	)
}

func newCheck(name string) model.PostureCheck {
	return model.PostureCheck{Name: name, Description: "about " + name, DataSource: "defender", Mode: "enforce",
		Enabled: true, WhenUnavailable: "deny", Spec: `{"conditions":[{"kind":"onboarded"}]}`}
}

// saveCheck creates a check or stops the test.
func saveCheck(t *testing.T, s Store, name string) model.PostureCheck {
	t.Helper()
	c, err := s.SavePostureCheck(t.Context(), newCheck(name), "alice", entry(audit.CheckCreated, ""))
	must(t, err, "SavePostureCheck")
	return c
}

func checkSave(t *testing.T, s Store) {
	ctx := t.Context()
	c := saveCheck(t, s, "gamma")
	if c.ID == 0 || c.CreatedBy != "alice" || c.UpdatedBy != "alice" || !recent(s, c.CreatedAt) || !sameTime(c.UpdatedAt, c.CreatedAt) {
		t.Errorf("created %+v", c)
	}
	if e := wantAudit(t, s, audit.CheckCreated, 1); e.Target != "gamma" {
		t.Errorf("creation audited with target %q, want the check's name", e.Target)
	}
	saveCheck(t, s, "alpha")
	saveCheck(t, s, "Beta")
	up := c
	up.Name, up.Mode, up.Enabled, up.WhenUnavailable, up.DataSource = "Gamma 2", "monitor", false, "allow", "device_report"
	up.CreatedBy = "forged"
	got, err := s.SavePostureCheck(ctx, up, "bob", entry(audit.CheckUpdated, ""))
	must(t, err, "SavePostureCheck (update)")
	if got.ID != c.ID || got.UpdatedBy != "bob" {
		t.Errorf("updated %+v", got)
	}
	read, err := s.PostureCheck(ctx, c.ID)
	must(t, err, "PostureCheck")
	want := up
	want.CreatedBy, want.UpdatedBy = "alice", "bob"
	if !sameTime(read.CreatedAt, c.CreatedAt) || read.UpdatedAt.Before(c.UpdatedAt) {
		t.Errorf("times read back as %v, %v; created %v", read.CreatedAt, read.UpdatedAt, c.CreatedAt)
	}
	read.CreatedAt, read.UpdatedAt, want.CreatedAt, want.UpdatedAt = c.CreatedAt, c.CreatedAt, c.CreatedAt, c.CreatedAt
	if read != want {
		t.Errorf("check read back as\n%+v\nwant\n%+v", read, want)
	}
	wantAudit(t, s, audit.CheckUpdated, 1)
	all, err := s.PostureChecks(ctx)
	must(t, err, "PostureChecks")
	var names []string
	for _, c := range all {
		names = append(names, c.Name)
	}
	if !slices.Equal(names, []string{"alpha", "Beta", "Gamma 2"}) {
		t.Errorf("PostureChecks = %q, want by name whatever the case", names)
	}
	_, err = s.PostureCheck(ctx, c.ID+100)
	wantKind(t, err, apperr.NotFound, "PostureCheck of an unknown id")
	missing := newCheck("nowhere")
	missing.ID = c.ID + 100
	_, err = s.SavePostureCheck(ctx, missing, "bob", entry(audit.CheckUpdated, ""))
	wantKind(t, err, apperr.NotFound, "SavePostureCheck of an unknown id")
	wantAudit(t, s, audit.CheckUpdated, 1)
}

func checkConflict(t *testing.T, s Store) {
	ctx := t.Context()
	saveCheck(t, s, "Disk encryption")
	other := saveCheck(t, s, "Firewall")
	_, err := s.SavePostureCheck(ctx, newCheck("DISK ENCRYPTION"), "alice", entry(audit.CheckCreated, ""))
	wantKind(t, err, apperr.Conflict, "creating a check under a name in use (another case)")
	other.Name = "disk encryption"
	_, err = s.SavePostureCheck(ctx, other, "alice", entry(audit.CheckUpdated, ""))
	wantKind(t, err, apperr.Conflict, "renaming a check to a name in use")
	wantAudit(t, s, audit.CheckCreated, 2)
	wantAudit(t, s, audit.CheckUpdated, 0)
	if got, err := s.PostureCheck(ctx, other.ID); err != nil || got.Name != "Firewall" {
		t.Errorf("after the refused rename: %+v, %v", got, err)
	}
}

func checkDelete(t *testing.T, s Store) {
	ctx := t.Context()
	c := saveCheck(t, s, "Firewall")
	keep := saveCheck(t, s, "Antivirus")
	for _, id := range []int64{c.ID, keep.ID, 0} {
		x := model.Exception{DeviceID: "dev-1", CheckID: id, Reason: "travel", ExpiresAt: at(23, 0), CreatedBy: "alice"}
		_, err := s.CreateException(ctx, x, entry(audit.ExceptionCreated, "dev-1"))
		must(t, err, "CreateException")
	}
	h := model.HistoryEntry{DeviceID: "dev-1", CheckID: c.ID, CheckName: "Firewall", At: at(3, 0), From: "pass", To: "fail"}
	_, err := s.AppendHistory(ctx, model.Cause{Kind: model.CauseSyncRun, Label: "Sync run 1"}, []model.HistoryEntry{h}, audit.Entry{})
	must(t, err, "AppendHistory")

	got, err := s.DeletePostureCheck(ctx, c.ID, entry(audit.CheckDeleted, ""))
	must(t, err, "DeletePostureCheck")
	if got.ID != c.ID || got.Name != "Firewall" {
		t.Errorf("DeletePostureCheck returned %+v", got)
	}
	if e := wantAudit(t, s, audit.CheckDeleted, 1); e.Target != "Firewall" {
		t.Errorf("deletion audited with target %q", e.Target)
	}
	_, err = s.PostureCheck(ctx, c.ID)
	wantKind(t, err, apperr.NotFound, "PostureCheck after its deletion")
	xs, err := s.Exceptions(ctx, model.ExceptionFilter{DeviceID: "dev-1"})
	must(t, err, "Exceptions")
	if len(xs) != 2 || xs[0].CheckID != 0 || xs[1].CheckID != keep.ID {
		t.Errorf("exceptions after the deletion: %+v, want those of other checks and of every check", xs)
	}
	if hs, err := s.History(ctx, "dev-1", 10); err != nil || len(hs) != 1 {
		t.Errorf("history after the deletion: %+v, %v; want it kept", hs, err)
	}
	_, err = s.DeletePostureCheck(ctx, c.ID, entry(audit.CheckDeleted, ""))
	wantKind(t, err, apperr.NotFound, "deleting a deleted check")
	wantAudit(t, s, audit.CheckDeleted, 1)
}
