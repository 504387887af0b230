package emulator

import (
	"encoding/json"
	"hash/fnv"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The antivirus health report's own limits (docs/defender-api.md#antivirus-health-report).
const (
	avPerMinute   = 30
	avPerHour     = 1000
	avDefaultPage = 20 // rows per page without $top, as documented
)

// AVRow is one row of the antivirus health report, GET /api/deviceavinfo,
// with Microsoft's names and string-typed flags ("True", "False",
// "Unknown"; avMode "0" Active … "5" PassiveAudit).
type AVRow struct {
	ID                    string     `json:"id"`
	MachineID             string     `json:"machineId"`
	ComputerDNSName       string     `json:"computerDnsName"`
	OSKind                string     `json:"osKind"`
	OSPlatform            string     `json:"osPlatform"`
	AVMode                string     `json:"avMode"`
	AVSignatureVersion    string     `json:"avSignatureVersion"`
	AVEngineVersion       string     `json:"avEngineVersion"`
	AVPlatformVersion     string     `json:"avPlatformVersion"`
	LastSeenTime          time.Time  `json:"lastSeenTime"`
	QuickScanResult       string     `json:"quickScanResult"`
	QuickScanTime         *time.Time `json:"quickScanTime"`
	FullScanResult        string     `json:"fullScanResult"`
	FullScanTime          *time.Time `json:"fullScanTime"`
	DataRefreshTimestamp  time.Time  `json:"dataRefreshTimestamp"`
	AVSignatureUpdate     time.Time  `json:"avSignatureUpdateTime"`
	AVIsSignatureUpToDate string     `json:"avIsSignatureUpToDate"`
	AVIsEngineUpToDate    string     `json:"avIsEngineUpToDate"`
	AVIsPlatformUpToDate  string     `json:"avIsPlatformUpToDate"`
	AVSignaturePublish    time.Time  `json:"avSignaturePublishTime"`
	RBACGroupID           int64      `json:"rbacGroupId"`
}

// SetAVOverride edits the report rows of machine id: fn runs on every row
// the emulator derives for it (nil removes the override).
func (e *Emulator) SetAVOverride(id string, fn func(*AVRow)) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.avOverride == nil {
		e.avOverride = map[string]func(*AVRow){}
	}
	e.avCache = nil
	if fn == nil {
		delete(e.avOverride, id)
		return
	}
	e.avOverride[id] = fn
}

// avRowsCache is the report derived from one fleet snapshot: every page
// request of a listing reads the same rows instead of deriving them again.
type avRowsCache struct {
	fleet []Machine
	rows  []AVRow
	pages sync.Map // avPageKey → avPage: each page encoded and compressed once
}

// avPageKey names one encoded report page: its rows, its nextLink's host
// and path, and its compression.
type avPageKey struct {
	start, top           int
	host, path, encoding string
	rawDeflate           bool
}

// avPage is one report page as sent: compressed, and with which encoding.
type avPage struct {
	body     []byte
	encoding string
}

// AVRows is the whole report as the emulator serves it: the latest row of
// every onboarded machine, and for every tenth machine an older row after
// it (the report keeps one row per combination of mode and state). The
// slice is shared until the fleet or an override changes: read it only.
func (e *Emulator) AVRows() []AVRow { return e.avRows().rows }

// avRows is the report of the current fleet with its encoded pages.
func (e *Emulator) avRows() *avRowsCache {
	fl := e.snapshot()
	e.mu.Lock()
	if c := e.avCache; c != nil && len(c.fleet) == len(fl) && (len(fl) == 0 || &c.fleet[0] == &fl[0]) {
		e.mu.Unlock()
		return c
	}
	over := make(map[string]func(*AVRow), len(e.avOverride))
	for k, v := range e.avOverride {
		over[k] = v
	}
	e.mu.Unlock()
	rows := make([]AVRow, 0, len(fl)+len(fl)/10)
	for i := range fl {
		m := &fl[i]
		if m.OnboardingStatus != "Onboarded" {
			continue
		}
		r := AVRowFor(m)
		if fn := over[m.ID]; fn != nil {
			fn(&r)
		}
		rows = append(rows, r)
		if h := hash64(m.ID); h%10 == 0 {
			old := r
			old.ID += "-1"
			old.AVMode = "1"
			old.AVIsSignatureUpToDate = "False"
			old.DataRefreshTimestamp = r.DataRefreshTimestamp.Add(-72 * time.Hour)
			rows = append(rows, old)
		}
	}
	c := &avRowsCache{fleet: fl, rows: rows}
	e.mu.Lock()
	e.avCache = c
	e.mu.Unlock()
	return c
}

