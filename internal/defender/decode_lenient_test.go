package defender

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"postern/internal/emulator"
)

// A number may come as a numeric string (the documentation types
// rbacGroupId as a String); an unknown enum value is kept as it comes.
func TestDecodePageAcceptsNumericStringsAndUnknownEnums(t *testing.T) {
	body := `{"value":[{"id":"aaaaaaaa1","rbacGroupId":"140","osBuild":" 22631 ","healthStatus":"SomethingNew","onboardingStatus":"FutureStatus"},
		{"id":"aaaaaaaa2","rbacGroupId":141,"osBuild":null}]}`
	ms, _, bad, err := decodePage([]byte(body), 100)
	if err != nil || bad.n != 0 || len(ms) != 2 {
		t.Fatalf("decodePage = %d machines, %d unreadable, %v", len(ms), bad.n, err)
	}
	if ms[0].RBACGroupID == nil || *ms[0].RBACGroupID != 140 || ms[0].OSBuild == nil || *ms[0].OSBuild != 22631 {
		t.Errorf("numeric strings: rbacGroupId %v osBuild %v", ms[0].RBACGroupID, ms[0].OSBuild)
	}
	if ms[0].HealthStatus != "SomethingNew" || ms[0].OnboardingStatus != "FutureStatus" {
		t.Errorf("enums not kept: %q %q", ms[0].HealthStatus, ms[0].OnboardingStatus)
	}
	if *ms[1].RBACGroupID != 141 || ms[1].OSBuild != nil {
		t.Errorf("numbers: %v %v", ms[1].RBACGroupID, ms[1].OSBuild)
	}
}

// A machine that still cannot be read is skipped and counted, with the
// first error; the rest of the page stands. Most of a page unreadable
// fails it.
func TestDecodePageSkipsUnreadableMachines(t *testing.T) {
	body := `{"value":[{"id":"aaaaaaaa1","osBuild":"twelve"},{"id":"aaaaaaaa2"},{"id":"aaaaaaaa3","machineTags":5},{"id":"aaaaaaaa4"},{"id":"aaaaaaaa5"}],"@odata.nextLink":"x"}`
	ms, link, bad, err := decodePage([]byte(body), 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 3 || bad.n != 2 || link != "x" {
		t.Fatalf("%d machines, %d unreadable, link %q; want 3, 2, x", len(ms), bad.n, link)
	}
	if !strings.Contains(bad.first, "aaaaaaaa1") || !strings.Contains(bad.first, "twelve") {
		t.Errorf("first error %q does not name the machine and the value", bad.first)
	}
	var st ListStats
	st.addUnreadable(bad)
	st.addUnreadable(unreadable{n: 1, first: "later"})
	if st.Unreadable != 3 || st.FirstUnreadable != bad.first {
		t.Errorf("stats %d %q", st.Unreadable, st.FirstUnreadable)
	}

	most := `{"value":[{"id":"aaaaaaaa1","osBuild":"x"},{"id":"aaaaaaaa2","osBuild":"y"},{"id":"aaaaaaaa3"}]}`
	_, _, _, err = decodePage([]byte(most), 100)
	if de, ok := err.(*Error); !ok || de.Code != "unreadable page" || !strings.Contains(de.Message, "2 of 3 machines could not be read") {
		t.Errorf("most of a page unreadable: %v", err)
	}
}

// BenchmarkDecodePage decodes a 2,000-machine page as the emulator sends it.
func BenchmarkDecodePage(b *testing.B) {
	body := emulatorPage(b, 2000)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, _, err := decodePage(body, 100); err != nil {
			b.Fatal(err)
		}
	}
}

// emulatorPage is the body of the first page of n machines from the emulator.
func emulatorPage(tb testing.TB, n int) []byte {
	tb.Helper()
	return emulatorGet(tb, emulator.New(emulator.Config{Machines: n, Seed: 7}), "/api/machines?$top="+strconv.Itoa(n)+"&$skip=0")
}

// emulatorGet is the body emu answers an authorized GET of path with.
func emulatorGet(tb testing.TB, emu *emulator.Emulator, path string) []byte {
	tb.Helper()
	srv := httptest.NewServer(emu)
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+emu.Token())
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return body
}
