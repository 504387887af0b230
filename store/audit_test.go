package store_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"postern/internal/audit"
	"postern/store"
)

func ptr(s string) *string { return &s }

func appendAll(t *testing.T, s *store.Store, entries ...audit.Entry) {
	t.Helper()
	for _, e := range entries {
		if err := s.AppendAudit(context.Background(), e); err != nil {
			t.Fatalf("AppendAudit(%+v): %v", e, err)
		}
	}
}

func actions(es []audit.Entry) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.Action
	}
	return out
}

func TestAuditAppendAndListNewestFirst(t *testing.T) {
	engines(t, func(t *testing.T, open opener) {
		ctx := context.Background()
		clock := newFakeClock(time.Date(2025, 6, 1, 9, 0, 0, 0, time.FixedZone("CEST", 2*3600)))
		s := open(t, store.Options{Now: clock.Now})

		explicit := time.Date(2020, 1, 2, 3, 4, 5, 6, time.UTC)
		appendAll(t, s, audit.Entry{Actor: "alice", SourceIP: "192.0.2.1", Action: "first", Target: "t1", Outcome: audit.Success, Detail: "d1"})
		clock.Advance(time.Minute)
		appendAll(t, s, audit.Entry{Actor: "bob", Action: "second", Outcome: audit.Failure})
		clock.Advance(time.Minute)
		appendAll(t, s, audit.Entry{At: explicit, Actor: "carol", Action: "third", Outcome: audit.Denied})

		got, total, err := s.AuditEntries(ctx, audit.Filter{})
		if err != nil {
			t.Fatalf("AuditEntries: %v", err)
		}
		if total != 3 || len(got) != 3 {
			t.Fatalf("AuditEntries = %d entries, total %d; want 3, 3", len(got), total)
		}
		if a := strings.Join(actions(got), ","); a != "third,second,first" {
			t.Errorf("order = %s, want third,second,first (newest first)", a)
		}
		start := time.Date(2025, 6, 1, 7, 0, 0, 0, time.UTC)
		wantAt := []time.Time{explicit, start.Add(time.Minute), start}
		for i, e := range got {
			if !e.At.Equal(wantAt[i]) {
				t.Errorf("%s: At = %v, want %v (from the injected clock unless set)", e.Action, e.At, wantAt[i])
			}
			if e.At.Location() != time.UTC {
				t.Errorf("%s: At location = %v, want UTC", e.Action, e.At.Location())
			}
		}
		first := got[2]
		want := audit.Entry{ID: first.ID, At: start, Actor: "alice", SourceIP: "192.0.2.1", Action: "first", Target: "t1", Outcome: audit.Success, Detail: "d1"}
		if first != want {
			t.Errorf("first entry = %+v, want %+v", first, want)
		}
		if !(got[0].ID > got[1].ID && got[1].ID > got[2].ID) {
			t.Errorf("ids = %d,%d,%d; want descending", got[0].ID, got[1].ID, got[2].ID)
		}
	})
}

func TestAuditRejectsUnknownOutcome(t *testing.T) {
	engines(t, func(t *testing.T, open opener) {
		s := open(t, store.Options{})
		err := s.AppendAudit(context.Background(), audit.Entry{Actor: "a", Action: "x", Outcome: "maybe"})
		if err == nil {
			t.Error("AppendAudit with outcome \"maybe\" succeeded, want the CHECK constraint to refuse it")
		}
	})
}

