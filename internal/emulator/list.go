package emulator

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"postern/internal/jsonenc"
)

// listQuery is the parsed OData query of a listing.
type listQuery struct {
	filter    predicate // nil: every machine
	rawFilter string
	top       int
	hasTop    bool
	skip      int
	count     bool
}

// serveList answers /api/machines with the paging docs/defender-api.md#paging
// observed: without $top, pages of Faults.PageSize plus @odata.nextLink; with
// $top, at most $top items and never a nextLink.
func (e *Emulator) serveList(w http.ResponseWriter, r *http.Request, f *Faults) {
	q, err := parseListQuery(r.URL.Query(), f)
	if err != nil {
		writeAPIError(w, http.StatusBadRequest, "ODataError", err.Error())
		return
	}
	fl := e.snapshot()
	fl = fl[:len(fl)-len(fl)*min(max(f.ShrinkFleet, 0), 100)/100]
	matched := make([]*Machine, 0, len(fl))
	for i := range fl {
		if q.filter == nil || q.filter(&fl[i]) {
			matched = append(matched, &fl[i])
		}
	}
	if len(matched) == 0 && f.EmptyCollection404 {
		writeAPIError(w, http.StatusNotFound, "NotFound", "No machines were found.")
		return
	}
	start, size, pageNo := window(&q, f)
	if (len(fl) == 0 && f.EmptyTenant && pageNo == 1) || (f.NotFoundOnPage > 0 && f.NotFoundOnPage == pageNo) {
		writeAPIError(w, http.StatusNotFound, "ResourceNotFound", "No machines were found for this tenant.")
		return
	}
	if f.FailOnPage > 0 && f.FailOnPage == pageNo {
		e.count(func(s *Stats) { s.Errors5xx++ })
		writeAPIError(w, http.StatusInternalServerError, "InternalServerError", "An error has occurred.")
		return
	}
	next := ""
	if !q.hasTop && !f.NoNextLink && q.skip+size < len(matched) {
		next = nextLink(r, &q, q.skip+size)
	}
	start = min(start, len(matched))
	page := matched[start:min(start+size, len(matched))]
	sleep(r.Context(), f.SlowPage+f.pageDelay(len(page)))
	writePage(newBodyWriter(w, r, f), page, &q, len(matched), next, f, f.badPage(pageNo))
}

// window returns where the page starts, its size and its 1-based number.
// The shift faults move the start by one row on every page after the first,
// as a live collection does when rows are added or removed between calls.
func window(q *listQuery, f *Faults) (start, size, pageNo int) {
	size = f.pageSize()
	if q.hasTop {
		size = q.top
	}
	start = q.skip
	switch {
	case start > 0 && f.DuplicateAcrossPages:
		start-- // a row was inserted before the cursor: the last one repeats
	case start > 0 && f.SkipAcrossPages:
		start++ // a row before the cursor was removed: one is never listed
	}
	pageNo = 1
	if size > 0 {
		pageNo = q.skip/size + 1
	}
	return start, size, pageNo
}

// writePage streams the envelope; bad pages get the MalformedJSON or
// TruncateBody treatment.
func writePage(bw *bodyWriter, page []*Machine, q *listQuery, total int, next string, f *Faults, bad bool) {
	buf := make([]byte, 0, 64<<10)
	buf = append(buf, `{"@odata.context":"`+odataContext+`",`...)
	if q.count {
		buf = append(buf, `"@odata.count":`...)
		buf = strconv.AppendInt(buf, int64(total), 10)
		buf = append(buf, ',')
	}
	buf = append(buf, `"value":[`...)
	if bad && f.MalformedJSON {
		buf = append(buf, "NaN,"...) // not JSON, whatever follows
	}
	cut := len(page) + 1
	if bad && f.TruncateBody {
		cut = len(page) / 2
	}
	for i, m := range page {
		if i == cut {
			break
		}
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, '{')
		buf = appendMachineFields(buf, m, f.encoding(m))
		if len(buf) >= 32<<10 {
			bw.Write(buf)
			buf = buf[:0]
		}
	}
	if cut <= len(page) {
		bw.Write(buf)
		bw.abort()
	}
	buf = append(buf, ']')
	if next != "" {
		buf = append(buf, `,"@odata.nextLink":`...)
		buf = jsonenc.AppendString(buf, next)
	}
	buf = append(buf, '}')
	bw.Write(buf)
	bw.Close()
}

// defenderMessage is an error whose text is the message Defender's API sends
// for the same mistake, word for word (capitalised and with its full stop),
// which the emulator sends on in its error body as it is: not a Go-style
// error string.
func defenderMessage(format string, args ...any) error { return fmt.Errorf(format, args...) }

func parseListQuery(vals url.Values, f *Faults) (listQuery, error) {
	var q listQuery
	for name, vs := range vals {
		if !strings.HasPrefix(name, "$") {
			continue
		}
		if len(vs) > 1 {
			return q, defenderMessage("Query option '%s' was specified more than once, it must be specified at most once.", name)
		}
		v := strings.TrimSpace(vs[0])
		var err error
		switch strings.ToLower(name) {
		case "$top":
			q.top, err = nonNegative(name, v)
			q.hasTop = true
			if err == nil && q.top > maxTop {
				if !f.ClampTop {
					return q, defenderMessage("The limit of '%d' for Top query has been exceeded. The value from the incoming request is '%d'.", maxTop, q.top)
				}
				q.top = maxTop
			}
		case "$skip":
			q.skip, err = nonNegative(name, v)
		case "$filter":
			q.rawFilter = vs[0]
			q.filter, err = parseFilter(vs[0])
		case "$select":
			// Accepted as Microsoft does; every member is sent anyway,
			// which a client that selects must tolerate.
			if v == "" {
				err = defenderMessage("The query specified in the URI is not valid. The $select query option cannot be empty.")
			}
		case "$count":
			switch strings.ToLower(v) {
			case "true":
				q.count = true
			case "false":
			default:
				err = defenderMessage("'%s' is not a valid count option.", v)
			}
		default:
			err = defenderMessage("Query option '%s' is not supported.", name)
		}
		if err != nil {
			return q, err
		}
	}
	return q, nil
}

