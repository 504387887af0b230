package defender

import (
	"encoding/json"
	"testing"
	"time"
)

func TestTimeUnmarshal(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Time // zero for unknown
		bad  bool
	}{
		{in: `"2024-03-05T07:08:09Z"`, want: time.Date(2024, 3, 5, 7, 8, 9, 0, time.UTC)},
		{in: `"2024-03-05T07:08:09.1234567Z"`, want: time.Date(2024, 3, 5, 7, 8, 9, 123456700, time.UTC)},
		{in: `"2024-03-05T07:08:09.5"`, want: time.Date(2024, 3, 5, 7, 8, 9, 500000000, time.UTC)},
		{in: `"2024-03-05T09:08:09+02:00"`, want: time.Date(2024, 3, 5, 7, 8, 9, 0, time.UTC)},
		{in: `"2024-03-05T07:08:09\u002e25Z"`, want: time.Date(2024, 3, 5, 7, 8, 9, 250000000, time.UTC)}, // escaped: the decoder's path
		{in: `"0001-01-01T00:00:00Z"`},
		{in: `""`},
		{in: `null`},
		{in: `"yesterday"`, bad: true},
		{in: `"2024-03-05T07:08:09Z\"`, bad: true},
		{in: `20240305`, bad: true},
	} {
		var m struct {
			At *Time `json:"at"`
		}
		err := json.Unmarshal([]byte(`{"at":`+tc.in+`}`), &m)
		if tc.bad {
			if err == nil {
				t.Errorf("%s: accepted as %v", tc.in, m.At)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		var got time.Time
		if m.At != nil {
			got = m.At.Time
		}
		if !got.Equal(tc.want) || got.Location() != time.UTC {
			t.Errorf("%s = %v, want %v in UTC", tc.in, got, tc.want)
		}
	}
}

// Time encodes exactly as encoding/json encodes its RFC 3339 text: a
// machine's stored form and hash must not change with the encoder.
func TestTimeMarshalIsTheQuotedText(t *testing.T) {
	for _, at := range []time.Time{
		time.Date(2024, 3, 5, 7, 8, 9, 0, time.UTC),
		time.Date(2024, 3, 5, 7, 8, 9, 123456700, time.FixedZone("x", 3600)),
		time.Date(999, 1, 1, 0, 0, 0, 1, time.UTC),
		time.Date(12345, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(-5, 6, 7, 8, 9, 10, 0, time.UTC),
	} {
		want, _ := json.Marshal(at.UTC().Format(time.RFC3339Nano))
		got, err := Time{at}.MarshalJSON()
		if err != nil || string(got) != string(want) {
			t.Errorf("%v: %s, %v; want %s", at, got, err, want)
		}
	}
	if got, _ := (Time{}).MarshalJSON(); string(got) != "null" {
		t.Errorf("the zero time encodes as %s, want null", got)
	}
}
