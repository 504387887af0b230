package audit

import (
	"slices"
	"strings"
	"testing"
)

// Every action is named once and has one category; the categories the
// filter offers split the actions between them, admin actions being all
// the others (so that an action added later still shows somewhere).
func TestCategoriesSplitTheActions(t *testing.T) {
	seen := map[string]bool{}
	for _, a := range Actions {
		if seen[a] {
			t.Errorf("action %q listed twice", a)
		}
		seen[a] = true
		if !strings.Contains(a, ".") {
			t.Errorf("action %q has no resource prefix", a)
		}
	}
	for a := range categoryOf {
		if !seen[a] {
			t.Errorf("categoryOf names %q, which is not in Actions", a)
		}
	}
	byCat := map[string][]string{}
	for _, c := range Categories {
		if c.Label == "" {
			t.Errorf("category %q has no label", c.Key)
		}
		list, except := ActionsIn(c.Key)
		if except != (c.Key == CategoryAdmin) {
			t.Errorf("ActionsIn(%q) except = %v", c.Key, except)
		}
		for _, a := range Actions {
			if in := slices.Contains(list, a) != except; in {
				byCat[c.Key] = append(byCat[c.Key], a)
				if got := CategoryOf(a); got != c.Key {
					t.Errorf("CategoryOf(%q) = %q, but ActionsIn(%q) holds it", a, got, c.Key)
				}
			}
		}
	}
	total := 0
	for _, as := range byCat {
		total += len(as)
	}
	if total != len(Actions) {
		t.Errorf("the categories hold %d actions, want each of the %d once: %v", total, len(Actions), byCat)
	}
	for cat, want := range map[string]string{CategorySignIn: Login, CategorySecurity: CSRFRejected, CategorySync: SyncRun,
		CategoryPosture: VerdictsChanged, CategoryAdmin: CheckCreated, CategorySystem: Pruned} {
		if !slices.Contains(byCat[cat], want) {
			t.Errorf("category %q lacks %q: %v", cat, want, byCat[cat])
		}
	}
	if CategoryOf("something.new") != CategoryAdmin {
		t.Error("an unknown action is not an admin action")
	}
}
