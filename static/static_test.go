package static

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"go/parser"
	"go/token"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
)

// embedded lists every file in the embed.FS, independently of the package's own maps.
func embedded(t *testing.T) []string {
	t.Helper()
	var names []string
	err := fs.WalkDir(files, ".", func(name string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			names = append(names, name)
		}
		return err
	})
	if err != nil {
		t.Fatalf("walk embedded files: %v", err)
	}
	return names
}

func get(t *testing.T, method, target string, header http.Header) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	rec := httptest.NewRecorder()
	Handler().ServeHTTP(rec, req)
	return rec
}

func TestEmbeddedFilesPresent(t *testing.T) {
	names := embedded(t)
	for _, want := range []string{"css/app.css", "js/htmx.min.js", "img/postern.svg", "img/defender.svg", "img/favicon.svg"} {
		found := false
		for _, n := range names {
			found = found || n == want
		}
		if !found {
			t.Errorf("embedded files %v lack %q", names, want)
		}
	}
}

func TestPathFormat(t *testing.T) {
	body, err := fs.ReadFile(files, "css/app.css")
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(body)
	want := "/static/css/app." + hex.EncodeToString(sum[:])[:10] + ".css"
	if got := Path("css/app.css"); got != want {
		t.Errorf("Path(css/app.css) = %q, want %q", got, want)
	}
	if got, re := Path("js/htmx.min.js"), `^/static/js/htmx\.min\.[0-9a-f]{10}\.js$`; !regexp.MustCompile(re).MatchString(got) {
		t.Errorf("Path(js/htmx.min.js) = %q, want match %s", got, re)
	}
	if got, re := Path("img/postern.svg"), `^/static/img/postern\.[0-9a-f]{10}\.svg$`; !regexp.MustCompile(re).MatchString(got) {
		t.Errorf("Path(img/postern.svg) = %q, want match %s", got, re)
	}
}

func TestPathPanicsOnUnknownName(t *testing.T) {
	for _, name := range []string{"css/missing.css", "", "/css/app.css", "css/input.css", "static/css/app.css"} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("Path(%q) did not panic", name)
				}
			}()
			Path(name)
		})
	}
}

func TestEveryFileServedAtItsPath(t *testing.T) {
	wantType := map[string]string{
		".css": "text/css; charset=utf-8",
		".js":  "text/javascript; charset=utf-8",
		".svg": "image/svg+xml",
	}
	for _, name := range embedded(t) {
		t.Run(name, func(t *testing.T) {
			body, err := fs.ReadFile(files, name)
			if err != nil {
				t.Fatal(err)
			}
			rec := get(t, http.MethodGet, Path(name), nil)
			if rec.Code != http.StatusOK {
				t.Fatalf("status = %d, want 200", rec.Code)
			}
			if got := rec.Body.String(); got != string(body) {
				t.Errorf("body differs from the embedded file (%d bytes, want %d)", len(got), len(body))
			}
			ext := name[strings.LastIndex(name, "."):]
			if got, want := rec.Header().Get("Content-Type"), wantType[ext]; got != want {
				t.Errorf("Content-Type = %q, want %q", got, want)
			}
			if got, want := rec.Header().Get("Cache-Control"), "public, max-age=31536000, immutable"; got != want {
				t.Errorf("Cache-Control = %q, want %q", got, want)
			}
			if got := rec.Header().Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options = %q, want nosniff", got)
			}
			if got := rec.Header().Get("ETag"); !regexp.MustCompile(`^"[0-9a-f]{10}"$`).MatchString(got) {
				t.Errorf("ETag = %q, want a quoted 10-hex hash", got)
			}
		})
	}
}

func TestSVGGetsSandboxPolicy(t *testing.T) {
	rec := get(t, http.MethodGet, Path("img/postern.svg"), nil)
	if got := rec.Header().Get("Content-Security-Policy"); !strings.Contains(got, "sandbox") || !strings.Contains(got, "default-src 'none'") {
		t.Errorf("Content-Security-Policy = %q, want default-src 'none' and sandbox", got)
	}
}

func TestNotFound(t *testing.T) {
	css := Path("css/app.css")
	hash := css[len("/static/css/app.") : len(css)-len(".css")]
	wrong := "0000000000"
	if hash == wrong {
		wrong = "1111111111"
	}
	tests := []struct{ name, target string }{
		{"wrong hash", "/static/css/app." + wrong + ".css"},
		{"short hash", "/static/css/app." + hash[:9] + ".css"},
		{"unhashed", "/static/css/app.css"},
		{"unhashed js", "/static/js/htmx.min.js"},
		{"unknown file", "/static/css/other." + hash + ".css"},
		{"hash of another file", "/static/js/htmx.min." + hash + ".js"},
		{"source file", "/static/css/input.css"},
		{"dot dot", "/static/css/../css/app." + hash + ".css"},
		{"dot dot escaped", "/static/css/%2e%2e/css/app." + hash + ".css"},
		{"dot dot out", "/static/../static.go"},
		{"directory", "/static/css/"},
		{"root", "/static/"},
		{"no prefix", "/css/app." + hash + ".css"},
		{"trailing slash", css + "/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// httptest.NewRequest keeps ".." (and decodes %2e) as a raw client request would.
			rec := get(t, http.MethodGet, tt.target, nil)
			if rec.Code != http.StatusNotFound {
				t.Errorf("GET %s: status = %d, want 404", tt.target, rec.Code)
			}
			if got := rec.Header().Get("Cache-Control"); got != "" {
				t.Errorf("GET %s: Cache-Control = %q on a 404, want none", tt.target, got)
			}
		})
	}
}

