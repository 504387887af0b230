package defender

import (
	"encoding/json"
	"reflect"
	"testing"
)

// decodePage must read a page exactly as encoding/json would: every field of
// every machine the emulator generates (nulls, 0–7 fractional digits,
// numbers, nested IPs and VM metadata).
func TestDecodePageMatchesEncodingJSON(t *testing.T) {
	body := emulatorPage(t, 2000)
	got, _, _, err := decodePage(body, 100)
	if err != nil {
		t.Fatal(err)
	}
	var want v1Page
	if err := json.Unmarshal(body, &want); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2000 || len(*want.Value) != 2000 {
		t.Fatalf("decoded %d machines, encoding/json %d; want 2000", len(got), len(*want.Value))
	}
	for i := range got {
		if !reflect.DeepEqual(got[i], (*want.Value)[i]) {
			t.Fatalf("machine %d differs:\n got  %+v\n want %+v", i, got[i], (*want.Value)[i])
		}
	}
}

// What encoding/json tolerates, decodePage tolerates the same way.
func TestDecodePageLeniency(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		host       string
	}{
		{"names in another case", `{"value":[{"ID":"a1","ComputerDnsName":"pc-1"}]}`, "pc-1"},
		{"a repeated name keeps the last value", `{"value":[{"id":"a1","computerDnsName":"old","computerDnsName":"pc-1"}]}`, "pc-1"},
		{"invalid UTF-8 becomes U+FFFD", "{\"value\":[{\"id\":\"a1\",\"computerDnsName\":\"pc-\xff\"}]}", "pc-\uFFFD"},
		{"unknown fields are ignored", `{"value":[{"id":"a1","computerDnsName":"pc-1","newField":{"x":[1,2]}}]}`, "pc-1"},
	} {
		ms, _, _, err := decodePage([]byte(tc.body), 100)
		if err != nil || len(ms) != 1 || ms[0].ComputerDNSName != tc.host {
			t.Errorf("%s: %+v, %v; want one machine named %q", tc.name, ms, err, tc.host)
		}
		var v1 v1Page
		if err := json.Unmarshal([]byte(tc.body), &v1); err != nil || (*v1.Value)[0].ComputerDNSName != tc.host {
			t.Errorf("%s: encoding/json disagrees: %v", tc.name, err)
		}
	}
	for _, bad := range []string{`{"value":[{"id":1}]}`, `{"value":[`, `{"value":null}`, `{}`, `[]`} {
		if _, _, _, err := decodePage([]byte(bad), 100); err == nil {
			t.Errorf("%s: accepted", bad)
		}
	}
}

// v1Page is a page as encoding/json reads it, to compare with.
type v1Page struct {
	Value *[]Machine `json:"value"`
}
