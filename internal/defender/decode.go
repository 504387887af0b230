package defender

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

type page struct {
	Value    *valueList[Machine] `json:"value"`
	NextLink string              `json:"@odata.nextLink"`
}

// rawPage is a page whose machines are kept undecoded, to read them one by
// one when the page as a whole cannot be.
type rawPage struct {
	Value    *[]jsontext.Value `json:"value"`
	NextLink string            `json:"@odata.nextLink"`
}

// Machines are decoded with go-json-experiment/json, the implementation
// behind encoding/json/v2: it reads a 10,000-machine page in about half the
// time encoding/json takes, and decoding is the largest CPU cost of a sync.
// These options keep encoding/json's leniency towards what Defender sends:
// names match whatever their case, invalid UTF-8 becomes U+FFFD, and a
// repeated name keeps its last value.
var machineJSON = jsonv2.JoinOptions(jsonv2.MatchCaseInsensitiveNames(true),
	jsontext.AllowInvalidUTF8(true), jsontext.AllowDuplicateNames(true))

// Int64 is an integer Defender may send as a number or as a numeric
// string: Microsoft documents rbacGroupId as a String and sends a number.
// An empty string reads as 0. It encodes as a number. (A field type and
// not a decoding option: an option made the decoder look for a custom
// unmarshaler at every value of every page, a tenth of its time.)
type Int64 int64

// UnmarshalJSONFrom implements json.UnmarshalerFrom.
func (v *Int64) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	tok, err := dec.ReadToken()
	if err != nil {
		return err
	}
	var s string
	switch tok.Kind() {
	case '0':
		s = tok.String()
	case '"':
		if s = strings.TrimSpace(tok.String()); s == "" {
			*v = 0
			return nil
		}
	default:
		return fmt.Errorf("a %v is not a whole number", tok.Kind())
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return fmt.Errorf("%q is not a whole number", tok.String())
	}
	*v = Int64(n)
	return nil
}

// Ptr is v as the store keeps it.
func (v *Int64) Ptr() *int64 {
	if v == nil {
		return nil
	}
	n := int64(*v)
	return &n
}

// unreadable counts the machines of one page that could not be decoded.
type unreadable struct {
	n     int
	first string   // why the first one could not be read
	ids   []string // the ids of those that have a usable one
}

func (st *ListStats) addUnreadable(u unreadable) {
	if u.n == 0 {
		return
	}
	if st.Unreadable == 0 {
		st.FirstUnreadable = u.first
	}
	st.Unreadable += u.n
	st.UnreadableIDs = append(st.UnreadableIDs, u.ids...)
}

// decodePage reads one page of machines. The whole page is decoded at
// once; only when that fails are its machines read one by one, so that a
// machine with an unexpected value is skipped and counted rather than fail
// the page on every run. A page that is not JSON, or where most machines
// cannot be read, fails.
//
// size is how many machines a full page holds: the page is decoded into a
// slice of that capacity.
func decodePage(body []byte, size int) ([]Machine, string, unreadable, error) {
	list := valueList[Machine]{items: make([]Machine, 0, max(min(size, MaxPageSize), 0))}
	p := page{Value: &list}
	err := jsonv2.Unmarshal(body, &p, machineJSON)
	if err == nil && list.present {
		return list.items, p.NextLink, unreadable{}, nil
	}
	var raw rawPage
	if rerr := jsonv2.Unmarshal(body, &raw, machineJSON); rerr != nil || raw.Value == nil {
		if err == nil {
			err = errors.New(`no "value" member`)
		}
		return nil, "", unreadable{}, pageError(err)
	}
	ms := make([]Machine, 0, len(*raw.Value))
	var bad unreadable
	for _, v := range *raw.Value {
		var m Machine
		if err := jsonv2.Unmarshal(v, &m, machineJSON); err != nil {
			id := idOf(v)
			if bad.n == 0 {
				bad.first = describeUnreadable(id, err)
			}
			if id != "" {
				bad.ids = append(bad.ids, id)
			}
			bad.n++
			continue
		}
		ms = append(ms, m)
	}
	if total := len(*raw.Value); bad.n*2 > total {
		return nil, "", bad, &Error{Reason: BadResponse, Code: "unreadable page", Help: HelpTroubleshooting,
			Message: fmt.Sprintf("Defender sent a page where %d of %d machines could not be read (the first: %s); nothing was changed and the next sync will try again.", bad.n, total, bad.first),
			Err:     fmt.Errorf("decode machines page: %d of %d unreadable", bad.n, total)}
	}
	return ms, raw.NextLink, bad, nil
}

func pageError(err error) *Error {
	return &Error{Reason: BadResponse, Code: "invalid JSON", Help: HelpTroubleshooting,
		Message: "Defender answered with a page Postern could not read; nothing was changed and the next sync will try again.",
		Err:     fmt.Errorf("decode machines page: %w", err)}
}

// describeUnreadable names the machine (by id when it has one) and what
// could not be read, briefly: the run and the log keep it.
func describeUnreadable(id string, err error) string {
	msg := strings.TrimPrefix(err.Error(), "json: ")
	if len(msg) > 200 {
		msg = strings.ToValidUTF8(msg[:200], "") + "…"
	}
	if id != "" {
		return "machine " + id + ": " + msg
	}
	return msg
}

// idOf is the id of an undecodable machine when it has a usable one, in
// lower case as listed machines are.
func idOf(v jsontext.Value) string {
	var m Machine
	var id struct {
		ID string `json:"id"`
	}
	_ = jsonv2.Unmarshal(v, &id, machineJSON)
	m.ID = id.ID
	if !m.Valid() {
		return ""
	}
	return strings.ToLower(m.ID)
}

// valueList decodes a page's "value" array into items, into the capacity
// items already has: decoding into a nil slice grows it by doubling, which
// allocated twice a page's size for every page. present reports whether the
// page had a non-null "value".
type valueList[T any] struct {
	items   []T
	present bool
}

// UnmarshalJSONFrom implements json.UnmarshalerFrom; the options of the
// whole page's decoding apply to the items.
func (l *valueList[T]) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	if dec.PeekKind() == 'n' {
		_, err := dec.ReadToken()
		return err
	}
	l.present = true
	return jsonv2.UnmarshalDecode(dec, &l.items)
}
