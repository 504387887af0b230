package emulator

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
)

func TestAPIAuthErrors(t *testing.T) {
	e, _ := newEmu(t, 3)
	good := e.Token()
	parts := strings.Split(good, ".")
	forged, _ := json.Marshal(map[string]any{"aud": mdeAudience, "tid": DemoTenantID, "roles": []string{"Machine.ReadWrite.All"}, "exp": 1 << 40})
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString(forged) + "." + parts[2]

	xdr := goodForm()
	xdr.Set("scope", "https://api.security.microsoft.com/.default")
	xdrToken := fetchToken(t, e, xdr)
	e.SetFaults(Faults{NoConsent: true})
	noConsent := fetchToken(t, e, goodForm())
	e.SetFaults(Faults{Roles: []string{"Machine.Isolate"}})
	isolateOnly := fetchToken(t, e, goodForm())
	e.SetFaults(Faults{Roles: []string{"Machine.ReadWrite.All"}})
	readWrite := fetchToken(t, e, goodForm())
	e.SetFaults(Faults{})

	const rolesMsg = "Missing application roles. API required roles: Machine.Read.All,Machine.ReadWrite.All, application roles: "
	tests := []struct {
		name, token, header string
		status              int
		code, message       string
	}{
		{name: "no header", status: 401, code: "Unauthorized"},
		{name: "basic scheme", header: "Basic Zm9vOmJhcg==", status: 401, code: "Unauthorized"},
		{name: "garbage", token: "not-a-jwt", status: 401, code: "Unauthorized"},
		{name: "tampered payload", token: tampered, status: 401, code: "Unauthorized"},
		{name: "XDR audience", token: xdrToken, status: 403, code: "Forbidden", message: rolesMsg + "."},
		{name: "no consent", token: noConsent, status: 403, code: "Forbidden", message: rolesMsg + "."},
		{name: "other role only", token: isolateOnly, status: 403, code: "Forbidden", message: rolesMsg + "Machine.Isolate."},
		{name: "ReadWrite.All is enough", token: readWrite, status: 200},
		{name: "Read.All", token: good, status: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var w = get(e, "/api/machines", tt.token)
			if tt.header != "" {
				w = get(e, "/api/machines", "", "Authorization", tt.header)
			}
			if tt.status == 200 {
				if w.Code != 200 {
					t.Fatalf("status = %d, want 200; body %s", w.Code, w.Body)
				}
				return
			}
			body := wantAPIError(t, w, tt.status, tt.code)
			if tt.message != "" && body.Error.Message != tt.message {
				t.Errorf("message = %q, want %q", body.Error.Message, tt.message)
			}
		})
	}
}

func TestMachinesEnvelopeAndHeaders(t *testing.T) {
	e, _ := newEmu(t, 25)
	tok := e.Token()
	for _, path := range []string{"/api/machines", "/api/v1.0/machines", "/API/Machines"} {
		w := get(e, path, tok)
		if w.Code != http.StatusOK {
			t.Fatalf("%s: status %d, body %s", path, w.Code, w.Body)
		}
		wantHeaders := map[string]string{
			"Content-Type":  "application/json; odata.metadata=minimal; odata.streaming=true; charset=utf-8",
			"OData-Version": "4.0",
			"Vary":          "Accept-Encoding",
		}
		for k, v := range wantHeaders {
			if got := w.Header().Get(k); got != v {
				t.Errorf("%s: %s = %q, want %q", path, k, got, v)
			}
		}
		var raw map[string]json.RawMessage
		mustJSON(t, w.Body.Bytes(), &raw)
		if string(raw["@odata.context"]) != `"https://api.securitycenter.microsoft.com/api/$metadata#Machines"` {
			t.Errorf("%s: @odata.context = %s", path, raw["@odata.context"])
		}
		var p page
		mustJSON(t, w.Body.Bytes(), &p)
		if got, want := ids(t, p), fleetIDs(e); !slices.Equal(got, want) {
			t.Errorf("%s: ids = %v, want the fleet sorted by id %v", path, got, want)
		}
		if _, has := raw["@odata.nextLink"]; has {
			t.Errorf("%s: nextLink on a complete page", path)
		}
	}
}

