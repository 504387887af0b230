package testkit

import (
	"context"
	"fmt"
	"runtime"
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

func TestWaitForPollsUntilTheCondition(t *testing.T) {
	n := 0
	WaitFor(t, time.Second, "three polls", func() bool { n++; return n == 3 })
	if n != 3 {
		t.Fatalf("cond called %d times, want 3", n)
	}
	ft := &fatalRecorder{TB: t}
	done := make(chan struct{})
	go func() { // Fatalf ends the goroutine, as it ends a test
		defer close(done)
		WaitFor(ft, 20*time.Millisecond, "never", func() bool { return false })
	}()
	<-done
	if !strings.Contains(ft.msg, "waiting for never") {
		t.Fatalf("failure %q does not name what it waited for", ft.msg)
	}
}

// fatalRecorder keeps the message of Fatalf instead of failing the test.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (f *fatalRecorder) Helper() {}

func (f *fatalRecorder) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}
