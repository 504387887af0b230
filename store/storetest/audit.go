package storetest

import (
	"slices"
	"strings"
	"testing"

	"postern/internal/audit"
)

func testAudit(t *testing.T, open Opener) {
	cases(t, open,
		tcase{"AppendStampsAndListsNewestFirst", auditNewestFirst},
		tcase{"Filters", auditFilters},
		tcase{"LimitOffset", auditLimitOffset},
		tcase{"UnknownOutcomeRefused", func(t *testing.T, s Store) {
			if err := s.AppendAudit(t.Context(), audit.Entry{Actor: "a", Action: "x", Outcome: "maybe"}); err == nil {
				t.Error(`AppendAudit with outcome "maybe" succeeded, want it refused`)
			}
		}},
	)
}

func auditNewestFirst(t *testing.T, s Store) {
	ctx := t.Context()
	first := audit.Entry{Actor: "alice@example.com", SourceIP: "192.0.2.1", Action: "auth.login", Target: "alice",
		Outcome: audit.Success, Detail: "from the sign-in page"}
	must(t, s.AppendAudit(ctx, first), "AppendAudit")
	// An entry with its own time keeps it, and is still listed by order of writing.
	must(t, s.AppendAudit(ctx, audit.Entry{At: at(1, 0), Actor: "bob", Action: "auth.logout", Outcome: audit.Failure}), "AppendAudit")
	es, total, err := s.AuditEntries(ctx, audit.Filter{})
	must(t, err, "AuditEntries")
	if total != 2 || len(es) != 2 {
		t.Fatalf("AuditEntries = %d entries, total %d; want 2, 2", len(es), total)
	}
	if es[0].Action != "auth.logout" || es[1].Action != "auth.login" {
		t.Errorf("order %q, %q; want the newest (auth.logout) first", es[0].Action, es[1].Action)
	}
	if !sameTime(es[0].At, at(1, 0)) {
		t.Errorf("given time became %v, want %v", es[0].At, at(1, 0))
	}
	got := es[1]
	if !recent(s, got.At) {
		t.Errorf("stamped time %v, want about %v", got.At, s.Now())
	}
	if got.ID == 0 || got.ID == es[0].ID {
		t.Errorf("ids %d and %d, want distinct non-zero ids", got.ID, es[0].ID)
	}
	got.ID, got.At = 0, first.At
	if got != first {
		t.Errorf("entry read back as %+v, want %+v", got, first)
	}
}

func auditFilters(t *testing.T, s Store) {
	for _, e := range []audit.Entry{
		{Actor: "alice", Action: "auth.login", Outcome: audit.Success},
		{Actor: "bob", Action: "auth.login", Outcome: audit.Failure},
		{Actor: "Alice", Action: "auth.logout", Outcome: audit.Success},
		{Actor: "alice", Action: "authXlogin", Outcome: audit.Success},
		{Actor: "alice", Action: "auth%done", Outcome: audit.Success},
		{Actor: "system", Action: "sync.run", Outcome: audit.Denied},
	} {
		must(t, s.AppendAudit(t.Context(), e), "AppendAudit")
	}
	for _, tc := range []struct {
		name string
		f    audit.Filter
		want string // actions, newest first
	}{
		{"none", audit.Filter{}, "sync.run auth%done authXlogin auth.logout auth.login auth.login"},
		{"empty strings", audit.Filter{Action: ptr(""), Actor: ptr(""), Outcome: ptr("")},
			"sync.run auth%done authXlogin auth.logout auth.login auth.login"},
		{"action prefix", audit.Filter{Action: ptr("auth.")}, "auth.logout auth.login auth.login"},
		{"prefix wildcards are literal", audit.Filter{Action: ptr("auth%")}, "auth%done"},
		{"underscore is literal", audit.Filter{Action: ptr("auth_")}, ""},
		{"actor, any case", audit.Filter{Actor: ptr("ALICE")}, "auth%done authXlogin auth.logout auth.login"},
		{"actor is exact", audit.Filter{Actor: ptr("ali")}, ""},
		{"outcome", audit.Filter{Outcome: ptr(audit.Failure)}, "auth.login"},
		{"all three", audit.Filter{Action: ptr("auth.login"), Actor: ptr("alice"), Outcome: ptr(audit.Success)}, "auth.login"},
	} {
		es, total, err := s.AuditEntries(t.Context(), tc.f)
		must(t, err, "AuditEntries")
		got := strings.Join(actions(es), " ")
		if got != tc.want || total != len(es) {
			t.Errorf("%s: %q (total %d), want %q (total %d)", tc.name, got, total, tc.want, len(strings.Fields(tc.want)))
		}
	}
}

func auditLimitOffset(t *testing.T, s Store) {
	for _, a := range []string{"a.1", "a.2", "a.3", "a.4", "a.5"} {
		must(t, s.AppendAudit(t.Context(), entry(a, "")), "AppendAudit")
	}
	for _, tc := range []struct {
		limit, offset int
		want          []string
	}{
		{2, 0, []string{"a.5", "a.4"}},
		{2, 2, []string{"a.3", "a.2"}},
		{2, 4, []string{"a.1"}},
		{0, 3, []string{"a.2", "a.1"}}, // no limit
		{2, 9, nil},
	} {
		es, total, err := s.AuditEntries(t.Context(), audit.Filter{Limit: tc.limit, Offset: tc.offset})
		must(t, err, "AuditEntries")
		if got := actions(es); !slices.Equal(got, tc.want) || total != 5 {
			t.Errorf("limit %d offset %d: %v total %d, want %v total 5", tc.limit, tc.offset, got, total, tc.want)
		}
	}
}

func actions(es []audit.Entry) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.Action)
	}
	return out
}
