package replica

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"postern/internal/model"
	"time"
)

// Change is one notification; the store sends them (model.Change).
type Change = model.Change

// ListenerOptions configure a Listener.
type ListenerOptions struct {
	URL string
	// Name is this replica; its own changes are not handed back.
	Name string
	// OnChange handles one change made by another replica.
	OnChange func(ctx context.Context, ch Change)
	// OnResync runs after the listening session was lost and is back:
	// notifications sent meanwhile were missed, so everything is reloaded.
	OnResync func(ctx context.Context)
	Log      *slog.Logger
}

// Listener hands this replica the changes the others make.
type Listener struct{ opts ListenerOptions }

// NewListener returns a Listener; Run starts it.
func NewListener(opts ListenerOptions) *Listener {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	return &Listener{opts: opts}
}

// Run listens until ctx ends, reconnecting after a lost session (every
// second at first, backing off to 15 s) and resyncing once it is back.
// ready, when not nil, is closed once the first LISTEN is in place.
func (l *Listener) Run(ctx context.Context, ready chan<- struct{}) error {
	backoff, lost := time.Second, false
	for {
		err := l.session(ctx, lost, &ready)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		l.opts.Log.Warn("replica change notifications interrupted; reconnecting", "err", err, "retry_in", backoff)
		lost = true
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 15*time.Second)
	}
}

// session listens on one connection until it fails.
func (l *Listener) session(ctx context.Context, resync bool, ready *chan<- struct{}) error {
	conn, err := connect(ctx, l.opts.URL, nil)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+model.ChangesChannel); err != nil {
		return fmt.Errorf("replica: listen: %w", err)
	}
	if *ready != nil {
		close(*ready)
		*ready = nil
	}
	if resync && l.opts.OnResync != nil {
		l.opts.Log.Info("replica change notifications are back; reloading everything")
		l.opts.OnResync(ctx)
	}
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		var ch Change
		if err := json.Unmarshal([]byte(n.Payload), &ch); err != nil || ch.Kind == "" {
			l.opts.Log.Warn("replica change notification not understood", "payload", n.Payload)
			continue
		}
		if ch.Replica == l.opts.Name || l.opts.OnChange == nil {
			continue
		}
		l.opts.OnChange(ctx, ch)
	}
}
