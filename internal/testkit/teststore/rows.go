package teststore

import (
	"fmt"
	"iter"
	"strings"
	"testing"
)

// Rows is a query's result set, as a *sql.Rows gives it. Tests that read a
// database file on a connection of their own (read-only, as another
// process would) pass their *sql.DB's Query to the helpers below.
type Rows interface {
	Columns() ([]string, error)
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close() error
}

// Each runs q through query and yields, for each result row, a scan that
// fills its destinations; any error fails the test. The rows are closed
// when the loop ends.
func Each[R Rows](t testing.TB, query func(string, ...any) (R, error), q string, args ...any) iter.Seq[func(dest ...any)] {
	t.Helper()
	return func(yield func(func(dest ...any)) bool) {
		t.Helper()
		walk(t, query, q, args, func(rows R, scan func(dest ...any)) bool { return yield(scan) })
	}
}

// walk runs q and calls row with each result row until it returns false.
func walk[R Rows](t testing.TB, query func(string, ...any) (R, error), q string, args []any, row func(R, func(dest ...any)) bool) {
	t.Helper()
	rows, err := query(q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	scan := func(dest ...any) {
		t.Helper()
		if err := rows.Scan(dest...); err != nil {
			t.Fatalf("%s: scan: %v", q, err)
		}
	}
	for rows.Next() {
		if !row(rows, scan) {
			return
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// Strings is every row of a one-column query, as text, in order.
func Strings[R Rows](t testing.TB, query func(string, ...any) (R, error), q string, args ...any) []string {
	t.Helper()
	var out []string
	for scan := range Each(t, query, q, args...) {
		var s string
		scan(&s)
		out = append(out, s)
	}
	return out
}

// Dump is every row of q with every column as the driver returns it
// ("column=type:value "), so that tests can compare rows as stored.
func Dump[R Rows](t testing.TB, query func(string, ...any) (R, error), q string, args ...any) []string {
	t.Helper()
	var out []string
	walk(t, query, q, args, func(rows R, scan func(dest ...any)) bool {
		cols, err := rows.Columns()
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		scan(ptrs...)
		var b strings.Builder
		for i, c := range cols {
			fmt.Fprintf(&b, "%s=%T:%q ", c, vals[i], fmt.Sprint(vals[i]))
		}
		out = append(out, b.String())
		return true
	})
	return out
}