func TestMachineByID(t *testing.T) {
	e, _ := newEmu(t, 5)
	tok := e.Token()
	want := e.Machines()[2]
	for _, path := range []string{"/api/machines/" + want.ID, "/api/v1.0/machines/" + strings.ToUpper(want.ID)} {
		w := get(e, path, tok)
		if w.Code != http.StatusOK {
			t.Fatalf("%s: status %d, body %s", path, w.Code, w.Body)
		}
		var got struct {
			Context string `json:"@odata.context"`
			Machine
		}
		mustJSON(t, w.Body.Bytes(), &got)
		if got.Context != "https://api.securitycenter.microsoft.com/api/$metadata#Machines/$entity" || got.ID != want.ID {
			t.Errorf("%s: context %q id %q, want #Machines/$entity and %s", path, got.Context, got.ID, want.ID)
		}
	}
	body := wantAPIError(t, get(e, "/api/machines/0000000000000000000000000000000000000000", tok), 404, "ResourceNotFound")
	if body.Error.Message != "Machine 0000000000000000000000000000000000000000 was not found" {
		t.Errorf("message = %q", body.Error.Message)
	}
	wantAPIError(t, get(e, "/api/alerts", tok), 404, "NotFound")

	r := httptest.NewRequest(http.MethodPost, "/api/machines", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	w := httptest.NewRecorder()
	e.ServeHTTP(w, r)
	wantAPIError(t, w, http.StatusMethodNotAllowed, "BadRequest")
}

// follow lists every page the way a nextLink-following client does.
func follow(t *testing.T, e *Emulator, tok, start string) (sizes []int, all []string, links []string) {
	t.Helper()
	next := start
	for range 50 {
		w := get(e, next, tok)
		if w.Code != http.StatusOK {
			t.Fatalf("GET %s: status %d, body %s", next, w.Code, w.Body)
		}
		var p page
		mustJSON(t, w.Body.Bytes(), &p)
		sizes = append(sizes, len(p.Value))
		all = append(all, ids(t, p)...)
		if p.NextLink == "" {
			return sizes, all, links
		}
		links = append(links, p.NextLink)
		next = p.NextLink
	}
	t.Fatalf("more than 50 pages")
	return nil, nil, nil
}

func TestPagingNextLinkWithoutTop(t *testing.T) {
	e, _ := newEmu(t, 25)
	e.SetFaults(Faults{PageSize: 10})
	sizes, all, links := follow(t, e, e.Token(), "/api/machines")
	if !slices.Equal(sizes, []int{10, 10, 5}) {
		t.Errorf("page sizes = %v, want [10 10 5]", sizes)
	}
	if !slices.Equal(all, fleetIDs(e)) {
		t.Errorf("union of pages != all ids")
	}
	if want := "http://example.com/api/machines?$skip=10"; links[0] != want {
		t.Errorf("first nextLink = %q, want %q", links[0], want)
	}

	filter := "healthStatus ne 'Bogus'"
	_, all, links = follow(t, e, e.Token(), "/api/machines?$count=true&$filter="+url.QueryEscape(filter))
	if want := "http://example.com/api/machines?$filter=healthStatus%20ne%20%27Bogus%27&$count=true&$skip=10"; links[0] != want {
		t.Errorf("nextLink = %q, want %q", links[0], want)
	}
	if len(all) != 25 {
		t.Errorf("filtered listing returned %d ids, want 25", len(all))
	}
}

func TestPagingWithTop(t *testing.T) {
	e, _ := newEmu(t, 25)
	e.SetFaults(Faults{PageSize: 10})
	tok := e.Token()
	all := fleetIDs(e)
	tests := []struct {
		query   string
		want    []string
		wantCnt int // -1: no @odata.count
	}{
		{"$top=10", all[:10], -1},
		{"$top=10&$skip=10", all[10:20], -1},
		{"$top=10&$skip=20", all[20:], -1},
		{"$top=10&$skip=30", nil, -1},
		{"$top=100", all, -1},
		{"$top=3&$count=true", all[:3], 25},
		{"$skip=20", all[20:], -1},
	}
	for _, tt := range tests {
		w := get(e, "/api/machines?"+tt.query, tok)
		var p page
		mustJSON(t, w.Body.Bytes(), &p)
		if got := ids(t, p); !slices.Equal(got, tt.want) {
			t.Errorf("%s: got %d ids, want %d (%v)", tt.query, len(got), len(tt.want), got)
		}
		if p.NextLink != "" {
			t.Errorf("%s: nextLink %q, want none", tt.query, p.NextLink)
		}
		if (tt.wantCnt < 0) != (p.Count == nil) || (p.Count != nil && *p.Count != tt.wantCnt) {
			t.Errorf("%s: @odata.count = %v, want %d", tt.query, p.Count, tt.wantCnt)
		}
	}
}

func TestPagingQueryErrors(t *testing.T) {
	e, _ := newEmu(t, 25)
	tok := e.Token()
	for _, q := range []string{"$top=10001", "$top=-1", "$top=abc", "$skip=x", "$count=maybe", "$select=", "$orderby=id", "$top=1&$top=2", "$filter=bogus+eq+1"} {
		body := wantAPIError(t, get(e, "/api/machines?"+q, tok), 400, "ODataError")
		if q == "$top=10001" && !strings.Contains(body.Error.Message, "10000") {
			t.Errorf("%s: message %q should name the limit", q, body.Error.Message)
		}
	}
	e.SetFaults(Faults{ClampTop: true})
	var p page
	mustJSON(t, get(e, "/api/machines?$top=20000", tok).Body.Bytes(), &p)
	if len(p.Value) != 25 {
		t.Errorf("ClampTop: %d items, want 25", len(p.Value))
	}
}

func TestPagingFaults(t *testing.T) {
	tests := []struct {
		name       string
		faults     Faults
		wantSizes  []int
		wantUnique int
	}{
		{"no nextLink", Faults{PageSize: 10, NoNextLink: true}, []int{10}, 10},
		{"duplicate across pages", Faults{PageSize: 10, DuplicateAcrossPages: true}, []int{10, 10, 6}, 25},
		{"skip across pages", Faults{PageSize: 10, SkipAcrossPages: true}, []int{10, 10, 4}, 24},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, _ := newEmu(t, 25)
			e.SetFaults(tt.faults)
			sizes, all, _ := follow(t, e, e.Token(), "/api/machines")
			if !slices.Equal(sizes, tt.wantSizes) {
				t.Errorf("page sizes = %v, want %v", sizes, tt.wantSizes)
			}
			slices.Sort(all)
			if got := len(slices.Compact(all)); got != tt.wantUnique {
				t.Errorf("unique ids = %d, want %d", got, tt.wantUnique)
			}
		})
	}
}

