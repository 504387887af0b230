package main

import (
	"context"
	"log/slog"
	"slices"
	"sync/atomic"
	"time"

	"postern/internal/replica"
	"postern/internal/secret"
	"postern/web"
)

// keyWatch is the master keyring as this Postern last read it. The key
// file (or POSTERN_MASTER_KEY) is read again every --key-reread-interval
// (a minute by default; at most replica.KeyReportEvery, so that a live
// replica's report never looks stale) and when
// postern activate-key asks, so that a key staged by postern stage-key
// and copied to this host shows up in /readyz?verbose and, on a replica,
// in its report to the others, without a restart. Reading it changes
// nothing else: the integration and the webhook worker read the keyring
// again themselves when they meet a secret sealed under a key they lack.
type keyWatch struct {
	read  func() (*secret.Keyring, error)
	log   *slog.Logger
	every time.Duration
	kr    atomic.Pointer[secret.Keyring]
}

func newKeyWatch(e *env) *keyWatch {
	w := &keyWatch{log: e.log, every: e.cfg.KeyRereadInterval, read: func() (*secret.Keyring, error) {
		return secret.ReadKeyring(e.cfg.MasterKey.Reveal(), e.cfg.MasterKeyFile)
	}}
	w.kr.Store(e.keyring)
	return w
}

// status is the keyring as /readyz?verbose reports it: ids only.
func (w *keyWatch) status() web.KeyStatus {
	kr := w.kr.Load()
	return web.KeyStatus{Active: kr.ActiveID(), IDs: kr.IDs()}
}

// reread reads the keyring again; one that cannot be read (a copy in
// progress, a wrong mode) leaves the last one in place, with a warning.
func (w *keyWatch) reread() *secret.Keyring {
	fresh, err := w.read()
	if err != nil {
		w.log.Warn("reading the master key file again failed; keeping the keys read before", "err", err)
		return w.kr.Load()
	}
	if prev := w.kr.Swap(fresh); prev.ActiveID() != fresh.ActiveID() || !slices.Equal(prev.IDs(), fresh.IDs()) {
		w.log.Info("master key file read again: the keys changed", "keyring", fresh)
	}
	return fresh
}

// run reads the keyring again every w.every until ctx ends, calling
// report (when not nil) after each read and once at the start.
func (w *keyWatch) run(ctx context.Context, report func(context.Context, *secret.Keyring)) {
	if report != nil {
		report(ctx, w.kr.Load())
	}
	every := w.every
	if every <= 0 || every > replica.KeyReportEvery {
		every = replica.KeyReportEvery
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			kr := w.reread()
			if report != nil {
				report(ctx, kr)
			}
		}
	}
}
