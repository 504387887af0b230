package jsonenc

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// awkward holds strings that take every escaping path: quotes, HTML
// characters, control bytes, multi-byte runes, the JavaScript line
// separators and invalid UTF-8.
var awkward = []string{
	"", "plain", `quote " and backslash \`, "<script>alert(1)</script> & co", "tab\tnew\nline\rcr",
	"\x00\x01\x07\b\f\x1f\x7f", "caf\u00e9 \u65e5\u672c \U0001F600", "line\u2028para\u2029end",
	"bad \xff\xfe utf-8 \xc3", "\xe2\x80", "risk score High exceeds the allowed Medium (Defender data from 2026-11-25T10:02:11Z)",
}

// encodingJSON is what encoding/json's Encoder writes for s (HTML escaping
// on), without its trailing newline.
func encodingJSON(t *testing.T, s string) string {
	t.Helper()
	var b bytes.Buffer
	if err := json.NewEncoder(&b).Encode(s); err != nil {
		t.Fatal(err)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

func TestAppendStringMatchesEncodingJSON(t *testing.T) {
	cases := append([]string(nil), awkward...)
	for c := range 256 {
		cases = append(cases, string([]byte{byte(c)}))
	}
	for _, s := range cases {
		if got, want := string(AppendString(nil, s)), encodingJSON(t, s); got != want {
			t.Errorf("AppendString(%q) = %s, encoding/json %s", s, got, want)
		}
	}
}

func TestAppendStringAppends(t *testing.T) {
	got := string(AppendString([]byte(`{"a":`), "x<y"))
	if want := `{"a":"x\u003cy"`; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}

func FuzzAppendJSONString(f *testing.F) {
	for _, s := range awkward {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := string(AppendString(nil, s)), encodingJSON(t, s); got != want {
			t.Fatalf("AppendString(%q) = %s, encoding/json %s", s, got, want)
		}
	})
}

// BenchmarkAppendString appends a check's reason, as the evaluate answer
// and the decision log do for every check that did not pass.
func BenchmarkAppendString(b *testing.B) {
	s := "risk score High exceeds the allowed Medium (Defender data from 2026-11-25T10:00:00Z)"
	buf := make([]byte, 0, 256)
	b.SetBytes(int64(len(s)))
	for b.Loop() {
		buf = AppendString(buf[:0], s)
	}
}
