package store

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// snapshotCols is one row of the snapshot's query, column by column,
// whichever engine read it: NULL reads as "", 0, false or the zero time.
// A value that does not parse is kept as the row's error (err).
type snapshotCols interface {
	null(i int) bool
	str(i int) string  // a string of its own (ids, names)
	enum(i int) string // interned: a value many devices share
	num(i int) int64
	flag(i int) bool
	when(i int) (time.Time, error)
	tags(i int) ([]string, error) // a JSON array of strings; nil for none
	err() error
}

// textCols is a row in PostgreSQL's text format (pgx's raw values).
type textCols struct {
	vals [][]byte
	in   *interner
	e    error
}

func (c *textCols) null(i int) bool   { return c.vals[i] == nil }
func (c *textCols) str(i int) string  { return string(c.vals[i]) }
func (c *textCols) enum(i int) string { return c.in.bytes(c.vals[i]) }
func (c *textCols) err() (err error)  { err, c.e = c.e, nil; return err }
func (c *textCols) fail(i int, v []byte) {
	c.e = fmt.Errorf("%w: column %d holds %q", errSnapshotColumn, i, v)
}

func (c *textCols) num(i int) int64 {
	v := c.vals[i]
	if v == nil {
		return 0
	}
	n, err := strconv.ParseInt(string(v), 10, 64)
	if err != nil {
		c.fail(i, v)
	}
	return n
}

func (c *textCols) flag(i int) bool {
	switch v := c.vals[i]; string(v) {
	case "t":
		return true
	case "f", "":
		return false
	default:
		c.fail(i, v)
		return false
	}
}

func (c *textCols) when(i int) (time.Time, error) {
	v := c.vals[i]
	if v == nil {
		return time.Time{}, nil
	}
	if t, ok := parseFixedTime(v); ok {
		return t, nil
	}
	return parseTime(string(v))
}

func (c *textCols) tags(i int) ([]string, error) { return c.in.tagsBytes(c.vals[i]) }

// anyCols is a row scanned through database/sql into any values (SQLite:
// string, int64, []byte or nil), which keeps the driver's own strings.
type anyCols struct {
	vals []any
	in   *interner
	e    error
}

func (c *anyCols) null(i int) bool  { return c.vals[i] == nil }
func (c *anyCols) err() (err error) { err, c.e = c.e, nil; return err }
func (c *anyCols) fail(i int) {
	c.e = fmt.Errorf("%w: column %d holds %T", errSnapshotColumn, i, c.vals[i])
}

func (c *anyCols) str(i int) string {
	switch v := c.vals[i].(type) {
	case string:
		return v
	case []byte:
		return string(v)
	case nil:
		return ""
	}
	c.fail(i)
	return ""
}

func (c *anyCols) enum(i int) string {
	if v, ok := c.vals[i].(string); ok {
		return c.in.string(v)
	}
	return c.str(i)
}

func (c *anyCols) num(i int) int64 {
	switch v := c.vals[i].(type) {
	case int64:
		return v
	case nil:
		return 0
	}
	c.fail(i)
	return 0
}

func (c *anyCols) flag(i int) bool {
	switch v := c.vals[i].(type) {
	case int64:
		return v != 0
	case bool:
		return v
	case nil:
		return false
	}
	c.fail(i)
	return false
}

func (c *anyCols) when(i int) (time.Time, error) {
	v := c.str(i)
	if v == "" {
		return time.Time{}, nil
	}
	if t, ok := parseFixedTime(v); ok {
		return t, nil
	}
	return parseTime(v)
}

func (c *anyCols) tags(i int) ([]string, error) { return c.in.tagsString(c.str(i)) }

// internMax bounds an interner's maps: past it, values are allocated as
// they come (a column of mostly distinct values gains nothing).
const internMax = 1 << 14

// interner shares the strings and tag lists of one read.
type interner struct {
	strs map[string]string
	tags map[string][]string
}

func newInterner() *interner {
	return &interner{strs: map[string]string{"": ""}, tags: map[string][]string{}}
}

func (in *interner) bytes(b []byte) string {
	if s, ok := in.strs[string(b)]; ok {
		return s
	}
	return in.add(string(b))
}

func (in *interner) string(s string) string {
	if v, ok := in.strs[s]; ok {
		return v
	}
	return in.add(s)
}

func (in *interner) add(s string) string {
	if len(in.strs) < internMax {
		in.strs[s] = s
	}
	return s
}

func (in *interner) tagsBytes(b []byte) ([]string, error) {
	if t, ok := in.tags[string(b)]; ok {
		return t, nil
	}
	return in.addTags(string(b))
}

func (in *interner) tagsString(s string) ([]string, error) {
	if t, ok := in.tags[s]; ok {
		return t, nil
	}
	return in.addTags(s)
}

// addTags decodes the JSON array text, its tags interned; devices with
// the same text share the slice.
func (in *interner) addTags(text string) ([]string, error) {
	var t []string
	if err := json.Unmarshal([]byte(text), &t); err != nil {
		return nil, fmt.Errorf("store: device tags %q: %w", text, err)
	}
	if len(t) == 0 {
		t = nil
	}
	for i := range t {
		t[i] = in.string(t[i])
	}
	if len(in.tags) < internMax {
		in.tags[text] = t
	}
	return t, nil
}

// parseFixedTime parses timeFormat (2006-01-02T15:04:05.000000000Z),
// which formatTime writes, without time.Parse's generality; ok is false
// for anything else (parseTime then decides).
func parseFixedTime[T string | []byte](s T) (t time.Time, ok bool) {
	if len(s) != len(timeFormat) || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' ||
		s[19] != '.' || s[29] != 'Z' {
		return t, false
	}
	num := func(from, to int) int {
		n := 0
		for i := from; i < to; i++ {
			c := s[i]
			if c < '0' || c > '9' {
				ok = false
				return 0
			}
			n = n*10 + int(c-'0')
		}
		return n
	}
	ok = true
	year, month, day := num(0, 4), num(5, 7), num(8, 10)
	hour, minute, sec, nsec := num(11, 13), num(14, 16), num(17, 19), num(20, 29)
	if !ok || month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, false
	}
	t = time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC)
	if t.Day() != day { // February 30th and the like: time.Parse refuses them
		return time.Time{}, false
	}
	return t, true
}
