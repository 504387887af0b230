package defender

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	jsonv2 "github.com/go-json-experiment/json"
)

// MaxPageSize is the largest $top Defender accepts, of machines and of
// antivirus report rows alike.
const MaxPageSize = 10000

// ListOptions tune ListMachines; zero values take the defaults.
type ListOptions struct {
	PageSize      int           // $top of each page (at most 10,000); default 10,000
	MaxPages      int           // refuse listings longer than this; default 500
	MaxAttempts   int           // tries per page for 5xx, network errors and 429; default 6
	BaseBackoff   time.Duration // first backoff; default 1 s
	MaxBackoff    time.Duration // backoff cap; default 60 s
	MaxRetryAfter time.Duration // longest Retry-After honoured; default 5 min
	// Sleep waits d or until ctx ends; tests replace it.
	Sleep func(ctx context.Context, d time.Duration) error
	// Now is the clock for Retry-After dates.
	Now func() time.Time

	bodies *bodies // the listing's read buffers, when it reuses them
}

func (o *ListOptions) defaults() {
	if o.PageSize <= 0 || o.PageSize > MaxPageSize {
		o.PageSize = MaxPageSize
	}
	if o.MaxPages <= 0 {
		o.MaxPages = 500
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 6
	}
	if o.BaseBackoff <= 0 {
		o.BaseBackoff = time.Second
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = time.Minute
	}
	if o.MaxRetryAfter <= 0 {
		o.MaxRetryAfter = 5 * time.Minute
	}
	if o.Sleep == nil {
		o.Sleep = sleep
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// ListStats describe one listing.
type ListStats struct {
	Pages      int
	Seen       int // distinct machines passed to onPage
	Duplicates int // rows dropped because their id was already seen
	Invalid    int // rows dropped because they lack a usable id
	Unreadable int // rows skipped because they could not be decoded
	// FirstUnreadable says why the first unreadable row could not be read.
	FirstUnreadable string
	// UnreadableIDs are the ids of the unreadable rows that have one: the
	// machines are still listed, so their devices must not count as gone.
	UnreadableIDs  []string
	ThrottledWaits int // 429 answers waited out
	Retries        int // retries after 5xx or network errors
	Waited         time.Duration
}

// ListMachines fetches every machine, page by page, and hands each page's
// new machines to onPage. It follows @odata.nextLink when Defender sends
// one and otherwise pages with $top/$skip while pages come back full
// (docs/defender-api.md#paging); it drops repeated ids, stops at a repeated
// nextLink, and fails past MaxPages rather than report a partial list as
// complete. A 404 means no machines only on the first page and only in
// Defender's JSON error shape with a not-found code; any other 404 fails
// the listing (notfound.go). A machine that cannot be decoded is skipped
// and counted, unless most of its page cannot be (decode.go).
//
// Once a page is decoded and the next one is known, its request goes out
// while onPage handles this one: no call is made that paging one page at a
// time would not make, except when onPage fails.
func (c *Client) ListMachines(ctx context.Context, opts ListOptions, onPage func([]Machine) error) (ListStats, error) {
	opts.defaults()
	opts.bodies = new(bodies)
	var st ListStats
	seenIDs := make(map[string]struct{})
	seenLinks := make(map[string]struct{})
	skip := 0
	pending := c.fetchAsync(ctx, c.pageURL(opts.PageSize, skip), &opts)
	// A fetch still on its way when the listing ends early is stopped, and
	// waited for: nothing outlives the call.
	defer func() {
		pending.cancel()
		<-pending.done
	}()
	for {
		res, err := pending.wait(&st)
		if err != nil {
			return st, err
		}
		st.Pages++
		if res.status == http.StatusNotFound {
			if st.Pages == 1 && emptyTenant(res.body) {
				return st, nil // a tenant that has never used Defender
			}
			return st, notFoundError(res.body, st.Pages)
		}
		page, link, bad, err := decodePage(res.body, opts.PageSize)
		res.release()
		if err != nil {
			return st, err
		}
		st.addUnreadable(bad)
		fresh := page[:0]
		for _, m := range page {
			if !m.Valid() {
				st.Invalid++
				continue
			}
			m.ID = strings.ToLower(m.ID)
			if _, dup := seenIDs[m.ID]; dup {
				st.Duplicates++
				continue
			}
			seenIDs[m.ID] = struct{}{}
			fresh = append(fresh, m)
		}
		st.Seen += len(fresh)

		var next string
		switch {
		case link != "":
			if _, again := seenLinks[link]; !again {
				seenLinks[link] = struct{}{}
				if next, err = c.rebase(link); err != nil {
					return st, err
				}
			}
		case len(page)+bad.n >= opts.PageSize: // unreadable rows count: the page was full
			skip += opts.PageSize
			next = c.pageURL(opts.PageSize, skip)
		}
		if next != "" {
			if st.Pages >= opts.MaxPages {
				return st, &Error{Reason: BadResponse, Code: "page cap", Help: HelpTroubleshooting,
					Message: fmt.Sprintf("Defender kept sending pages past %d; the listing was stopped and nothing was changed.", opts.MaxPages)}
			}
			pending = c.fetchAsync(ctx, next, &opts)
		}
		if len(fresh) > 0 {
			if err := onPage(fresh); err != nil {
				return st, err
			}
		}
		if next == "" {
			st.UnreadableIDs = unseen(st.UnreadableIDs, seenIDs)
			return st, nil
		}
	}
}

// unseen keeps the ids not among the machines listed, once each.
func unseen(ids []string, seen map[string]struct{}) []string {
	out := ids[:0]
	for _, id := range ids {
		if _, ok := seen[id]; !ok {
			seen[id] = struct{}{}
			out = append(out, id)
		}
	}
	return out
}

// pageFetch is one page request on its way.
type pageFetch struct {
	done   chan struct{}
	res    response
	err    error
	st     ListStats // retries and waits of this page only
	cancel context.CancelFunc
}

// fetchAsync starts fetching u in the background.
func (c *Client) fetchAsync(ctx context.Context, u string, o *ListOptions) *pageFetch {
	ctx, cancel := context.WithCancel(ctx)
	f := &pageFetch{done: make(chan struct{}), cancel: cancel}
	go func() {
		defer close(f.done)
		f.res, f.err = c.fetch(ctx, u, o, &f.st)
	}()
	return f
}

// wait returns the page once it has arrived, adding its retries and waits
// to st.
func (f *pageFetch) wait(st *ListStats) (response, error) {
	<-f.done
	f.cancel()
	st.ThrottledWaits += f.st.ThrottledWaits
	st.Retries += f.st.Retries
	st.Waited += f.st.Waited
	return f.res, f.err
}

func (c *Client) pageURL(top, skip int) string {
	return fmt.Sprintf("%s/api/machines?$top=%d&$skip=%d", c.api, top, skip)
}

// rebase keeps a nextLink's path and query but sends it to our own API host:
// the bearer token must never follow a link to some other host.
func (c *Client) rebase(link string) (string, error) {
	u, err := url.Parse(link)
	if err != nil || !strings.HasSuffix(strings.ToLower(u.Path), "/machines") {
		return "", &Error{Reason: BadResponse, Code: "nextLink", Help: HelpTroubleshooting,
			Message: "Defender sent a next-page link Postern does not follow.", Err: fmt.Errorf("nextLink %q", link)}
	}
	return c.api + u.EscapedPath() + "?" + u.RawQuery, nil
}

// fetch GETs one page, waiting out 429s and retrying 5xx and network
// failures with capped, jittered exponential backoff.
func (c *Client) fetch(ctx context.Context, u string, o *ListOptions, st *ListStats) (response, error) {
	for attempt := 1; ; attempt++ {
		res, err := c.get(ctx, u, o.bodies)
		var wait time.Duration
		switch {
		case err != nil:
			if d, ok := tokenWait(err, o, attempt); ok && ctx.Err() == nil && attempt < o.MaxAttempts {
				wait = d
				st.ThrottledWaits++
				break
			}
			if ctx.Err() != nil || !retryable(err) || attempt >= o.MaxAttempts {
				return response{}, err
			}
			wait = backoff(o, attempt)
			st.Retries++
		case res.status == http.StatusOK || res.status == http.StatusNotFound:
			return res, nil
		case res.status == http.StatusTooManyRequests:
			if attempt >= o.MaxAttempts {
				return response{}, c.apiErrorOf(res, StageSync)
			}
			d, ok := ParseRetryAfter(res.retryAfter, o.Now())
			if !ok {
				d = backoff(o, attempt)
			}
			wait = min(d, o.MaxRetryAfter)
			st.ThrottledWaits++
		case res.status >= 500:
			if attempt >= o.MaxAttempts {
				return response{}, c.apiErrorOf(res, StageSync)
			}
			wait = backoff(o, attempt)
			st.Retries++
		default:
			return response{}, c.apiErrorOf(res, StageSync)
		}
		st.Waited += wait
		if err := o.Sleep(ctx, wait); err != nil {
			return response{}, err
		}
	}
}

// retryable reports whether a failed call may succeed if tried again.
func retryable(err error) bool {
	var e *Error
	if !errors.As(err, &e) {
		return false
	}
	return e.Reason == Unreachable || e.Reason == ServiceError
}

// backoff is min(MaxBackoff, BaseBackoff·2^(attempt-1)), with full jitter
// over its upper half so that clients do not retry in step.
func backoff(o *ListOptions, attempt int) time.Duration {
	d := o.BaseBackoff << min(attempt-1, 20)
	if d <= 0 || d > o.MaxBackoff {
		d = o.MaxBackoff
	}
	return d/2 + rand.N(d/2+1)
}

// ParseRetryAfter reads a Retry-After header: delay-seconds or an HTTP date
// (RFC 9110 §10.2.3). It reports false for anything else.
func ParseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 || n > 86400 {
			return 0, false
		}
		return time.Duration(n) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return max(t.Sub(now), 0), true
}

// Machine fetches one machine by id (Re-check now).
func (c *Client) Machine(ctx context.Context, id string) (Machine, error) {
	var m Machine
	var st ListStats
	o := ListOptions{MaxAttempts: 3}
	o.defaults()
	res, err := c.fetch(ctx, c.api+"/api/machines/"+url.PathEscape(id), &o, &st)
	if err != nil {
		return m, err
	}
	if res.status == http.StatusNotFound && !emptyTenant(res.body) {
		return m, notFoundError(res.body, 0)
	}
	if res.status == http.StatusNotFound {
		return m, &Error{Reason: NotFound, Code: "404 ResourceNotFound", Help: HelpTroubleshooting,
			Message: "Defender no longer lists this device: it may have been offboarded, or left the retention period."}
	}
	if err := jsonv2.Unmarshal(res.body, &m, machineJSON); err != nil || !m.Valid() {
		return m, &Error{Reason: BadResponse, Code: "invalid JSON", Help: HelpTroubleshooting,
			Message: "Defender answered with a device Postern could not read.", Err: fmt.Errorf("decode machine: %v", err)}
	}
	m.ID = strings.ToLower(m.ID)
	return m, nil
}
