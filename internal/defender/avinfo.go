package defender

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// AVInfo is one row of Defender's antivirus health report, GET
// /api/deviceavinfo (docs/defender-api.md#antivirus-health-report). The
// report holds a row per unique combination of device, AV mode, up-to-date
// state and scan results, so a device can have several: ListAVInfo keeps
// the latest. Up-to-date flags are the strings "True", "False" or
// "Unknown"; avMode is a number in a string ("0" Active … "5" PassiveAudit).
// A time the report leaves out or sends as null is zero.
type AVInfo struct {
	MachineID            string        `json:"machineId"`
	AVMode               lenientString `json:"avMode"`
	SignatureVersion     lenientString `json:"avSignatureVersion"`
	EngineVersion        lenientString `json:"avEngineVersion"`
	PlatformVersion      lenientString `json:"avPlatformVersion"`
	SignatureUpToDate    lenientString `json:"avIsSignatureUpToDate"`
	EngineUpToDate       lenientString `json:"avIsEngineUpToDate"`
	PlatformUpToDate     lenientString `json:"avIsPlatformUpToDate"`
	SignaturePublishTime Time          `json:"avSignaturePublishTime"`
	SignatureUpdateTime  Time          `json:"avSignatureUpdateTime"`
	QuickScanTime        Time          `json:"quickScanTime"`
	QuickScanResult      lenientString `json:"quickScanResult"`
	FullScanTime         Time          `json:"fullScanTime"`
	FullScanResult       lenientString `json:"fullScanResult"`
	DataRefreshTimestamp Time          `json:"dataRefreshTimestamp"`
	LastSeenTime         Time          `json:"lastSeenTime"`
}

// lenientString reads a JSON string, number or boolean as its text, and
// null as "": Microsoft documents these fields as strings, but the report's
// own examples mix types.
type lenientString string

// UnmarshalJSON implements json.Unmarshaler.
func (s *lenientString) UnmarshalJSON(b []byte) error {
	v, err := lenientText(b, nil)
	*s = lenientString(v)
	return err
}

// lenientText is the text of a JSON value as lenientString reads it. With
// a non-nil intern table it allocates each distinct plain string once: a
// report of 100,000 rows holds a few hundred distinct versions and flags.
func lenientText(b []byte, intern map[string]string) (string, error) {
	b = bytes.TrimSpace(b)
	switch {
	case string(b) == "null":
		return "", nil
	case len(b) >= 2 && b[0] == '"' && b[len(b)-1] == '"' && bytes.IndexByte(b[1:len(b)-1], '\\') < 0:
		raw := b[1 : len(b)-1]
		if v, ok := intern[string(raw)]; ok {
			return v, nil
		}
		v := string(raw)
		if intern != nil && len(intern) < maxInterned {
			intern[v] = v
		}
		return v, nil
	case len(b) > 0 && b[0] == '"':
		var v string
		err := jsonv2.Unmarshal(b, &v)
		return v, err
	}
	return string(b), nil
}

// maxInterned bounds a listing's intern table, whatever the report holds.
const maxInterned = 4096

// internedText decodes lenientStrings through one listing's intern table.
func internedText(intern map[string]string) jsonv2.Options {
	return jsonv2.WithUnmarshalers(jsonv2.UnmarshalFromFunc(func(dec *jsontext.Decoder, s *lenientString) error {
		b, err := dec.ReadValue()
		if err != nil {
			return err
		}
		v, err := lenientText(b, intern)
		*s = lenientString(v)
		return err
	}))
}

// refreshed is the row's freshness: dataRefreshTimestamp, else lastSeenTime.
func (a *AVInfo) refreshed() time.Time {
	if !a.DataRefreshTimestamp.IsZero() {
		return a.DataRefreshTimestamp.Time
	}
	return a.LastSeenTime.Time
}

// AVStats describe one antivirus health listing.
type AVStats struct {
	Pages          int
	Rows           int // rows received
	Machines       int // distinct machine ids kept
	ThrottledWaits int
}

// AVPageSize is the $top of each report page: the documented maximum.
const AVPageSize = MaxPageSize