func nonNegative(name, v string) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, defenderMessage("Invalid value '%s' for %s query option found. The %s query option requires a non-negative integer value.", v, name, name)
	}
	return n, nil
}

// nextLink is an absolute URL on the host that was called, keeping $filter and
// $count and setting $skip, spelled like the observed links ($ unescaped, %20).
func nextLink(r *http.Request, q *listQuery, skip int) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	var b strings.Builder
	b.WriteString(scheme + "://" + r.Host + r.URL.EscapedPath() + "?")
	if q.rawFilter != "" {
		b.WriteString("$filter=" + strings.ReplaceAll(url.QueryEscape(q.rawFilter), "+", "%20") + "&")
	}
	if q.count {
		b.WriteString("$count=true&")
	}
	b.WriteString("$skip=" + strconv.Itoa(skip))
	return b.String()
}

// compressor is what gzip, zlib and flate writers have in common.
type compressor interface {
	io.WriteCloser
	Reset(io.Writer)
	Flush() error
}

var (
	gzipPool  = sync.Pool{New: func() any { z, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed); return z }}
	zlibPool  = sync.Pool{New: func() any { z, _ := zlib.NewWriterLevel(nil, zlib.BestSpeed); return z }}
	flatePool = sync.Pool{New: func() any { z, _ := flate.NewWriter(nil, flate.BestSpeed); return z }}
)

// bodyWriter writes a 200 OData body, compressed as Accept-Encoding allows.
type bodyWriter struct {
	w    http.ResponseWriter
	z    compressor
	pool *sync.Pool
}

func newBodyWriter(w http.ResponseWriter, r *http.Request, f *Faults) *bodyWriter {
	h := w.Header()
	h.Set("Content-Type", odataCT)
	h.Set("OData-Version", "4.0")
	h.Set("Vary", "Accept-Encoding")
	bw := &bodyWriter{w: w}
	switch enc := chooseEncoding(r.Header.Get("Accept-Encoding")); {
	case enc == "gzip":
		bw.pool = &gzipPool
	case enc == "deflate" && f.RawDeflate:
		bw.pool = &flatePool
	case enc == "deflate":
		bw.pool = &zlibPool
	}
	if bw.pool != nil {
		bw.z = bw.pool.Get().(compressor)
		bw.z.Reset(w)
		h.Set("Content-Encoding", chooseEncoding(r.Header.Get("Accept-Encoding")))
	}
	w.WriteHeader(http.StatusOK)
	return bw
}

// compressedBody is b as newBodyWriter would send it to r: compressed as
// its Accept-Encoding allows, with the Content-Encoding that says so ("" for
// none). For a body served many times, compressed once.
func compressedBody(b []byte, r *http.Request, f *Faults) ([]byte, string) {
	var buf bytes.Buffer
	rec := &headerRecorder{h: http.Header{}, w: &buf}
	bw := newBodyWriter(rec, r, f)
	bw.Write(b)
	bw.Close()
	return buf.Bytes(), rec.h.Get("Content-Encoding")
}

// headerRecorder is an http.ResponseWriter that keeps the body in w.
type headerRecorder struct {
	h http.Header
	w io.Writer
}

func (r *headerRecorder) Header() http.Header         { return r.h }
func (r *headerRecorder) Write(b []byte) (int, error) { return r.w.Write(b) }
func (r *headerRecorder) WriteHeader(int)             {}

// writeCompressed sends a body compressedBody prepared, with the headers
// newBodyWriter sets.
func writeCompressed(w http.ResponseWriter, body []byte, encoding string) {
	h := w.Header()
	h.Set("Content-Type", odataCT)
	h.Set("OData-Version", "4.0")
	h.Set("Vary", "Accept-Encoding")
	if encoding != "" {
		h.Set("Content-Encoding", encoding)
	}
	w.WriteHeader(http.StatusOK)
	w.Write(body) // a client that went away just stops reading
}

// Write ignores errors: a client that went away just stops reading.
func (bw *bodyWriter) Write(b []byte) {
	if bw.z != nil {
		bw.z.Write(b)
		return
	}
	bw.w.Write(b)
}

func (bw *bodyWriter) Close() {
	if bw.z != nil {
		bw.z.Close()
		bw.z.Reset(nil)
		bw.pool.Put(bw.z)
	}
}

// abort sends what was written so far and drops the connection mid-body.
func (bw *bodyWriter) abort() {
	if bw.z != nil {
		bw.z.Flush()
	}
	http.NewResponseController(bw.w).Flush()
	panic(http.ErrAbortHandler)
}

// chooseEncoding picks gzip or deflate by q-value; on a tie it prefers
// deflate, as the real service was observed to.
func chooseEncoding(header string) string {
	best, bestQ := "", 0.0
	for _, part := range strings.Split(header, ",") {
		name, params, _ := strings.Cut(part, ";")
		name = strings.ToLower(strings.TrimSpace(name))
		if name != "gzip" && name != "deflate" {
			continue
		}
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			if p, err := strconv.ParseFloat(v, 64); err == nil {
				q = p
			} else {
				q = 0
			}
		}
		if q > bestQ || (q == bestQ && q > 0 && name == "deflate") {
			best, bestQ = name, q
		}
	}
	return best
}
