package main

import (
	"context"
	"errors"
	"log/slog"
	"sync"

	"golang.org/x/sync/errgroup"

	"postern/internal/integration"
	"postern/internal/model"
	"postern/internal/replica"
	"postern/internal/secret"
	"postern/internal/syncer"
	"postern/store"
	"postern/web"
)

// Several replicas share one PostgreSQL database (docs/high-availability.md).
// Each serves the console and the enforcement API from its own memory;
// the one holding the leader lock also syncs, records verdict changes,
// delivers webhooks and prunes; every write notifies the others, which
// reload what it changed.

// replicated reports whether this Postern is one of several replicas.
func (e *env) replicated() bool { return e.cfg.DatabaseURL != "" }

// replicaSet is this replica's part in the set: its election and what it
// follows of the others' changes.
type replicaSet struct {
	c        *console
	log      *slog.Logger
	elector  *replica.Elector
	listener *replica.Listener
	store    *store.Store
	keys     *keyWatch

	mu          sync.Mutex
	integration string // the integration as last seen: its credentials' version, "" while off
}

// newReplicaSet prepares, with a PostgreSQL database, the replica's
// election and listener, and sets the sync worker's options for a
// replica; nil on SQLite. The console it drives is set once built.
func newReplicaSet(ctx context.Context, e *env, keys *keyWatch, sync *syncer.Options) (*replicaSet, error) {
	if !e.replicated() {
		return nil, nil
	}
	url := e.cfg.DatabaseURL.Reveal()
	if err := replica.CheckSessions(ctx, url); err != nil {
		return nil, err
	}
	sync.Replica = true
	sync.RequestSync = func(ctx context.Context) error { return e.store.Notify(ctx, model.ChangeSyncRequested) }
	r := &replicaSet{log: e.log, store: e.store, keys: keys}
	r.elector = replica.NewElector(replica.ElectorOptions{URL: url, Name: e.cfg.ReplicaName, Lease: e.cfg.LeaderLease, Log: e.log})
	r.listener = replica.NewListener(replica.ListenerOptions{URL: url, Name: e.cfg.ReplicaName,
		OnChange: r.follow, OnResync: r.resync, Log: e.log})
	return r, nil
}

// replicaStatus is the replica as the web server reports it; nil on a
// single Postern.
func replicaStatus(r *replicaSet, name string) func() web.ReplicaStatus {
	if r == nil {
		return nil
	}
	return func() web.ReplicaStatus {
		st := r.elector.Status()
		return web.ReplicaStatus{Name: name, Role: st.Role, Epoch: st.Epoch, Since: st.Since}
	}
}

// run listens for the others' changes and campaigns for the lead until
// ctx ends.
func (r *replicaSet) run(ctx context.Context) error {
	r.integration = r.integrationVersion(ctx)
	g, gctx := errgroup.WithContext(ctx)
	ready := make(chan struct{})
	g.Go(func() error { return r.listener.Run(gctx, ready) })
	g.Go(func() error { r.keys.run(gctx, r.reportKeys); return nil })
	g.Go(func() error {
		// Listen before leading, so that nothing changed meanwhile is
		// missed by a leader that would then sync from stale state.
		select {
		case <-ready:
		case <-gctx.Done():
			return nil
		}
		return r.elector.Run(gctx, r.lead)
	})
	err := g.Wait()
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// lead is one term as the sync leader: the work only the leader does, its
// writes fenced by the term's epoch, until the term or the process ends.
func (r *replicaSet) lead(ctx context.Context, epoch int64) error {
	ctx = store.WithFence(ctx, epoch)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { r.c.engine.Lead(gctx); return nil })
	g.Go(func() error { return r.c.worker.Lead(gctx) })
	g.Go(func() error { return r.c.pruner.Run(gctx) })
	g.Go(func() error { return r.c.hooks.Run(gctx) })
	err := g.Wait()
	if ctx.Err() != nil || errors.Is(err, store.ErrFenced) {
		return nil // the term ended: the elector campaigns again
	}
	return err
}

// follow applies a change another replica made.
func (r *replicaSet) follow(ctx context.Context, ch model.Change) {
	var err error
	switch ch.Kind {
	case model.ChangeSnapshot:
		err = r.c.worker.Reload(ctx)
	case model.ChangePolicy:
		err = r.c.engine.Reload(ctx)
	case model.ChangeTokens:
		err = r.c.tokens.Reload(ctx)
	case model.ChangeIntegration:
		err = r.integrationChanged(ctx)
	case model.ChangeWebhooks:
		r.c.hooks.Notify()
	case model.ChangeSyncRequested:
		if r.c.worker.Leading() {
			r.c.worker.Trigger(syncer.TriggerManual)
		}
	case model.ChangeKeys:
		r.reportKeys(ctx, r.keys.reread())
	default:
		r.log.Warn("replica change of an unknown kind (a newer replica?); reloading everything", "kind", ch.Kind, "from", ch.Replica)
		r.resync(ctx)
		return
	}
	if err != nil && ctx.Err() == nil {
		r.log.Error("reload after another replica's change", "kind", ch.Kind, "from", ch.Replica, "err", err)
	}
}

// reportKeys tells the others which master key ids this replica holds
// (replica_keys), for postern activate-key. A database that does not
// answer is only logged: the next report, within a minute, tries again.
func (r *replicaSet) reportKeys(ctx context.Context, kr *secret.Keyring) {
	if err := r.store.ReportKeys(ctx, kr.ActiveID(), kr.IDs()); err != nil && ctx.Err() == nil {
		r.log.Warn("reporting this replica's master key ids failed", "err", err)
	}
}

// resync reloads everything, after notifications may have been missed.
func (r *replicaSet) resync(ctx context.Context) {
	for _, kind := range []string{model.ChangeSnapshot, model.ChangePolicy, model.ChangeTokens, model.ChangeIntegration, model.ChangeWebhooks, model.ChangeKeys} {
		r.follow(ctx, model.Change{Kind: kind, Replica: "resync"})
	}
}

// integrationChanged tells what another replica did to the integration
// by comparing with what this one saw last, and follows it: the policy
// reloads, and the leader's sync starts (enabled, new credentials) or
// stops (disabled).
func (r *replicaSet) integrationChanged(ctx context.Context) error {
	cur := r.integrationVersion(ctx)
	r.mu.Lock()
	prev := r.integration
	r.integration = cur
	r.mu.Unlock()
	switch {
	case prev == "" && cur != "":
		r.c.worker.IntegrationChanged(ctx, integration.Enabled)
	case prev != "" && cur == "":
		r.c.worker.IntegrationChanged(ctx, integration.Disabled)
	case prev != cur:
		r.c.worker.IntegrationChanged(ctx, integration.Configured)
	}
	return r.c.engine.Reload(ctx)
}

// integrationVersion is the version of the integration's credentials
// while it is enabled, else "".
func (r *replicaSet) integrationVersion(ctx context.Context) string {
	_, version, err := r.c.integrations.Client(ctx)
	if err != nil {
		return ""
	}
	return version
}
