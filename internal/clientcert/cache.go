package clientcert

import (
	"crypto/sha256"
	"net/http"
	"sync"
	"time"
)

// Cache remembers the identities read from forwarded certificates, keyed
// by the forwarded headers' exact bytes, so that a proxy asking again for
// the same client costs neither decoding nor chain verification. An entry
// lasts cacheFor, and never past a verified certificate's NotAfter;
// failures are not remembered. The zero Cache is ready to use.
type Cache struct {
	mu sync.Mutex
	m  map[[32]byte]cached
}

type cached struct {
	id    Identity
	until time.Time
}

// Bounds of the cache: entries live a minute at most (a CA bundle change
// needs a restart anyway), and a full cache is emptied and refilled.
const (
	cacheFor = time.Minute
	cacheMax = 16384
)

// FromRequest is the package's FromRequest through the cache.
func (c *Cache) FromRequest(h http.Header, cfg *Config) (Identity, error) {
	now := time.Now()
	if cfg.Now != nil {
		now = cfg.Now()
	}
	sum := sha256.New()
	for _, name := range [...]string{HeaderXFCC, HeaderTLS} {
		for _, v := range h.Values(name) {
			sum.Write([]byte(v))
			sum.Write([]byte{0})
		}
		sum.Write([]byte{1})
	}
	var key [32]byte
	sum.Sum(key[:0])
	c.mu.Lock()
	e, ok := c.m[key]
	c.mu.Unlock()
	if ok && now.Before(e.until) {
		return e.id, nil
	}
	der, err := Forwarded(h)
	if err != nil {
		return Identity{}, err
	}
	id, notAfter, err := cfg.read(der)
	if err != nil {
		return id, err
	}
	until := now.Add(cacheFor)
	if !notAfter.IsZero() && notAfter.Before(until) {
		until = notAfter
	}
	c.mu.Lock()
	if c.m == nil || len(c.m) >= cacheMax {
		c.m = make(map[[32]byte]cached)
	}
	c.m[key] = cached{id: id, until: until}
	c.mu.Unlock()
	return id, nil
}
