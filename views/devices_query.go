package views

import (
	"net/url"
	"slices"
	"strconv"

	"postern/views/components"
)

// DeviceQuery is the validated state of the device list: filters, sort and
// page. Empty fields do not filter; every value here was checked against
// what the filters offer.
type DeviceQuery struct {
	Search     string
	Health     string
	Risk       string // a risk score, or RiskUnscored
	Exposure   string
	Onboarding string
	Platform   string
	Tag        string
	Show       string // "" active, "removed", "all"
	// Kind: "" the devices Defender protects (the default), KindDiscovered
	// the ones its device discovery found, KindAll both. An Onboarding
	// filter overrides it.
	Kind    string
	Verdict string // "" any, or one of VerdictChoices' values
	Sort    string // host, health, risk, exposure, platform, last_seen
	Desc    bool
	Page    int
	PerPage int // one of PageSizes; 0 is DefaultPageSize
}

// Verdict filter values: a device's access as the enforcement API answers
// (the dashboard's compliance tiles link to them).
const (
	VerdictAllowed = "allowed"
	VerdictDenied  = "denied"
	VerdictUnknown = "unknown"
)

// Kind filter values.
const (
	KindDiscovered = "discovered"
	KindAll        = "all"
)

// PageSizes are the page sizes the list offers; DefaultPageSize is left
// out of links.
var PageSizes = []int{25, 50, 100, 200}

// DefaultPageSize is the page size of a plain link to the list.
const DefaultPageSize = 50

// Size is the page size in force.
func (q DeviceQuery) Size() int {
	if q.PerPage <= 0 {
		return DefaultPageSize
	}
	return q.PerPage
}

// RiskUnscored filters devices that Defender gave no risk score.
const RiskUnscored = "unscored"

// DefaultSortDesc says which direction a column sorts first: the worst or
// newest first for scales and times, A to Z for names.
func DefaultSortDesc(sort string) bool {
	return sort == "risk" || sort == "exposure" || sort == "last_seen"
}

// Filtered reports whether any filter (not sort or page) is set.
func (q DeviceQuery) Filtered() bool {
	return q.Search != "" || q.Health != "" || q.Risk != "" || q.Exposure != "" || q.Onboarding != "" ||
		q.Platform != "" || q.Tag != "" || q.Show != "" || q.Verdict != "" || q.Kind != ""
}

func (q DeviceQuery) sortKey() string {
	if q.Sort == "" {
		return "host"
	}
	return q.Sort
}

// values encodes q, leaving defaults out so links stay short.
func (q DeviceQuery) values() url.Values {
	v := url.Values{}
	set := func(k, s string) {
		if s != "" {
			v.Set(k, s)
		}
	}
	set("q", q.Search)
	set("health", q.Health)
	set("risk", q.Risk)
	set("exposure", q.Exposure)
	set("onboarding", q.Onboarding)
	set("platform", q.Platform)
	set("tag", q.Tag)
	set("show", q.Show)
	set("kind", q.Kind)
	set("verdict", q.Verdict)
	if s := q.sortKey(); s != "host" {
		v.Set("sort", s)
	}
	if q.Desc != DefaultSortDesc(q.sortKey()) {
		v.Set("dir", dirName(q.Desc))
	}
	if q.Size() != DefaultPageSize {
		v.Set("per_page", strconv.Itoa(q.Size()))
	}
	if q.Page > 1 {
		v.Set("page", strconv.Itoa(q.Page))
	}
	return v
}

// keptFields are the parameters a form of the list keeps as hidden fields:
// everything in q but the ones the form itself sets.
func (q DeviceQuery) keptFields(except ...string) [][2]string {
	v := q.values()
	var out [][2]string
	for _, k := range []string{"q", "health", "risk", "exposure", "onboarding", "platform", "tag", "show", "kind", "verdict", "sort", "dir", "per_page", "page"} {
		if v.Has(k) && !slices.Contains(except, k) {
			out = append(out, [2]string{k, v.Get(k)})
		}
	}
	return out
}

// CSVURL is the export of the list as filtered and sorted, every page.
func (q DeviceQuery) CSVURL() string {
	q.Page, q.PerPage = 0, 0
	if v := q.values(); len(v) > 0 {
		return "/devices.csv?" + v.Encode()
	}
	return "/devices.csv"
}

// sortFields are the sort parameters and the page size (name, value), for
// the filter form to keep.
func (q DeviceQuery) sortFields() [][2]string {
	return DeviceQuery{Sort: q.Sort, Desc: q.Desc, PerPage: q.PerPage}.keptFields()
}

func dirName(desc bool) string {
	if desc {
		return "desc"
	}
	return "asc"
}

// URL is the list with q applied.
func (q DeviceQuery) URL() string {
	if v := q.values(); len(v) > 0 {
		return "/devices?" + v.Encode()
	}
	return "/devices"
}

func (q DeviceQuery) pageURL(page int) string {
	q.Page = page
	return q.URL()
}

// sortURL sorts by col: the other way round when it already sorts by col,
// otherwise in col's natural direction; back to the first page either way.
func (q DeviceQuery) sortURL(col string) string {
	if q.sortKey() == col {
		q.Desc = !q.Desc
	} else {
		q.Sort, q.Desc = col, DefaultSortDesc(col)
	}
	q.Page = 1
	return q.URL()
}

func (q DeviceQuery) sortState(col string) string {
	if q.sortKey() != col {
		return ""
	}
	if q.Desc {
		return components.SortDescending
	}
	return components.SortAscending
}

func (q DeviceQuery) tagURL(tag string) string {
	return DeviceQuery{Tag: tag}.URL()
}
