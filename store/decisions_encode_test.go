package store

import (
	"encoding/json"
	"math/rand/v2"
	"testing"

	"postern/internal/model"
)

// The checks column is what encoding/json would write, byte for byte,
// whatever the names and reasons hold, and [] for none, so that rows
// written before and after read back alike.
func TestDecisionChecksMatchEncodingJSON(t *testing.T) {
	words := []string{"", "Low risk", `quote " and \ slash`, "<script>&amp;", "line\nbreak\ttab", "\u2028\u2029",
		"ünïcödé ✓", "\x00\x1f", "invalid \xff utf-8", "risk score High exceeds the allowed Medium"}
	r := rand.New(rand.NewPCG(1, 2))
	word := func() string { return words[r.IntN(len(words))] }
	cases := [][]model.DecisionCheck{nil, {}, {{ID: 1, Name: "A", Mode: "enforce", Result: "fail"}}}
	for range 500 {
		cs := make([]model.DecisionCheck, r.IntN(6))
		for i := range cs {
			cs[i] = model.DecisionCheck{ID: r.Int64N(1<<40) - 1<<20, Name: word(), Mode: word(), Result: word()}
			if n := r.IntN(4); n > 0 {
				cs[i].Reasons = make([]string, n)
				for j := range cs[i].Reasons {
					cs[i].Reasons[j] = word()
				}
			} else if r.IntN(2) == 0 {
				cs[i].Reasons = []string{} // omitted, as nil is
			}
		}
		cases = append(cases, cs)
	}
	for _, cs := range cases {
		v := cs
		if v == nil {
			v = []model.DecisionCheck{}
		}
		want, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendDecisionChecks([]byte("x"), cs); string(got) != "x"+string(want) {
			t.Fatalf("encoded\n%s\nwant\n%s", got[1:], want)
		}
	}
}
