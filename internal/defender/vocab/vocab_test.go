package vocab

import (
	"strings"
	"testing"
)

// Every enum is well formed: names unique ignoring case (lookups ignore
// case), every value has words, and each is found under any casing.
func TestEnumsWellFormed(t *testing.T) {
	for _, e := range Enums {
		if e.Field == "" || len(e.Values()) == 0 {
			t.Fatalf("enum %q has no field or no values", e.Field)
		}
		for i, v := range e.Values() {
			if v.Name == "" || v.Label == "" || strings.TrimSpace(v.Label) != v.Label {
				t.Errorf("%s: value %d %+v lacks a name or words", e.Field, i, v)
			}
			for _, spelling := range []string{v.Name, strings.ToLower(v.Name), strings.ToUpper(v.Name)} {
				if got := e.Index(spelling); got != i {
					t.Errorf("%s.Index(%q) = %d, want %d", e.Field, spelling, got, i)
				}
				if got := e.Canonical(spelling); got != v.Name {
					t.Errorf("%s.Canonical(%q) = %q, want %q", e.Field, spelling, got, v.Name)
				}
				if got := e.Label(spelling); got != v.Label {
					t.Errorf("%s.Label(%q) = %q, want %q", e.Field, spelling, got, v.Label)
				}
				if got := e.Tone(spelling); got != v.Tone {
					t.Errorf("%s.Tone(%q) = %v, want %v", e.Field, spelling, got, v.Tone)
				}
			}
		}
	}
}

// A value vocab does not know keeps its spelling, shows as received and is
// neutral: Defender adds values, and osPlatform is an open set.
func TestUnknownValue(t *testing.T) {
	for _, e := range Enums {
		for _, v := range []string{"Snoozed", "", " Active"} {
			if _, ok := e.Lookup(v); ok {
				t.Errorf("%s.Lookup(%q) found a value", e.Field, v)
			}
			if e.Index(v) != -1 || e.Label(v) != v || e.Canonical(v) != v || e.Tone(v) != Neutral {
				t.Errorf("%s: unknown %q: index %d, label %q, canonical %q, tone %v", e.Field, v, e.Index(v), e.Label(v), e.Canonical(v), e.Tone(v))
			}
		}
	}
}

// The ordered scales run best to worst: the best value is good, the worst
// bad, and no value is better toned than one before it (neutral aside).
func TestScalesRunBestToWorst(t *testing.T) {
	rank := map[Tone]int{Good: 0, Warning: 1, Bad: 2}
	for _, e := range Enums {
		if !e.Ordered {
			continue
		}
		vals := e.Values()
		if vals[0].Tone != Good {
			t.Errorf("%s starts with %q, toned %v", e.Field, vals[0].Name, vals[0].Tone)
		}
		last := -1
		for _, v := range vals {
			r, judged := rank[v.Tone]
			if !judged {
				continue
			}
			if r < last {
				t.Errorf("%s: %q is toned better than a value before it", e.Field, v.Name)
			}
			last = r
		}
	}
}

func TestPick(t *testing.T) {
	got := Platform.Pick("windows11", "MACOS")
	if len(got) != 2 || got[0] != "Windows11" || got[1] != "macOS" {
		t.Errorf("Pick = %q, want Defender's spelling", got)
	}
	for _, n := range CommonPlatforms {
		if Platform.Index(n) < 0 {
			t.Errorf("common platform %q is not a platform", n)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("Pick of an unknown name did not panic")
		}
	}()
	Platform.Pick("Windows95")
}

// Values hands out a copy: a caller cannot change the vocabulary.
func TestValuesIsACopy(t *testing.T) {
	vals := Health.Values()
	vals[0].Label = "changed"
	names := Health.Names()
	names[0] = "changed"
	if Health.Label(HealthActive) != "Active" || Health.Names()[0] != HealthActive {
		t.Error("changing what Values or Names returned changed the enum")
	}
}
