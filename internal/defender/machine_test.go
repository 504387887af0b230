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
