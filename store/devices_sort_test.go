package store_test

import (
	"context"
	"slices"
	"testing"

	"postern/internal/defender/vocab"
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
		rows, err := r.QueryContext(context.Background(), q+") SELECT COALESCE(x, '') FROM (SELECT x AS "+col+", x FROM v) ORDER BY "+order+", x", args...)
		if err != nil {
			t.Fatalf("%s: %v", tc.key, err)
		}
		var got []string
		for rows.Next() {
			var x string
			if err := rows.Scan(&x); err != nil {
				t.Fatal(err)
			}
			got = append(got, x)
		}
		rows.Close()
		want := append([]string{"", "Severe"}, names...)
		if !slices.Equal(got, want) {
			t.Errorf("sort %s: got %q, want %q", tc.key, got, want)
		}
	}
}