func TestAuditFilters(t *testing.T) {
	engines(t, func(t *testing.T, open opener) {
		ctx := context.Background()
		s := open(t, store.Options{})
		appendAll(t, s,
			audit.Entry{Actor: "alice", Action: "auth.login", Outcome: audit.Success},
			audit.Entry{Actor: "bob", Action: "auth.login", Outcome: audit.Failure},
			audit.Entry{Actor: "alice", Action: "auth.logout", Outcome: audit.Success},
			audit.Entry{Actor: "alice", Action: "authXlogin", Outcome: audit.Success},
			audit.Entry{Actor: "alice", Action: "auth_login", Outcome: audit.Success},
			audit.Entry{Actor: "alice", Action: "auth%done", Outcome: audit.Success},
			audit.Entry{Actor: "alice", Action: `auth\x`, Outcome: audit.Success},
			audit.Entry{Actor: "system", Action: "sync.run", Outcome: audit.Denied},
		)
		for _, tc := range []struct {
			name string
			f    audit.Filter
			want string // actions, newest first
		}{
			{"no filter", audit.Filter{}, `sync.run,auth\x,auth%done,auth_login,authXlogin,auth.logout,auth.login,auth.login`},
			{"empty action is no filter", audit.Filter{Action: ptr("")}, `sync.run,auth\x,auth%done,auth_login,authXlogin,auth.logout,auth.login,auth.login`},
			{"prefix auth.", audit.Filter{Action: ptr("auth.")}, "auth.logout,auth.login,auth.login"},
			{"prefix auth.login", audit.Filter{Action: ptr("auth.login")}, "auth.login,auth.login"},
			{"exact action", audit.Filter{Action: ptr("sync.run")}, "sync.run"},
			{"underscore is literal", audit.Filter{Action: ptr("auth_")}, "auth_login"},
			{"percent is literal", audit.Filter{Action: ptr("auth%")}, "auth%done"},
			{"lone percent matches nothing", audit.Filter{Action: ptr("%")}, ""},
			{"lone underscore matches nothing", audit.Filter{Action: ptr("_")}, ""},
			{"backslash is literal", audit.Filter{Action: ptr(`auth\`)}, `auth\x`},
			{"no match", audit.Filter{Action: ptr("zzz")}, ""},
			{"outcome failure", audit.Filter{Outcome: ptr(audit.Failure)}, "auth.login"},
			{"outcome denied", audit.Filter{Outcome: ptr(audit.Denied)}, "sync.run"},
			{"actor bob", audit.Filter{Actor: ptr("bob")}, "auth.login"},
			{"actor is case-insensitive", audit.Filter{Actor: ptr("BOB")}, "auth.login"},
			{"actor is exact, not prefix", audit.Filter{Actor: ptr("ali")}, ""},
			{"combined", audit.Filter{Action: ptr("auth."), Actor: ptr("alice"), Outcome: ptr(audit.Success)}, "auth.logout,auth.login"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				got, total, err := s.AuditEntries(ctx, tc.f)
				if err != nil {
					t.Fatalf("AuditEntries: %v", err)
				}
				if a := strings.Join(actions(got), ","); a != tc.want {
					t.Errorf("actions = %q, want %q", a, tc.want)
				}
				if total != len(got) {
					t.Errorf("total = %d, want %d", total, len(got))
				}
			})
		}
	})
}

func TestAuditLimitOffset(t *testing.T) {
	engines(t, func(t *testing.T, open opener) {
		ctx := context.Background()
		s := open(t, store.Options{})
		for i := range 25 {
			appendAll(t, s, audit.Entry{Actor: "a", Action: fmt.Sprintf("a.%02d", i), Outcome: audit.Success})
		}
		for _, tc := range []struct {
			limit, offset int
			first, last   string
			n             int
		}{
			{10, 0, "a.24", "a.15", 10},
			{10, 10, "a.14", "a.05", 10},
			{10, 20, "a.04", "a.00", 5},
			{10, 30, "", "", 0},
			{0, 0, "a.24", "a.00", 25}, // no limit
			{0, 5, "a.19", "a.00", 20}, // offset without limit
			{-1, 0, "a.24", "a.00", 25},
		} {
			t.Run(fmt.Sprintf("limit=%d,offset=%d", tc.limit, tc.offset), func(t *testing.T) {
				got, total, err := s.AuditEntries(ctx, audit.Filter{Limit: tc.limit, Offset: tc.offset})
				if err != nil {
					t.Fatalf("AuditEntries: %v", err)
				}
				if total != 25 {
					t.Errorf("total = %d, want 25 (independent of the page)", total)
				}
				if len(got) != tc.n {
					t.Fatalf("len = %d, want %d", len(got), tc.n)
				}
				if tc.n > 0 && (got[0].Action != tc.first || got[len(got)-1].Action != tc.last) {
					t.Errorf("page = %s..%s, want %s..%s", got[0].Action, got[len(got)-1].Action, tc.first, tc.last)
				}
			})
		}
	})
}

func TestAuditLogIsAppendOnly(t *testing.T) {
	engines(t, func(t *testing.T, open opener) {
		s := open(t, store.Options{})
		appendAll(t, s, audit.Entry{Actor: "alice", Action: "auth.login", Outcome: audit.Success, Detail: "original"})
		for _, q := range []string{
			"UPDATE audit_log SET detail = 'tampered'",
			"UPDATE audit_log SET actor = 'mallory' WHERE id = 1",
			"DELETE FROM audit_log",
			"DELETE FROM audit_log WHERE id = 1",
			`INSERT INTO audit_log (id, at, actor, action, outcome) VALUES (1, '2025-01-01T00:00:00.000000000Z', 'm', 'x', 'success')
			ON CONFLICT (id) DO UPDATE SET detail = 'tampered'`,
		} {
			err := execTx(t, s, q)
			if err == nil {
				t.Errorf("%s: succeeded, want the trigger to refuse it", q)
				continue
			}
			if !strings.Contains(err.Error(), "append-only") {
				t.Errorf("%s: %v, want the append-only trigger error", q, err)
			}
		}
		got, total, err := s.AuditEntries(context.Background(), audit.Filter{})
		if err != nil || total != 1 || got[0].Detail != "original" || got[0].Actor != "alice" {
			t.Errorf("after refused changes: %+v, total %d, err %v; want the original row", got, total, err)
		}
	})
}

// Regression: INSERT OR REPLACE deletes the conflicting row without firing the
// delete trigger (SQLite fires delete triggers on REPLACE only when
// recursive_triggers is on), so an existing audit row can be overwritten.
func TestAuditLogRefusesReplace(t *testing.T) {
	s := openTemp(t, store.Options{})
	appendAll(t, s, audit.Entry{Actor: "alice", Action: "auth.login", Outcome: audit.Success, Detail: "original"})
	got, _, err := s.AuditEntries(context.Background(), audit.Filter{})
	if err != nil || len(got) != 1 {
		t.Fatalf("AuditEntries = %v, %v", got, err)
	}
	id := got[0].ID
	err = execTx(t, s, `INSERT OR REPLACE INTO audit_log (id, at, actor, action, outcome, detail)
		VALUES (?, '2025-01-01T00:00:00.000000000Z', 'mallory', 'auth.login', 'success', 'tampered')`, id)
	got, _, _ = s.AuditEntries(context.Background(), audit.Filter{})
	if err == nil || len(got) != 1 || got[0].Detail != "original" {
		t.Errorf("INSERT OR REPLACE on audit row %d: err = %v, row now %+v; want it refused and the row unchanged", id, err, got)
	}
}