func TestIfNoneMatch(t *testing.T) {
	target := Path("css/app.css")
	etag := get(t, http.MethodGet, target, nil).Header().Get("ETag")
	for _, inm := range []string{etag, "W/" + etag, `"other", ` + etag, "*"} {
		rec := get(t, http.MethodGet, target, http.Header{"If-None-Match": {inm}})
		if rec.Code != http.StatusNotModified {
			t.Errorf("If-None-Match %s: status = %d, want 304", inm, rec.Code)
		}
		if rec.Body.Len() != 0 {
			t.Errorf("If-None-Match %s: body of %d bytes on 304", inm, rec.Body.Len())
		}
		if got := rec.Header().Get("ETag"); got != etag {
			t.Errorf("If-None-Match %s: ETag = %q, want %q", inm, got, etag)
		}
		if got := rec.Header().Get("Cache-Control"); got != cacheControl {
			t.Errorf("If-None-Match %s: Cache-Control = %q, want %q", inm, got, cacheControl)
		}
	}
	rec := get(t, http.MethodGet, target, http.Header{"If-None-Match": {`"0000000000"`}})
	if rec.Code != http.StatusOK {
		t.Errorf("stale If-None-Match: status = %d, want 200", rec.Code)
	}
}

func TestHead(t *testing.T) {
	target := Path("js/htmx.min.js")
	rec := get(t, http.MethodHead, target, nil)
	if rec.Code != http.StatusOK {
		t.Fatalf("HEAD status = %d, want 200", rec.Code)
	}
	if rec.Body.Len() != 0 {
		t.Errorf("HEAD body has %d bytes, want 0", rec.Body.Len())
	}
	body, _ := fs.ReadFile(files, "js/htmx.min.js")
	if got, want := rec.Header().Get("Content-Length"), len(body); got != strconv.Itoa(want) {
		t.Errorf("HEAD Content-Length = %q, want %d", got, want)
	}
	if got := rec.Header().Get("Content-Type"); got != "text/javascript; charset=utf-8" {
		t.Errorf("HEAD Content-Type = %q", got)
	}
	if rec := get(t, http.MethodHead, "/static/js/htmx.min.js", nil); rec.Code != http.StatusNotFound {
		t.Errorf("HEAD unhashed: status = %d, want 404", rec.Code)
	}
}

func TestOtherMethods(t *testing.T) {
	for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete} {
		rec := get(t, m, Path("css/app.css"), nil)
		if rec.Code != http.StatusMethodNotAllowed {
			t.Errorf("%s: status = %d, want 405", m, rec.Code)
		}
		if got := rec.Header().Get("Allow"); got != "GET, HEAD" {
			t.Errorf("%s: Allow = %q, want GET, HEAD", m, got)
		}
	}
}

func TestLoadRejectsUnknownExtension(t *testing.T) {
	_, _, err := load(fstest.MapFS{"js/app.js.map": {Data: []byte("{}")}})
	if err == nil {
		t.Fatal("load accepted a file with no known content type")
	}
}

// TestHTMXVersionPinned keeps the vendored htmx, the npm lockfile and the package doc in
// step: upgrading one without the others fails here.
func TestHTMXVersionPinned(t *testing.T) {
	lock, err := os.ReadFile("../package-lock.json")
	if err != nil {
		t.Fatalf("read lockfile: %v", err)
	}
	var l struct {
		Packages map[string]struct{ Version string } `json:"packages"`
	}
	if err := json.Unmarshal(lock, &l); err != nil {
		t.Fatalf("parse lockfile: %v", err)
	}
	want := l.Packages["node_modules/htmx.org"].Version
	if !strings.HasPrefix(want, "2.") {
		t.Fatalf("lockfile pins htmx.org %q, want 2.x", want)
	}
	js, _ := fs.ReadFile(files, "js/htmx.min.js")
	if !strings.Contains(string(js), `version:"`+want+`"`) {
		t.Errorf("static/js/htmx.min.js is not htmx %s from the lockfile", want)
	}
	f, err := parser.ParseFile(token.NewFileSet(), "static.go", nil, parser.PackageClauseOnly|parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	if doc := f.Doc.Text(); !strings.Contains(doc, "htmx "+want) {
		t.Errorf("package doc does not name htmx %s", want)
	}
}
