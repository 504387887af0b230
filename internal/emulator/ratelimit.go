package emulator

import (
	"net/http"
	"strconv"
	"time"
)

// verdict is what admit decided for an authorised API request.
type verdict struct {
	retryAfter time.Duration // > 0: answer 429
	fail       bool          // answer 500 (Faults.Fail5xx)
}

// admit applies, in order, forced 429s, the per-(appid, tid) sliding-window
// limits (100/min and 1,500/h by default) and forced 500s. A throttled request
// does not count towards the limits, but retrying early keeps hitting them.
func (e *Emulator) admit(key string, now time.Time) verdict {
	e.mu.Lock()
	defer e.mu.Unlock()
	f := &e.faults
	if f.Throttle > 0 {
		f.Throttle--
		e.stats.Throttled++
		ra := f.RetryAfter
		if ra <= 0 {
			ra = time.Second
		}
		return verdict{retryAfter: ra}
	}
	if !f.NoRateLimit {
		if ra := e.limit(key, now, f); ra > 0 {
			e.stats.Throttled++
			return verdict{retryAfter: ra}
		}
	}
	if f.Fail5xx > 0 {
		f.Fail5xx--
		return verdict{fail: true}
	}
	return verdict{}
}

// limit records a call for key unless a window is full; then it returns how
// long until a slot frees. Callers hold e.mu.
func (e *Emulator) limit(key string, now time.Time, f *Faults) time.Duration {
	perMin, perHour := f.RateLimitPerMinute, f.RateLimitPerHour
	if perMin <= 0 {
		perMin = defaultPerMinute
	}
	if perHour <= 0 {
		perHour = defaultPerHour
	}
	return e.limitN(key, now, perMin, perHour)
}

// limitN is limit with the windows' sizes given. Callers hold e.mu.
func (e *Emulator) limitN(key string, now time.Time, perMin, perHour int) time.Duration {
	log := e.calls[key]
	drop := 0
	for drop < len(log) && !log[drop].After(now.Add(-time.Hour)) {
		drop++
	}
	log = log[drop:]
	var wait time.Duration
	if n := countSince(log, now.Add(-time.Minute)); n >= perMin {
		wait = log[len(log)-perMin].Add(time.Minute).Sub(now)
	}
	if len(log) >= perHour {
		wait = max(wait, log[len(log)-perHour].Add(time.Hour).Sub(now))
	}
	if wait > 0 {
		e.calls[key] = log
		return wait
	}
	e.calls[key] = append(log, now)
	return 0
}

// countSince counts the entries after t in an ascending log.
func countSince(log []time.Time, t time.Time) int {
	n := 0
	for i := len(log) - 1; i >= 0 && log[i].After(t); i-- {
		n++
	}
	return n
}

// setRetryAfter writes the header in whole seconds (rounded up, at least 1),
// or as an HTTP date when the fault asks for that form.
func setRetryAfter(h http.Header, d time.Duration, now time.Time, httpDate bool) {
	secs := int64((d + time.Second - 1) / time.Second)
	secs = max(secs, 1)
	if httpDate {
		h.Set("Retry-After", now.Add(time.Duration(secs)*time.Second).UTC().Format(http.TimeFormat))
		return
	}
	h.Set("Retry-After", strconv.FormatInt(secs, 10))
}
