package store

import (
	"math/rand/v2"
	"testing"
	"time"
)

// parseFixedTime reads what formatTime writes as parseTime does, and
// leaves anything else to parseTime (ok false).
func TestParseFixedTimeAgreesWithParseTime(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 8))
	for range 2000 {
		want := time.Unix(r.Int64N(4e9), r.Int64N(1e9)).UTC()
		s := formatTime(want)
		got, ok := parseFixedTime(s)
		gotB, okB := parseFixedTime([]byte(s))
		viaParse, err := parseTime(s)
		if !ok || !okB || err != nil || !got.Equal(want) || got != viaParse || gotB != viaParse {
			t.Fatalf("parseFixedTime(%q) = %v, %v (bytes %v, %v); parseTime %v, %v; want %v", s, got, ok, gotB, okB, viaParse, err, want)
		}
	}
	for _, s := range []string{"", "2026-03-14T01:02:03Z", "2026-03-14T01:02:03.000000000+01:00", "2026-02-30T01:02:03.000000000Z",
		"2026-13-14T01:02:03.000000000Z", "2026-03-14T24:02:03.000000000Z", "2026-03-14T01:02:03.00000000xZ", "2026-03-14 01:02:03.000000000Z"} {
		if got, ok := parseFixedTime(s); ok {
			t.Errorf("parseFixedTime(%q) = %v, want it left to parseTime", s, got)
		}
	}
	// What it leaves, parseTime still reads (another writer's format).
	if got, err := parseTime("2026-03-14T01:02:03+01:00"); err != nil || !got.Equal(time.Date(2026, 3, 14, 0, 2, 3, 0, time.UTC)) {
		t.Errorf("parseTime of an offset = %v, %v", got, err)
	}
}
