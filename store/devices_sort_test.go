package store_test

import (
	"slices"
	"testing"

	"postern/internal/defender/vocab"
	"postern/internal/testkit/teststore"
	"postern/store"
)

// The risk and exposure sorts follow vocab's scales (its CASE is built from
// them): every value in a shuffled column comes back best first, and a
// value outside the scale or none at all before them.
func TestDeviceSortFollowsVocab(t *testing.T) {
	s := openTemp(t, store.Options{})
	_, r := s.DBs()
	for _, tc := range []struct {
		key string
		e   *vocab.Enum
	}{{"risk", vocab.Risk}, {"exposure", vocab.Exposure}} {
		order := store.DeviceSortTerm(tc.key)
		names := tc.e.Names()
		shuffled := append([]string{"Severe"}, names...)
		slices.Reverse(shuffled)
		q := "WITH v(x) AS (SELECT NULL"
		args := []any{}
		for _, n := range shuffled {
			q += " UNION ALL SELECT ?"
			args = append(args, n)
		}
		col := map[string]string{"risk": "risk_score", "exposure": "exposure_level"}[tc.key]
		got := teststore.Strings(t, r.Query, q+") SELECT COALESCE(x, '') FROM (SELECT x AS "+col+", x FROM v) ORDER BY "+order+", x", args...)
		want := append([]string{"", "Severe"}, names...)
		if !slices.Equal(got, want) {
			t.Errorf("sort %s: got %q, want %q", tc.key, got, want)
		}
	}
}