// ListAVInfo reads the whole antivirus health report and returns the latest
// row of each machine, by lower-cased machine id, sorted by it. It follows
// @odata.nextLink, else pages with $top/$skip while pages come back full,
// and fails past opts.MaxPages. The caller decides what a failure means: for
// the sync, the run's antivirus signals are unknown, never the run failed.
func (c *Client) ListAVInfo(ctx context.Context, opts ListOptions) ([]AVInfo, AVStats, error) {
	opts.defaults()
	top := min(opts.PageSize, AVPageSize)
	var (
		st        AVStats
		ls        ListStats
		pages     [][]AVInfo // every page's rows, in the order listed
		seenLinks = map[string]struct{}{}
		decode    = jsonv2.JoinOptions(machineJSON, internedText(make(map[string]string)))
	)
	opts.bodies = new(bodies)
	u, skip := c.avPageURL(top, 0), 0
	for u != "" {
		res, err := c.fetch(ctx, u, &opts, &ls)
		st.ThrottledWaits = ls.ThrottledWaits
		if err != nil {
			return nil, st, err
		}
		st.Pages++
		if res.status == http.StatusNotFound {
			return nil, st, &Error{Reason: NotFound, Code: "404", Help: HelpTroubleshooting,
				Message: "Microsoft answered 404 Not Found for the antivirus health report: antivirus signals are unknown for this run."}
		}
		page := valueList[AVInfo]{items: make([]AVInfo, 0, top)}
		link, err := decodeAVPage(res.body, &page, decode)
		res.release()
		if err != nil {
			return nil, st, err
		}
		st.Rows += len(page.items)
		pages = append(pages, page.items)
		u = ""
		switch {
		case link != "":
			if _, again := seenLinks[link]; !again {
				seenLinks[link] = struct{}{}
				if u, err = c.rebaseAV(link); err != nil {
					return nil, st, err
				}
			}
		case len(page.items) >= top:
			skip += top
			u = c.avPageURL(top, skip)
		}
		if u != "" && st.Pages >= opts.MaxPages {
			return nil, st, &Error{Reason: BadResponse, Code: "page cap", Help: HelpTroubleshooting,
				Message: fmt.Sprintf("The antivirus health report kept sending pages past %d; antivirus signals are unknown for this run.", opts.MaxPages)}
		}
	}
	out := latestAV(pages)
	st.Machines = len(out)
	return out, st, nil
}

// latestAV keeps the latest row of each machine (the last listed among
// equally fresh ones), in machine id order, its id lower-cased and
// trimmed; rows without an id are dropped. It sorts positions, not the
// rows, which are about 300 bytes each.
func latestAV(pages [][]AVInfo) []AVInfo {
	type at struct{ page, row int32 }
	n := 0
	for _, rows := range pages {
		n += len(rows)
	}
	order := make([]at, 0, n)
	for p, rows := range pages {
		for r := range rows {
			id := &rows[r].MachineID
			if *id = strings.ToLower(strings.TrimSpace(*id)); *id != "" {
				order = append(order, at{int32(p), int32(r)})
			}
		}
	}
	row := func(a at) *AVInfo { return &pages[a.page][a.row] }
	slices.SortFunc(order, func(a, b at) int {
		ra, rb := row(a), row(b)
		if c := strings.Compare(ra.MachineID, rb.MachineID); c != 0 {
			return c
		}
		if c := rb.refreshed().Compare(ra.refreshed()); c != 0 {
			return c // the freshest first
		}
		return cmp.Or(cmp.Compare(b.page, a.page), cmp.Compare(b.row, a.row)) // then the last listed
	})
	var out []AVInfo
	for _, a := range order {
		if n := len(out); n == 0 || out[n-1].MachineID != row(a).MachineID {
			if out == nil {
				out = make([]AVInfo, 0, len(order))
			}
			out = append(out, *row(a))
		}
	}
	return out
}

func (c *Client) avPageURL(top, skip int) string {
	return fmt.Sprintf("%s/api/deviceavinfo?$top=%d&$skip=%d", c.api, top, skip)
}

// rebaseAV keeps a report nextLink on our own API host, like rebase.
func (c *Client) rebaseAV(link string) (string, error) {
	u, err := url.Parse(link)
	if err != nil || !strings.HasSuffix(strings.ToLower(u.Path), "/deviceavinfo") {
		return "", &Error{Reason: BadResponse, Code: "nextLink", Help: HelpTroubleshooting,
			Message: "The antivirus health report sent a next-page link Postern does not follow.", Err: fmt.Errorf("nextLink %q", link)}
	}
	return c.api + u.EscapedPath() + "?" + u.RawQuery, nil
}

func decodeAVPage(body []byte, page *valueList[AVInfo], opts jsonv2.Options) (string, error) {
	p := struct {
		Value    *valueList[AVInfo] `json:"value"`
		NextLink string             `json:"@odata.nextLink"`
	}{Value: page}
	page.present = false
	if err := jsonv2.Unmarshal(body, &p, opts); err != nil || !page.present {
		if err == nil {
			err = errors.New(`no "value" member`)
		}
		return "", &Error{Reason: BadResponse, Code: "invalid JSON", Help: HelpTroubleshooting,
			Message: "Microsoft answered the antivirus health report with a page Postern could not read.",
			Err:     fmt.Errorf("decode deviceavinfo page: %w", err)}
	}
	return p.NextLink, nil
}
