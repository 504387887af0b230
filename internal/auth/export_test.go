package auth

import (
	"context"
	"time"
)

// Allow reports whether an attempt may proceed for every key, and if not,
// how long until it may. It counts nothing. (Sign-in only ever asks with
// Attempt; the tests read the limiter's state with Allow.)
func (l *Limiter) Allow(ctx context.Context, keys ...string) (bool, time.Duration, error) {
	return l.ask(ctx, keys, l.max, false)
}

// Fail records a failed attempt against every key, whatever their counts.
func (l *Limiter) Fail(ctx context.Context, keys ...string) error {
	_, _, err := l.ask(ctx, keys, 0, true)
	return err
}
