package defender

import (
	"testing"
	"time"

	"postern/internal/emulator"

	jsonv2 "github.com/go-json-experiment/json"
)

// The report's rows decode whatever JSON type Microsoft sends a text
// field as, through the intern table as without it, and the latest row
// of each machine is kept.
func TestDecodeAVPageIsLenient(t *testing.T) {
	body := []byte(`{"value":[
		{"machineId":"AAA","avMode":0,"avIsSignatureUpToDate":true,"avSignatureVersion":"1.411.5.0","dataRefreshTimestamp":"2026-11-01T00:00:00Z"},
		{"machineId":"bbb","avMode":"1","avIsSignatureUpToDate":"False","avSignatureVersion":"1.411.5.0","quickScanTime":null,"fullScanResult":null},
		{"machineId":"aaa","avMode":"5","avIsSignatureUpToDate":"Unknown","avEngineVersion":"1.1\u002e2","dataRefreshTimestamp":"2026-11-02T00:00:00.1234567Z"},
		{"machineId":"AAA","avMode":"2","dataRefreshTimestamp":"2026-10-30T00:00:00"}
	],"@odata.nextLink":"https://api.securitycenter.microsoft.com/api/deviceavinfo?$skip=4"}`)
	intern := map[string]string{}
	for _, opts := range []jsonv2.Options{machineJSON, jsonv2.JoinOptions(machineJSON, internedText(intern))} {
		var page valueList[AVInfo]
		link, err := decodeAVPage(body, &page, opts)
		if err != nil || link == "" || len(page.items) != 4 {
			t.Fatalf("decodeAVPage = %d rows, link %q, %v", len(page.items), link, err)
		}
		first, second := page.items[0], page.items[1]
		if first.AVMode != "0" || first.SignatureUpToDate != "true" || second.AVMode != "1" || second.FullScanResult != "" ||
			!second.QuickScanTime.IsZero() || page.items[2].EngineVersion != "1.1.2" {
			t.Errorf("rows read as %+v and %+v", first, second)
		}
		// Split over two pages, as a listing would hold them.
		got := latestAV([][]AVInfo{page.items[:2], page.items[2:], {{MachineID: "  "}}})
		want := time.Date(2026, 11, 2, 0, 0, 0, 123456700, time.UTC)
		if len(got) != 2 || got[0].MachineID != "aaa" || got[0].AVMode != "5" || !got[0].DataRefreshTimestamp.Equal(want) || got[1].MachineID != "bbb" {
			t.Errorf("latestAV = %+v, want aaa's row of %v then bbb", got, want)
		}
	}
	if len(intern) == 0 || intern["1.411.5.0"] != "1.411.5.0" {
		t.Errorf("the intern table holds %v", intern)
	}
	var page valueList[AVInfo]
	for _, bad := range []string{`{"value":null}`, `{"items":[]}`, `[]`, `{"value":[{"machineId":5}]}`, `{"value":[{"machineId":"a",}]}`} {
		if _, err := decodeAVPage([]byte(bad), &page, machineJSON); err == nil {
			t.Errorf("%s: decoded without an error", bad)
		}
	}
}

// BenchmarkDecodeAVPage reads one antivirus health report page of 10,000
// rows as the emulator serves it, as a listing does.
func BenchmarkDecodeAVPage(b *testing.B) {
	body := emulatorGet(b, emulator.New(emulator.Config{Machines: 12_000, Seed: 7}), "/api/deviceavinfo?$top=10000&$skip=0")
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	opts := jsonv2.JoinOptions(machineJSON, internedText(map[string]string{}))
	for b.Loop() {
		page := valueList[AVInfo]{items: make([]AVInfo, 0, AVPageSize)}
		if _, err := decodeAVPage(body, &page, opts); err != nil || len(page.items) != 10_000 {
			b.Fatalf("%d rows, %v", len(page.items), err)
		}
	}
}