func TestEmptyCollection(t *testing.T) {
	e, _ := newEmu(t, 3)
	tok := e.Token()
	e.SetMachines(nil)
	w := get(e, "/api/machines", tok)
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"value":[]`) {
		t.Errorf("empty fleet: status %d body %s, want 200 with value []", w.Code, w.Body)
	}
	e.SetFaults(Faults{EmptyCollection404: true})
	wantAPIError(t, get(e, "/api/machines", tok), 404, "NotFound")
}

func TestContentEncoding(t *testing.T) {
	e, _ := newEmu(t, 30)
	tok := e.Token()
	plain := get(e, "/api/machines", tok).Body.Bytes()
	tests := []struct {
		accept, wantEnc string
		raw             bool
		reader          func(io.Reader) (io.Reader, error)
	}{
		{"gzip", "gzip", false, func(r io.Reader) (io.Reader, error) { return gzip.NewReader(r) }},
		{"deflate", "deflate", false, func(r io.Reader) (io.Reader, error) { return zlib.NewReader(r) }},
		{"deflate", "deflate", true, func(r io.Reader) (io.Reader, error) { return flate.NewReader(r), nil }},
		{"gzip, deflate, br", "deflate", false, func(r io.Reader) (io.Reader, error) { return zlib.NewReader(r) }},
		{"gzip;q=1.0, deflate;q=0.5", "gzip", false, func(r io.Reader) (io.Reader, error) { return gzip.NewReader(r) }},
		{"identity", "", false, func(r io.Reader) (io.Reader, error) { return r, nil }},
	}
	for _, tt := range tests {
		e.SetFaults(Faults{RawDeflate: tt.raw})
		w := get(e, "/api/machines", tok, "Accept-Encoding", tt.accept)
		if got := w.Header().Get("Content-Encoding"); got != tt.wantEnc {
			t.Errorf("Accept-Encoding %q: Content-Encoding %q, want %q", tt.accept, got, tt.wantEnc)
		}
		if w.Header().Get("Vary") != "Accept-Encoding" {
			t.Errorf("Accept-Encoding %q: no Vary header", tt.accept)
		}
		r, err := tt.reader(w.Body)
		if err != nil {
			t.Fatalf("Accept-Encoding %q: %v", tt.accept, err)
		}
		got, err := io.ReadAll(r)
		if err != nil || !bytes.Equal(got, plain) {
			t.Errorf("Accept-Encoding %q (raw %v): decoded body differs from the identity body (err %v)", tt.accept, tt.raw, err)
		}
	}
}

func TestStats(t *testing.T) {
	e, _ := newEmu(t, 3)
	tok := fetchToken(t, e, goodForm())
	get(e, "/api/machines", tok)
	get(e, "/api/machines", tok)
	e.SetFaults(Faults{Throttle: 1})
	get(e, "/api/machines", tok)
	s := e.Stats()
	if s.TokenRequests != 1 || s.TokensIssued != 1 || s.APIRequests != 3 || s.Throttled != 1 || s.Paths["/api/machines"] != 3 {
		t.Errorf("stats = %+v", s)
	}
	e.ResetStats()
	if s := e.Stats(); s.APIRequests != 0 || len(s.Paths) != 0 {
		t.Errorf("after ResetStats: %+v", s)
	}
}

func TestMutateAndSetMachines(t *testing.T) {
	e, _ := newEmu(t, 10)
	tok := e.Token()
	victim := e.Machines()[0].ID
	e.Mutate(func(ms []Machine) []Machine {
		ms[1].RiskScore = ptr("High")
		return ms[1:]
	})
	if get(e, "/api/machines/"+victim, tok).Code != http.StatusNotFound {
		t.Errorf("removed machine still served")
	}
	var p page
	mustJSON(t, get(e, "/api/machines?$filter="+url.QueryEscape("riskScore eq 'High'"), tok).Body.Bytes(), &p)
	if !slices.Contains(ids(t, p), e.Machines()[0].ID) {
		t.Errorf("edited machine is not High risk in the API")
	}
	// Copies: editing what Machines returned must not change the emulator.
	ms := e.Machines()
	*ms[0].RiskScore = "None"
	ms[0].MachineTags = append(ms[0].MachineTags, "x")
	if got := e.Machines()[0]; *got.RiskScore != "High" || slices.Contains(got.MachineTags, "x") {
		t.Errorf("Machines() returned shared data")
	}
}