// AVRowFor derives a machine's report row from its id and lastSeen, so
// that it does not change between syncs unless the machine does.
func AVRowFor(m *Machine) AVRow {
	h := hash64(m.ID)
	seen := m.LastSeen.UTC()
	r := AVRow{
		ID: m.ID + "-av", MachineID: m.ID, ComputerDNSName: m.ComputerDNSName, OSKind: osKind(m.OSPlatform),
		OSPlatform: m.OSPlatform, AVMode: "0",
		AVSignatureVersion: "1.4" + strconv.Itoa(10+int(h%5)) + "." + strconv.Itoa(int(h>>8%900)) + ".0",
		AVEngineVersion:    "1.1.24090.11", AVPlatformVersion: "4.18.24090.11",
		LastSeenTime: seen, DataRefreshTimestamp: seen,
		AVIsSignatureUpToDate: "True", AVIsEngineUpToDate: "True", AVIsPlatformUpToDate: "True",
		QuickScanResult: "Completed", FullScanResult: "Completed",
	}
	switch x := h >> 16 % 100; {
	case x < 5:
		r.AVMode = "1" // Passive
	case x < 7:
		r.AVMode = "4" // EDR in block mode
	case x < 8:
		r.AVMode = "2" // Disabled
	}
	sigAge := time.Duration(h>>24%20) * time.Hour
	if m.DefenderAVStatus != nil && *m.DefenderAVStatus == "NotUpdated" {
		r.AVIsSignatureUpToDate, r.AVIsEngineUpToDate = "False", "False"
		sigAge = time.Duration(7+h>>24%20) * 24 * time.Hour
		r.AVEngineVersion = "1.1.23110.2"
	}
	r.AVSignaturePublish = seen.Add(-sigAge)
	r.AVSignatureUpdate = r.AVSignaturePublish.Add(time.Hour)
	q := seen.Add(-time.Duration(h>>32%48) * time.Hour)
	r.QuickScanTime = &q
	if d := h >> 40 % 40; d < 36 { // a tenth have never run a full scan
		f := seen.Add(-time.Duration(d) * 24 * time.Hour)
		r.FullScanTime = &f
	} else {
		r.FullScanResult = ""
	}
	return r
}

func osKind(platform string) string {
	p := strings.ToLower(platform)
	switch {
	case strings.HasPrefix(p, "windows"):
		return "windows"
	case strings.HasPrefix(p, "macos"):
		return "mac"
	}
	return "linux"
}

func hash64(s string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return h.Sum64()
}

func isAVInfoPath(p string) bool {
	lp := strings.TrimSuffix(strings.ToLower(p), "/")
	return lp == "/api/deviceavinfo" || lp == "/api/v1.0/deviceavinfo"
}

// serveAVInfo answers the report: its own rate limits (30/min, 1,000/h per
// app and tenant), the AVInfoStatus fault, and $top/$skip paging with an
// @odata.nextLink while rows remain.
func (e *Emulator) serveAVInfo(w http.ResponseWriter, r *http.Request, f *Faults, key string, now time.Time) {
	if !f.NoRateLimit {
		e.mu.Lock()
		ra := e.limitN("av|"+key, now, avPerMinute, avPerHour)
		if ra > 0 {
			e.stats.Throttled++
		}
		e.mu.Unlock()
		if ra > 0 {
			setRetryAfter(w.Header(), ra, now, f.RetryAfterHTTPDate)
			writeAPIError(w, http.StatusTooManyRequests, "TooManyRequests", "Rate limit is exceeded. Try again later.")
			return
		}
	}
	if f.AVInfoStatus != 0 {
		writeAPIError(w, f.AVInfoStatus, avFaultCode(f.AVInfoStatus), "The antivirus health report is not available.")
		return
	}
	vals := r.URL.Query()
	size := avDefaultPage
	if f.AVInfoPageSize > 0 {
		size = f.AVInfoPageSize
	}
	top, skip := size, 0
	if v := vals.Get("$top"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > maxTop {
			writeAPIError(w, http.StatusBadRequest, "ODataError", "Invalid value for $top: '"+v+"'.")
			return
		}
		top = n
	}
	if v := vals.Get("$skip"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			writeAPIError(w, http.StatusBadRequest, "ODataError", "Invalid value for $skip: '"+v+"'.")
			return
		}
		skip = n
	}
	report := e.avRows()
	start := min(skip, len(report.rows))
	pk := avPageKey{start, top, r.Host, r.URL.Path, r.Header.Get("Accept-Encoding"), f.RawDeflate}
	p, ok := report.pages.Load(pk)
	if !ok {
		body, enc := compressedBody(encodeAVPage(report.rows, start, top, r), r, f)
		p = avPage{body, enc}
		report.pages.Store(pk, p)
	}
	sleep(r.Context(), f.SlowPage)
	writeCompressed(w, p.(avPage).body, p.(avPage).encoding)
}

// encodeAVPage is the JSON of the report page of top rows from start,
// with a nextLink while rows remain. The emulator encodes and compresses
// each page once per fleet: Microsoft's cost of serving the report is not
// Postern's, and the sync benchmarks run the emulator on the same CPUs.
func encodeAVPage(rows []AVRow, start, top int, r *http.Request) []byte {
	page := rows[start:min(start+top, len(rows))]
	out := struct {
		Context  string  `json:"@odata.context"`
		Value    []AVRow `json:"value"`
		NextLink string  `json:"@odata.nextLink,omitempty"`
	}{Context: "https://api.securitycenter.microsoft.com/api/$metadata#DeviceAvInfo", Value: page}
	if start+len(page) < len(rows) { // the report pages with nextLinks, $top or not
		u := *r.URL
		u.Scheme, u.Host = "https", r.Host
		q := url.Values{}
		q.Set("$top", strconv.Itoa(top))
		q.Set("$skip", strconv.Itoa(start+top))
		u.RawQuery = q.Encode()
		out.NextLink = u.String()
	}
	b, _ := json.Marshal(out)
	return b
}
func avFaultCode(status int) string {
	switch status {
	case http.StatusForbidden:
		return "Forbidden"
	case http.StatusNotFound:
		return "ResourceNotFound"
	case http.StatusTooManyRequests:
		return "TooManyRequests"
	}
	if status >= 500 {
		return "InternalServerError"
	}
	return "BadRequest"
}
