package testkit

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestClockMovesOnlyWhenAdvanced(t *testing.T) {
	start := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	c := NewClock(start)
	if got := c.Now(); !got.Equal(start) {
		t.Fatalf("Now = %v, want %v", got, start)
	}
	time.Sleep(time.Millisecond)
	if got := c.Now(); !got.Equal(start) {
		t.Fatalf("Now moved on its own to %v", got)
	}
	c.Advance(90 * time.Second)
	if got, want := c.Now(), start.Add(90*time.Second); !got.Equal(want) {
		t.Fatalf("after Advance, Now = %v, want %v", got, want)
	}
}

// Run with -race: concurrent writers, readers and clock users.
func TestBufferAndClockAreSafeForConcurrentUse(t *testing.T) {
	var b Buffer
	c := NewClock(time.Unix(0, 0))
	log := b.Logger()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			log.Debug("line", "writer", i)
			c.Advance(time.Second)
			_ = b.String()
			_ = c.Now()
		})
	}
	wg.Wait()
	if n := strings.Count(b.String(), "level=DEBUG msg=line"); n != 8 {
		t.Fatalf("got %d debug lines, want 8:\n%s", n, b.String())
	}
	if got := c.Now(); !got.Equal(time.Unix(8, 0)) {
		t.Fatalf("Now = %v after 8 advances of 1s", got)
	}
}

func TestSleepsRecordsWithoutWaiting(t *testing.T) {
	var s Sleeps
	start := time.Now()
	if err := s.Sleep(context.Background(), time.Hour); err != nil {
		t.Fatalf("Sleep: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Sleep(ctx, 2*time.Second); err != context.Canceled {
		t.Fatalf("Sleep on a cancelled context = %v, want context.Canceled", err)
	}
	if took := time.Since(start); took > time.Second {
		t.Fatalf("two sleeps took %v: Sleep waited", took)
	}
	if got, want := s.All(), []time.Duration{time.Hour, 2 * time.Second}; !slices.Equal(got, want) {
		t.Fatalf("All = %v, want %v", got, want)
	}
	s.Reset()
	if got := s.All(); len(got) != 0 {
		t.Fatalf("All after Reset = %v, want none", got)
	}
}
