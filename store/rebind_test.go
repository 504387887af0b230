package store

import (
	"strconv"
	"testing"
)

func TestRebind(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"SELECT 1", "SELECT 1"},
		{"SELECT a FROM t WHERE x = ? AND y IN (?, ?)", "SELECT a FROM t WHERE x = $1 AND y IN ($2, $3)"},
		{"SELECT '?', \"a?\" FROM t WHERE x = ?", "SELECT '?', \"a?\" FROM t WHERE x = $1"},
		{"SELECT 'it''s ?' WHERE a LIKE ? ESCAPE '\\'", "SELECT 'it''s ?' WHERE a LIKE $1 ESCAPE '\\'"},
		{"SELECT ? -- why?\n, ?", "SELECT $1 -- why?\n, $2"},
		{"SELECT /* a ? b */ ?", "SELECT /* a ? b */ $1"},
		{"SELECT c.value->>'id' = ?", "SELECT c.value->>'id' = $1"},
		{"SELECT 'unclosed ?", "SELECT 'unclosed ?"},
	} {
		if got := rebind(c.in); got != c.want {
			t.Errorf("rebind(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestRebindCacheIsBounded(t *testing.T) {
	for i := range rebindCacheMax + 10 {
		rebind("SELECT ? + " + strconv.Itoa(i))
	}
	rebinds.RLock()
	n := len(rebinds.m)
	rebinds.RUnlock()
	if n > rebindCacheMax {
		t.Fatalf("cache holds %d texts, want at most %d", n, rebindCacheMax)
	}
	if got := rebind("SELECT ? + x"); got != "SELECT $1 + x" {
		t.Errorf("past the bound: %q", got)
	}
}
