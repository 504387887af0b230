package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/go-json-experiment/json/jsontext"
)

// FuzzDecodeEvaluateRequest holds the enforcement API's decoder
// (docs/security.md#item-40) to its contract on any input: it never
// panics; what it accepts is one well-formed JSON document of at most
// 64 KiB with at least one identifier, fields of at most 255 bytes,
// trimmed, without NUL, CR or LF; only bodies over 64 KiB are "too large".
func FuzzDecodeEvaluateRequest(f *testing.F) {
	long := strings.Repeat("a", 255)
	for _, s := range []string{
		// Valid.
		`{"device":{"hostname":"laptop-1"}}`,
		`{"device":{"defender_machine_id":"1e5bc9d7e413ddd7902c2932e418702b84d0cc07"}}`,
		`{"device":{"aad_device_id":"80fe8ff8-2624-418e-9591-41f0491218f9"}}`,
		`{"device":{"defender_machine_id":"…","aad_device_id":"…","hostname":"…","os":"Windows","os_version":"10.0.22631","firewall":true,"disk_encrypted":true,"client_version":"1.4.2"}}`,
		`{"device":{"hostname":"laptop-1","firewall":null,"disk_encrypted":false}}`,
		`  {"device":{"hostname":"  padded  "}}` + "\n\t ",
		`{"device":{"hostname":"` + long + `","os":"` + long + `"}}`,
		// Unicode.
		`{"device":{"hostname":"über-laptop","os":"macOS 🍎","client_version":"١.٤.٢"}}`,
		`{"device":{"hostname":"\u00fcber\ud83c\udf4e"}}`,
		`{"device":{"hostname":"\ud800"}}`,
		"{\"device\":{\"hostname\":\"bad\xff\xfeutf8\"}}",
		"\xef\xbb\xbf{\"device\":{\"hostname\":\"bom\"}}",
		`{"device":{"hostname":"a\u2028b\u00a0"}}`,
		`{"device":{"hostname":"\u3000ideographic space\u3000"}}`,
		// NUL bytes and control characters.
		`{"device":{"hostname":"a\u0000b"}}`,
		"{\"device\":{\"hostname\":\"a\x00b\"}}",
		"{\"device\":{\"hostname\":\"laptop\"}}\x00",
		"\x00",
		`{"device":{"hostname":"a\r\nb"}}`,
		`{"device":{"hostname":"tab\there"}}`,
		// Errors.
		``,
		` `,
		`{`,
		`{"device":`,
		`{"device":{"hostname":"x"`,
		`null`,
		`[]`,
		`"device"`,
		`{}`,
		`{"device":null}`,
		`{"device":{}}`,
		`{"device":{"os":"Windows"}}`,
		`{"device":{"hostname":"   "}}`,
		`{"device":{"hostname":"a"},"extra":1}`,
		`{"device":{"hostname":"a","serial":"x"}}`,
		`{"device":{"hostname":"a","firewall":"yes"}}`,
		`{"device":{"hostname":12}}`,
		`{"device":"x"}`,
		`{"device":{"hostname":"a"}} {}`,
		`{"device":{"hostname":"a"}}x`,
		`{"device":{"hostname":"a"}}}`,
		`{"device":{"hostname":"a"}}]`,
		`{"device":{"hostname":"a"}} ]]}}`,
		`{"device":{"hostname":"` + long + `b"}}`,
		`{"Device":{"HOSTNAME":"case"}}`,
		`{"device":{"hostname":"a","hostname":""}}`,
		// Deep nesting.
		strings.Repeat("[", 20000) + strings.Repeat("]", 20000),
		`{"device":{"hostname":"a","x":` + strings.Repeat(`{"a":`, 5000) + `1` + strings.Repeat(`}`, 5000) + `}}`,
		`{"device":` + strings.Repeat("[", 10000),
		// Huge numbers.
		`{"device":{"hostname":"a","firewall":1e999999999}}`,
		`{"device":{"hostname":` + strings.Repeat("9", 5000) + `}}`,
		`{"device":{"hostname":"a"}} 1e999999999`,
		`-0.0e-99999`,
		// Size limit.
		`{"device":{"hostname":"a"}}` + strings.Repeat(" ", maxEvaluateBody-len(`{"device":{"hostname":"a"}}`)),
		`{"device":{"hostname":"a"}}` + strings.Repeat(" ", maxEvaluateBody+1-len(`{"device":{"hostname":"a"}}`)),
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := DecodeEvaluateRequest(bytes.NewReader(body))
		if errors.Is(err, errBodyTooLarge) != (len(body) > maxEvaluateBody) {
			t.Fatalf("%d-byte body: err %v; want errBodyTooLarge exactly when over %d bytes", len(body), err, maxEvaluateBody)
		}
		if err != nil {
			if msg := err.Error(); msg == "" || !utf8.ValidString(msg) {
				t.Fatalf("error message %q is empty or not UTF-8", msg)
			}
			return
		}
		if !json.Valid(body) || !jsontext.Value(body).IsValid() {
			t.Fatalf("accepted a body that is not one JSON document of valid UTF-8 without repeated names: %.200q", body)
		}
		if req.DefenderMachineID == "" && req.AADDeviceID == "" && req.Hostname == "" {
			t.Fatalf("accepted a request without an identifier: %.200q", body)
		}
		fields := map[string]string{"defender_machine_id": req.DefenderMachineID, "aad_device_id": req.AADDeviceID,
			"hostname": req.Hostname, "os": req.Report.OS, "os_version": req.Report.OSVersion,
			"client_version": req.Report.ClientVersion}
		for name, v := range fields {
			if len(v) > 255 {
				t.Fatalf("%s is %d bytes, over 255", name, len(v))
			}
			if strings.ContainsAny(v, "\x00\r\n") {
				t.Fatalf("%s %q holds NUL, CR or LF", name, v)
			}
			if strings.TrimSpace(v) != v {
				t.Fatalf("%s %q is not trimmed", name, v)
			}
		}
	})
}
