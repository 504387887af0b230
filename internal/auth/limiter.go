package auth

import (
	"net/netip"
	"sync"
	"time"
)

// Limiter counts failed sign-ins per key (an account, a client address) in a
// sliding window. Once a key reaches its limit, attempts are refused until
// its oldest failure leaves the window. Successful sign-ins reset only the
// account key, so one good password cannot clear an attacker's address.
type Limiter struct {
	max    int
	window time.Duration
	now    func() time.Time

	mu       sync.Mutex
	failures map[string][]time.Time
}

// maxKeys bounds memory under a flood of distinct keys. At the cap, keys
// whose failures have all expired are dropped; if that frees nothing, new
// keys go untracked until it does. Tracked keys are never evicted, so a
// flood cannot clear a locked-out account.
const maxKeys = 100_000

// NewLimiter allows max failures per key within window.
func NewLimiter(max int, window time.Duration, now func() time.Time) *Limiter {
	if now == nil {
		now = time.Now
	}
	return &Limiter{max: max, window: window, now: now, failures: make(map[string][]time.Time)}
}

// Allow reports whether an attempt may proceed for every key, and if not, how
// long until it may.
func (l *Limiter) Allow(keys ...string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.allowLocked(l.now(), keys)
}

func (l *Limiter) allowLocked(now time.Time, keys []string) (bool, time.Duration) {
	var wait time.Duration
	for _, k := range keys {
		fs := l.prune(k, now)
		if len(fs) >= l.max {
			if w := fs[len(fs)-l.max].Add(l.window).Sub(now); w > wait {
				wait = w
			}
		}
	}
	return wait == 0, wait
}

// Attempt is Allow and Fail in one step: when allowed, the attempt counts as
// a failure at once, so parallel requests cannot all slip under the limit
// while their passwords are checked. Refund it if the attempt succeeds.
func (l *Limiter) Attempt(keys ...string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if ok, wait := l.allowLocked(now, keys); !ok {
		return false, wait
	}
	l.failLocked(now, keys)
	return true, 0
}

// Refund takes back the most recent failure of each key.
func (l *Limiter) Refund(keys ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, k := range keys {
		if fs := l.failures[k]; len(fs) > 1 {
			l.failures[k] = fs[:len(fs)-1]
		} else {
			delete(l.failures, k)
		}
	}
}

// Fail records a failed attempt against every key.
func (l *Limiter) Fail(keys ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.failLocked(l.now(), keys)
}

func (l *Limiter) failLocked(now time.Time, keys []string) {
	for _, k := range keys {
		if _, tracked := l.failures[k]; !tracked && len(l.failures) >= maxKeys {
			l.sweep(now)
			if len(l.failures) >= maxKeys {
				continue
			}
		}
		l.failures[k] = append(l.prune(k, now), now)
	}
}

// Reset forgets the failures of key.
func (l *Limiter) Reset(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.failures, key)
}

func (l *Limiter) prune(k string, now time.Time) []time.Time {
	fs := l.failures[k]
	i := 0
	for i < len(fs) && now.Sub(fs[i]) >= l.window {
		i++
	}
	if i == len(fs) {
		delete(l.failures, k)
		return nil
	}
	fs = fs[i:]
	l.failures[k] = fs
	return fs
}

func (l *Limiter) sweep(now time.Time) {
	for k := range l.failures {
		l.prune(k, now)
	}
}

// AddressKey is the limiter key of a client address. IPv6 clients are
// grouped by /64, the block one subscriber usually holds, so rotating
// addresses within it does not buy fresh attempts.
func AddressKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return "ip:" + ip
	}
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		return "ip:" + p.String()
	}
	return "ip:" + a.String()
}
