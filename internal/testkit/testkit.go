// Package testkit holds the fakes that tests across Postern share: a clock
// the test moves by hand, a sleep that only records its waits, a buffer
// that goroutines can write to while the test reads it, and a wait for a
// condition. Only tests import it.
//
// It imports nothing of Postern's, so that any package's own tests (store
// and secret included) can use it; opening a store for a test is in
// package teststore.
package testkit

import (
	"bytes"
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"
)

// Clock is a settable clock, safe for concurrent use: pass its Now where
// code takes a clock, and move it with Advance.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock that reads t until it is advanced.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now is the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// Sleeps stands in for a sleep function (such as a retry loop's): it
// records each wait and returns at once, so backoff is asserted without
// real waiting. Safe for concurrent use.
type Sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

// Sleep records d and returns ctx's error, without waiting.
func (s *Sleeps) Sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.d = append(s.d, d)
	s.mu.Unlock()
	return ctx.Err()
}

// All is every wait recorded since the start or the last Reset, in order.
func (s *Sleeps) All() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.d...)
}

// Reset forgets the waits recorded so far.
func (s *Sleeps) Reset() {
	s.mu.Lock()
	s.d = nil
	s.mu.Unlock()
}

// Buffer collects output (a logger's, a child process's) written from
// several goroutines while the test reads it.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// String is everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// Logger returns a text logger, debug level included, that writes to b.
func (b *Buffer) Logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// WaitFor polls cond until it holds, and fails the test when it still does
// not after within; what names the awaited event in the failure.
func WaitFor(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", within, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
