package defender

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	jsonv2 "github.com/go-json-experiment/json"
)

// AVInfo is one row of Defender's antivirus health report, GET
// /api/deviceavinfo (docs/defender-api.md#antivirus-health-report). The
// report holds a row per unique combination of device, AV mode, up-to-date
// state and scan results, so a device can have several: ListAVInfo keeps
// the latest. Up-to-date flags are the strings "True", "False" or
// "Unknown"; avMode is a number in a string ("0" Active … "5" PassiveAudit).
type AVInfo struct {
	MachineID            string        `json:"machineId"`
	AVMode               lenientString `json:"avMode"`
	SignatureVersion     string        `json:"avSignatureVersion"`
	EngineVersion        string        `json:"avEngineVersion"`
	PlatformVersion      string        `json:"avPlatformVersion"`
	SignatureUpToDate    lenientString `json:"avIsSignatureUpToDate"`
	EngineUpToDate       lenientString `json:"avIsEngineUpToDate"`
	PlatformUpToDate     lenientString `json:"avIsPlatformUpToDate"`
	SignaturePublishTime *Time         `json:"avSignaturePublishTime"`
	SignatureUpdateTime  *Time         `json:"avSignatureUpdateTime"`
	QuickScanTime        *Time         `json:"quickScanTime"`
	QuickScanResult      string        `json:"quickScanResult"`
	FullScanTime         *Time         `json:"fullScanTime"`
	FullScanResult       string        `json:"fullScanResult"`
	DataRefreshTimestamp *Time         `json:"dataRefreshTimestamp"`
	LastSeenTime         *Time         `json:"lastSeenTime"`
}

// lenientString reads a JSON string, number or boolean as its text, and
// null as "": Microsoft documents these fields as strings, but the report's
// own examples mix types.
type lenientString string

// UnmarshalJSON implements json.Unmarshaler.
func (s *lenientString) UnmarshalJSON(b []byte) error {
	t := strings.TrimSpace(string(b))
	switch {
	case t == "null":
		*s = ""
	case strings.HasPrefix(t, `"`):
		var v string
		if err := jsonv2.Unmarshal(b, &v); err != nil {
			return err
		}
		*s = lenientString(v)
	default:
		*s = lenientString(t)
	}
	return nil
}

// refreshed is the row's freshness: dataRefreshTimestamp, else lastSeenTime.
func (a *AVInfo) refreshed() Time {
	switch {
	case a.DataRefreshTimestamp != nil && !a.DataRefreshTimestamp.IsZero():
		return *a.DataRefreshTimestamp
	case a.LastSeenTime != nil:
		return *a.LastSeenTime
	}
	return Time{}
}

// AVStats describe one antivirus health listing.
type AVStats struct {
	Pages          int
	Rows           int // rows received
	Machines       int // distinct machine ids kept
	ThrottledWaits int
}

// AVPageSize is the $top of each report page: the documented maximum.
const AVPageSize = 10000

// ListAVInfo reads the whole antivirus health report and returns the latest
// row of each machine, by lower-cased machine id. It follows
// @odata.nextLink, else pages with $top/$skip while pages come back full,
// and fails past opts.MaxPages. The caller decides what a failure means: for
// the sync, the run's antivirus signals are unknown, never the run failed.
func (c *Client) ListAVInfo(ctx context.Context, opts ListOptions) (map[string]AVInfo, AVStats, error) {
	opts.defaults()
	top := min(opts.PageSize, AVPageSize)
	out := make(map[string]AVInfo)
	var st AVStats
	var ls ListStats
	seenLinks := map[string]struct{}{}
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
		rows, link, err := decodeAVPage(res.body)
		if err != nil {
			return nil, st, err
		}
		st.Rows += len(rows)
		for _, r := range rows {
			id := strings.ToLower(strings.TrimSpace(r.MachineID))
			if id == "" {
				continue
			}
			r.MachineID = id
			if old, ok := out[id]; ok && !r.refreshed().After(old.refreshed().Time) {
				continue
			}
			out[id] = r
		}
		u = ""
		switch {
		case link != "":
			if _, again := seenLinks[link]; !again {
				seenLinks[link] = struct{}{}
				if u, err = c.rebaseAV(link); err != nil {
					return nil, st, err
				}
			}
		case len(rows) >= top:
			skip += top
			u = c.avPageURL(top, skip)
		}
		if u != "" && st.Pages >= opts.MaxPages {
			return nil, st, &Error{Reason: BadResponse, Code: "page cap", Help: HelpTroubleshooting,
				Message: fmt.Sprintf("The antivirus health report kept sending pages past %d; antivirus signals are unknown for this run.", opts.MaxPages)}
		}
	}
	st.Machines = len(out)
	return out, st, nil
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

type avPage struct {
	Value    *[]AVInfo `json:"value"`
	NextLink string    `json:"@odata.nextLink"`
}

func decodeAVPage(body []byte) ([]AVInfo, string, error) {
	var p avPage
	if err := jsonv2.Unmarshal(body, &p, machineJSON); err != nil || p.Value == nil {
		if err == nil {
			err = errors.New(`no "value" member`)
		}
		return nil, "", &Error{Reason: BadResponse, Code: "invalid JSON", Help: HelpTroubleshooting,
			Message: "Microsoft answered the antivirus health report with a page Postern could not read.",
			Err:     fmt.Errorf("decode deviceavinfo page: %w", err)}
	}
	return *p.Value, p.NextLink, nil
}
