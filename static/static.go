// Package static serves Postern's stylesheet, scripts and images from the binary under
// content-hashed URLs, so browsers can cache them for a year and a new build is picked up
// at once: a changed file gets a new URL, and an old URL stops resolving.
//
// Assets:
//   - css/app.css: Tailwind CSS v3 output, built from css/input.css by `npm run css`
//     (versions pinned in package-lock.json at the module root).
//   - js/htmx.min.js: htmx 2.0.11, copied unmodified from the htmx.org npm package pinned in
//     package-lock.json (node_modules/htmx.org/dist/htmx.min.js). To upgrade, change the
//     pin in package.json, run `npm install`, copy the file again and update this version.
//   - img/: Postern's own SVG artwork.
//
// Views link assets with [Path]; the web server mounts [Handler] at /static/.
package static

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed css/app.css js img
var files embed.FS

// prefix is the URL path under which Handler expects to be mounted.
const prefix = "/static/"

// hashLen is the number of hex characters of the SHA-256 digest put into a URL. Forty bits
// are plenty to tell one build of a file from the next.
const hashLen = 10

// cacheControl lets browsers and proxies keep a hashed asset for a year without
// revalidating: its content can never change under the same URL.
const cacheControl = "public, max-age=31536000, immutable"

// contentTypes lists the extensions we ship. An embedded file with any other extension
// stops the program at start-up (and every test), rather than being served with a guessed
// type under nosniff.
var contentTypes = map[string]string{
	".css":  "text/css; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".svg":  "image/svg+xml",
	".png":  "image/png",
	".ico":  "image/x-icon",
	".webp": "image/webp",
}

// svgPolicy is sent with SVG files: opened directly they are documents that could run
// script, so they get no capabilities at all.
const svgPolicy = "default-src 'none'; style-src 'unsafe-inline'; sandbox"

type asset struct {
	body        []byte
	url         string // /static/<dir>/<base>.<hash><ext>
	etag        string // strong validator: the content hash in quotes
	contentType string
}

var (
	byName map[string]*asset // "css/app.css" → asset
	byURL  map[string]*asset // "/static/css/app.0123456789.css" → asset
)

func init() {
	var err error
	byName, byURL, err = load(files)
	if err != nil {
		panic(err)
	}
}

// load hashes every file in fsys once, so requests do no I/O and no hashing.
func load(fsys fs.FS) (map[string]*asset, map[string]*asset, error) {
	names := make(map[string]*asset)
	urls := make(map[string]*asset)
	err := fs.WalkDir(fsys, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := fs.ReadFile(fsys, name)
		if err != nil {
			return err
		}
		ext := path.Ext(name)
		ct, ok := contentTypes[ext]
		if !ok {
			return fmt.Errorf("static: no content type for %q: add its extension to contentTypes", name)
		}
		sum := sha256.Sum256(body)
		hash := hex.EncodeToString(sum[:])[:hashLen]
		a := &asset{
			body:        body,
			url:         prefix + strings.TrimSuffix(name, ext) + "." + hash + ext,
			etag:        `"` + hash + `"`,
			contentType: ct,
		}
		names[name] = a
		urls[a.url] = a
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("static: load assets: %w", err)
	}
	return names, urls, nil
}

// Path returns the URL of the embedded file name (relative to this package, e.g.
// "css/app.css"), with its content hash: "/static/css/app.<hash>.css". An unknown name is
// a programming error in a template, so Path panics; the view tests render every page and
// catch it.
func Path(name string) string {
	a, ok := byName[name]
	if !ok {
		panic(fmt.Sprintf("static: unknown asset %q", name))
	}
	return a.url
}

// Handler serves the embedded files at the URLs Path returns. Mount it at /static/
// without stripping the prefix. Only a URL whose hash matches the current content is
// served; anything else, including an older hash, an unhashed name, a directory or a path
// with "..", is 404, so stale content is never cached under a new URL.
func Handler() http.Handler {
	return http.HandlerFunc(serve)
}

func serve(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.Set("Allow", "GET, HEAD")
		http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
		return
	}
	a, ok := byURL[r.URL.Path]
	if !ok {
		http.NotFound(w, r)
		return
	}
	h.Set("Content-Type", a.contentType)
	h.Set("Cache-Control", cacheControl)
	h.Set("ETag", a.etag)
	if strings.HasPrefix(a.contentType, "image/svg+xml") {
		h.Set("Content-Security-Policy", svgPolicy)
	}
	// ServeContent answers If-None-Match with 304, HEAD without a body, and ranges.
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.body))
}
