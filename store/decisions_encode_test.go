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

// FuzzAppendDecisionChecks holds the checks column to encoding/json for
// any name, mode, result and reasons, in a check with reasons and one
// without.
func FuzzAppendDecisionChecks(f *testing.F) {
	f.Add(int64(7), "Low risk", "enforce", "fail", "risk \x08 \x0c \x7f \xed\xa0\x80 <&>", "")
	f.Add(int64(-1), "", "", "", "\u2028", "\xff")
	f.Fuzz(func(t *testing.T, id int64, name, mode, result, r1, r2 string) {
		cs := []model.DecisionCheck{{ID: id, Name: name, Mode: mode, Result: result, Reasons: []string{r1, r2}},
			{ID: id + 1, Name: r2, Mode: r1, Result: name}}
		want, err := json.Marshal(cs)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendDecisionChecks(nil, cs); string(got) != string(want) {
			t.Fatalf("encoded\n%q\nwant\n%q", got, want)
		}
	})
}
