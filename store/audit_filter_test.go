package store_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"postern/internal/audit"
	"postern/store"
)

// The filters people use: category (derived from the action names in
// internal/audit), target (any part, any case) and a date range.
func TestAuditCategoryTargetAndDates(t *testing.T) {
	engines(t, func(t *testing.T, open opener) {
		s := open(t, store.Options{})
		day := func(d int) time.Time { return time.Date(2026, 3, d, 12, 0, 0, 0, time.UTC) }
		appendAll(t, s,
			audit.Entry{At: day(1), Actor: "alice", Action: audit.Login, Outcome: audit.Success},
			audit.Entry{At: day(2), Actor: "alice", Action: audit.CheckCreated, Target: "Low risk", Outcome: audit.Success},
			audit.Entry{At: day(3), Actor: "postern (posture)", Action: audit.VerdictsChanged, Target: "Posture check “Low risk” created", Outcome: audit.Success},
			audit.Entry{At: day(4), Actor: "postern (sync)", Action: audit.SyncRun, Target: "Microsoft Defender", Outcome: audit.Failure},
			audit.Entry{At: day(5), Actor: "anonymous", Action: audit.CSRFRejected, Outcome: audit.Denied},
			audit.Entry{At: day(6), Actor: "alice", Action: "future.action", Target: "LAPTOP-7", Outcome: audit.Success},
		)
		for _, tc := range []struct {
			name string
			f    audit.Filter
			want []string
		}{
			{"admin actions, unknown ones included", audit.Filter{Category: audit.CategoryAdmin}, []string{"future.action", audit.CheckCreated}},
			{"sign-ins", audit.Filter{Category: audit.CategorySignIn}, []string{audit.Login}},
			{"security refusals", audit.Filter{Category: audit.CategorySecurity}, []string{audit.CSRFRejected}},
			{"syncs", audit.Filter{Category: audit.CategorySync}, []string{audit.SyncRun}},
			{"posture summaries", audit.Filter{Category: audit.CategoryPosture}, []string{audit.VerdictsChanged}},
			{"target, any part and case", audit.Filter{Target: "low RISK"}, []string{audit.VerdictsChanged, audit.CheckCreated}},
			{"target with a LIKE wildcard", audit.Filter{Target: "%"}, nil},
			{"since", audit.Filter{Since: day(5)}, []string{"future.action", audit.CSRFRejected}},
			{"range", audit.Filter{Since: day(2), Until: day(4)}, []string{audit.VerdictsChanged, audit.CheckCreated}},
			{"category and actor", audit.Filter{Category: audit.CategoryAdmin, Actor: ptr("ALICE")}, []string{"future.action", audit.CheckCreated}},
		} {
			got, total, err := s.AuditEntries(context.Background(), tc.f)
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			if a := actions(got); !slices.Equal(a, tc.want) && !(len(a) == 0 && len(tc.want) == 0) || total != len(tc.want) {
				t.Errorf("%s: %v (total %d), want %v", tc.name, a, total, tc.want)
			}
		}
	})
}
