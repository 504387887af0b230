package main

import (
	"os"
	"regexp"
	"strconv"
	"testing"
)

// TestDependencyFloors pins the library versions whose fixes the security
// model relies on (docs/security.md#library-pitfalls): Echo v4.16.0 closes
// the CSRF bypass through MethodOverride (item 18), templ v0.3.1100
// sanitizes URL attributes and refuses strings in event handlers (item 25).
func TestDependencyFloors(t *testing.T) {
	mod, err := os.ReadFile("go.mod")
	if err != nil {
		t.Fatal(err)
	}
	floors := map[string][3]int{
		"github.com/labstack/echo/v4": {4, 16, 0},
		"github.com/a-h/templ":        {0, 3, 1100},
	}
	for path, floor := range floors {
		m := regexp.MustCompile(`(?m)^\s*(?:require\s+)?` + regexp.QuoteMeta(path) + `\s+v(\d+)\.(\d+)\.(\d+)`).FindSubmatch(mod)
		if m == nil {
			t.Errorf("go.mod does not require %s", path)
			continue
		}
		var got [3]int
		for i := range got {
			got[i], _ = strconv.Atoi(string(m[i+1]))
		}
		if versionLess(got, floor) {
			t.Errorf("go.mod requires %s v%d.%d.%d, below the v%d.%d.%d the security model needs", path, got[0], got[1], got[2], floor[0], floor[1], floor[2])
		}
	}
}

func versionLess(a, b [3]int) bool {
	for i := range a {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return false
}
