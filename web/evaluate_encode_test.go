package web

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
)

// jsonEncode is what echo's c.JSON wrote before: encoding/json's Encoder,
// HTML escaping on, with its trailing newline.
func jsonEncode(t testing.TB, v any) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := json.NewEncoder(&b).Encode(v); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

var awkwardStrings = []string{
	"", "plain", `quote " and backslash \`, "<script>alert(1)</script> & co", "tab\tnew\nline\rcr",
	"\x00\x01\x07\b\f\x1f\x7f", "caf\u00e9 \u65e5\u672c \U0001F600", "line\u2028para\u2029end",
	"bad \xff\xfe utf-8 \xc3", "\xe2\x80", "risk score High exceeds the allowed Medium (Defender data from 2026-11-25T10:02:11Z)",
}

func TestEncodeEvaluateResponseMatchesJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	pick := func() string {
		if r.IntN(3) == 0 {
			return awkwardStrings[r.IntN(len(awkwardStrings))]
		}
		// Random bytes, valid UTF-8 or not.
		b := make([]byte, r.IntN(12))
		for i := range b {
			b[i] = byte(r.IntN(256))
		}
		return string(b)
	}
	cases := []EvaluateResponse{
		{},
		{Allowed: true, Device: EvaluatedDevice{MatchedBy: "none"}, Checks: []EvaluatedItem{}, EvaluatedAt: "2026-11-25T10:05:40Z"},
		{Checks: []EvaluatedItem{{ID: -1, Reasons: nil}, {ID: 1 << 62, Reasons: []string{}}}},
	}
	for range 2000 {
		res := EvaluateResponse{Allowed: r.IntN(2) == 0, EvaluatedAt: pick(),
			Device: EvaluatedDevice{DefenderMachineID: pick(), MatchedBy: pick()}}
		for range r.IntN(5) {
			it := EvaluatedItem{ID: r.Int64N(1 << 40), Name: pick(), Mode: pick(), Result: pick(), Reasons: []string{}}
			for range r.IntN(4) {
				it.Reasons = append(it.Reasons, pick())
			}
			res.Checks = append(res.Checks, it)
		}
		cases = append(cases, res)
	}
	for i, res := range cases {
		want := jsonEncode(t, res)
		if got := appendEvaluateResponse(nil, &res); !bytes.Equal(got, want) {
			t.Fatalf("case %d:\n got %q\nwant %q", i, got, want)
		}
	}
}

// Answers on one keep-alive connection, one after another from the pooled
// buffer, each declare their own length and hold their own device.
func TestEvaluateAnswersDeclareTheirLength(t *testing.T) {
	e := newAdminEnv(t)
	conn, err := dialLoad(e.http.URL+evaluatePath, "Bearer "+evToken(t, e))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var lengths []int
	for _, host := range []string{"laptop-1", strings.Repeat("a-much-longer-host-name-", 8)} {
		status, body, err := conn.post([]byte(`{"device":{"hostname":"` + host + `"}}`))
		if err != nil || status != http.StatusOK {
			t.Fatalf("status %d, %v", status, err)
		}
		var res EvaluateResponse
		if err := json.Unmarshal(body, &res); err != nil || body[len(body)-1] != '\n' {
			t.Fatalf("answer %q: %v", body, err)
		}
		lengths = append(lengths, len(body))
	}
	if lengths[0] == 0 || lengths[0] != lengths[1] {
		// The same answer shape for two unknown devices: equal lengths
		// show nothing of the longer request leaked into the answer.
		t.Fatalf("answer lengths %v, want two equal non-zero lengths", lengths)
	}
}
