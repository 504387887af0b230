package main

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"postern/internal/auth"
	"postern/internal/clientcert"
	"postern/internal/config"
	"postern/internal/decisionlog"
	"postern/internal/defender"
	"postern/internal/emulator"
	"postern/internal/fleet"
	"postern/internal/integration"
	"postern/internal/metrics"
	"postern/internal/policy"
	"postern/internal/replica"
	"postern/internal/retention"
	"postern/internal/secret"
	"postern/internal/signin"
	"postern/internal/syncer"
	"postern/internal/webhook"
	"postern/store"
	"postern/web"
)

// shutdownGrace bounds how long in-flight requests may finish after SIGTERM.
const shutdownGrace = 15 * time.Second

// env holds what every command opens: configuration, logger, key and store.
type env struct {
	cfg     config.Config
	log     *slog.Logger
	keyring *secret.Keyring
	store   *store.Store
	args    []string
}

// dbPath is the database file in the data directory.
func dbPath(cfg config.Config) string { return filepath.Join(cfg.DataDir, "postern.db") }

// open loads configuration and opens the key and the database, refusing to
// start on an unsafe key file or an unreadable database.
func open(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) (*env, error) {
	cfg, rest, err := config.Load(getenv, args, stdout)
	if err != nil {
		return nil, err
	}
	// A configuration error has no logger yet: it goes back to main, which
	// prints it to stderr whatever the log format.
	log := newLogger(stdout, cfg.LogFormat)
	// An existing key (file or environment) is checked before the database
	// is touched; a missing one is created only if nothing needs the old.
	missing := cfg.MasterKey == ""
	if missing {
		_, err := os.Lstat(cfg.MasterKeyFile)
		missing = errors.Is(err, fs.ErrNotExist)
	}
	var kr *secret.Keyring
	if !missing {
		if kr, _, err = secret.LoadKeyring(cfg.MasterKey.Reveal(), cfg.MasterKeyFile); err != nil {
			return nil, err
		}
	}
	st, err := store.Open(ctx, dbPath(cfg), store.Options{URL: cfg.DatabaseURL.Reveal(), Replica: cfg.ReplicaName})
	if err != nil {
		return nil, err
	}
	if missing {
		if err := refuseSealedWithoutKey(ctx, cfg, st); err != nil {
			st.Close()
			return nil, err
		}
		if kr, _, err = secret.LoadKeyring("", cfg.MasterKeyFile); err != nil {
			st.Close()
			return nil, err
		}
		log.Info("created a new master key; back it up separately from the database", "path", cfg.MasterKeyFile)
	}
	return &env{cfg: cfg, log: log, keyring: kr, store: st, args: rest}, nil
}

// refuseSealedWithoutKey stops a start without a master key when the
// database holds secrets sealed with one (a restore without its key): a
// fresh key would only leave a useless one behind.
func refuseSealedWithoutKey(ctx context.Context, cfg config.Config, st *store.Store) error {
	vals, err := st.SealedValues(ctx)
	if err != nil {
		return err
	}
	if len(vals) > 0 {
		v := vals[0]
		what := fmt.Sprintf("%s of %q", strings.ReplaceAll(v.Location.Column, "_", " "), v.Location.Row)
		switch v.Location.Table {
		case "webhook_endpoints":
			what = fmt.Sprintf("webhook signing secret of %q", v.Location.Row)
		case "admins":
			what = "two-factor secret of admin id " + v.Location.Row
		}
		id, _ := secret.KeyID(v.Value)
		return fmt.Errorf("there is no master key at %s, but the stored %s is sealed with master key id %q: "+
			"put that key file back (or set POSTERN_MASTER_KEY) and start again; no new key was created", cfg.MasterKeyFile, what, id)
	}
	return nil
}

// newLogger writes key=value lines for people at a terminal, or one JSON
// object per line for journald and log shippers.
func newLogger(w io.Writer, format string) *slog.Logger {
	opts := &slog.HandlerOptions{Level: slog.LevelInfo}
	if format == config.LogJSON {
		return slog.New(web.LogHandler(slog.NewJSONHandler(w, opts)))
	}
	return slog.New(web.LogHandler(slog.NewTextHandler(w, opts)))
}

// serve runs the console until ctx is cancelled or one of its parts fails,
// then drains requests, waits for every worker and closes the database.
func serve(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	e, err := open(ctx, args, getenv, stdout)
	if err != nil {
		return err
	}
	defer e.store.Close()
	if len(e.args) > 0 {
		return fmt.Errorf("unexpected argument %q; run postern help", e.args[0])
	}
	// One group owns every goroutine serve starts (HTTP server, sync worker,
	// policy, token, retention and webhook delivery loops, the demo emulator and its drift): a signal or
	// the failure of any of them stops them all, and the database is closed
	// only once each has returned.
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	g, gctx := errgroup.WithContext(ctx)
	err = runConsole(gctx, g, e, stdout)
	stop() // after a failed start, what did start stops too
	if werr := g.Wait(); err == nil {
		err = werr
	}
	if err != nil {
		return err
	}
	e.log.Info("stopped")
	return nil
}

// console is what serve runs: the HTTP server and the workers behind it.
type console struct {
	integrations *integration.Service
	worker       *syncer.Worker
	engine       *policy.Engine
	tokens       *auth.Tokens
	pruner       *retention.Pruner
	hooks        *webhook.Worker
	// decisions records the enforcement API's denials in batches; web
	// sums up the API's requests once a minute.
	decisions *decisionlog.Log
	web       *web.Server
	http      *http.Server
	// replicas is this replica's part among several on one PostgreSQL
	// database; nil on a single Postern.
	replicas *replicaSet
	// keys is the master keyring as last read, read again every minute.
	keys *keyWatch
}

// runConsole starts the console's parts in g and, once ctx ends (a signal
// or a failed part), shuts the HTTP server down, letting in-flight requests
// finish within the grace period. The workers stop with ctx: a sync run in
// flight is cancelled and recorded, and the previous snapshot stays.
func runConsole(ctx context.Context, g *errgroup.Group, e *env, stdout io.Writer) error {
	if e.cfg.Demo {
		if err := startDemo(ctx, g, &e.cfg, stdout, e.log); err != nil {
			return err
		}
	}
	e.log.Info("starting postern", "config", e.cfg, "keyring", e.keyring)
	c, err := newConsole(ctx, e)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", e.cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", e.cfg.Addr, err)
	}
	// Requests get a base context of their own: a signal stops new work but
	// lets in-flight requests finish within the grace period.
	base, cancelBase := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelBase()
	c.http.BaseContext = func(net.Listener) context.Context { return base }
	g.Go(func() error {
		if err := c.http.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("serve: %w", err)
		}
		return nil
	})
	if c.replicas != nil {
		// The sync, retention and webhook delivery run on the leader only.
		supervise(ctx, g, e.log, "replica", func() error { return c.replicas.run(ctx) })
	} else {
		supervise(ctx, g, e.log, "sync worker", func() error { return c.worker.Run(ctx) })
		supervise(ctx, g, e.log, "retention", func() error { return c.pruner.Run(ctx) })
		supervise(ctx, g, e.log, "webhook delivery", func() error { return c.hooks.Run(ctx) })
		// A replica reads its key file again as part of the replica set.
		g.Go(func() error { c.keys.run(ctx, nil); return nil })
	}
	g.Go(func() error { c.engine.Run(ctx); return nil })
	g.Go(func() error { c.tokens.Run(ctx, time.Minute); return nil })
	supervise(ctx, g, e.log, "decision log", func() error { return c.decisions.Run(ctx) })
	supervise(ctx, g, e.log, "api summary", func() error { return c.web.RunAPISummary(ctx, time.Minute) })
	e.log.Info("postern is ready", "url", "http://"+ln.Addr().String())

	<-ctx.Done()
	e.log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := c.http.Shutdown(sctx); err != nil {
		e.log.Warn("graceful shutdown incomplete; cancelling the remaining requests", "err", err)
		cancelBase()
		c.http.Close()
	}
	return nil
}

// newConsole builds the integration, sync worker, policy engine, API tokens
// and web server over e's store, checking the sealed secrets and loading
// the policy before anything is served.
func newConsole(ctx context.Context, e *env) (*console, error) {
	integrations := integration.New(e.store, e.keyring, e.log, integration.Options{
		LoginURL: e.cfg.DefenderLoginURL, APIURL: e.cfg.DefenderAPIURL, Scope: e.cfg.DefenderScope,
		ReloadKeyring: e.reloadKeyring,
	})
	if err := integrations.CheckSecrets(ctx); err != nil {
		return nil, err
	}
	var devices fleet.Holder
	syncOpts := syncer.Options{Interval: e.cfg.SyncInterval,
		RemovalGuard: e.cfg.SyncRemovalGuard, List: defender.ListOptions{PageSize: e.cfg.DefenderPageSize}}
	keys := newKeyWatch(e)
	replicas, err := newReplicaSet(ctx, e, keys, &syncOpts)
	if err != nil {
		return nil, err
	}
	worker := syncer.New(e.store, integrations, &devices, e.log, syncOpts)
	// The stored snapshot is in memory before the listener opens: the
	// first answers of the enforcement API come from it, not from nothing.
	if err := worker.Load(ctx); err != nil {
		return nil, err
	}
	tokens, err := auth.NewTokens(ctx, e.store, e.log, nil)
	if err != nil {
		return nil, err
	}
	engine := policy.New(e.store, &devices, integrations.Enabled, e.cfg.SyncInterval, e.log, nil)
	engine.SetOutageGrace(integrations.OutageGrace)
	if replicas != nil {
		engine.Follow()
	}
	if err := engine.Reload(ctx); err != nil {
		return nil, err
	}
	worker.OnSwap(func(_, _ *fleet.Snapshot) { engine.Recompute() })
	integrations.Subscribe(worker.IntegrationChanged)
	integrations.Subscribe(engine.IntegrationChanged)
	decisions := decisionlog.New(e.store, decisionlog.DefaultBuffer, e.cfg.DecisionLogSample, e.log)
	mx := metrics.New(e.store, &devices, worker.Status, e.log)
	mx.Register(decisions)
	if replicas != nil {
		mx.RegisterReplica(e.cfg.ReplicaName, func() (bool, int64) {
			st := replicas.elector.Status()
			return st.Role == replica.RoleLeader, st.Epoch
		})
	}
	hooks := webhook.NewWorker(e.store, e.keyring, e.log, webhook.Options{
		Freshness:     func() (bool, time.Time) { f := engine.Freshness(); return f.Stale(), f.SyncedAt },
		ReloadKeyring: e.reloadKeyring,
	})
	mx.Register(hooks)
	certs, err := clientCertConfig(e.cfg)
	if err != nil {
		return nil, err
	}
	signIns := signin.New(e.store, e.keyring, e.log, signin.Options{LoginURL: e.cfg.DefenderLoginURL, GraphURL: e.cfg.GraphURL,
		ReloadKeyring: func() (*secret.Keyring, error) {
			return secret.ReadKeyring(e.cfg.MasterKey.Reveal(), e.cfg.MasterKeyFile)
		}})
	srv := web.NewServer(web.Deps{SignIn: signIns, Policy: engine, Checks: policy.NewService(e.store, engine, e.log), Store: e.store, Integration: integrations, Syncer: worker, Fleet: &devices,
		Webhooks: webhook.NewService(e.store, e.keyring, e.log, hooks.Notify),
		MFA:      auth.NewMFA(e.store, e.keyring, e.reloadKeyring, e.log, nil),
		Tokens:   tokens, Metrics: mx, Decisions: decisions, DecisionDays: e.cfg.DecisionLogDays,
		Logger: e.log, TrustedProxies: e.cfg.TrustedProxies, ClientCert: certs, ForwardAuthMaxAge: e.cfg.ForwardAuthMaxAge,
		Replica: replicaStatus(replicas, e.cfg.ReplicaName), Keys: keys.status})
	hs := web.NewHTTPServer(e.cfg.Addr, srv, e.log)
	pruner := retention.New(e.store, e.cfg.RetentionDays, e.log, nil)
	pruner.DecisionDays = e.cfg.DecisionLogDays
	pruner.DecisionMaxRows = e.cfg.DecisionLogMaxRows
	c := &console{integrations: integrations, worker: worker, engine: engine, tokens: tokens, pruner: pruner, hooks: hooks,
		decisions: decisions, web: srv, http: hs, replicas: replicas, keys: keys}
	if replicas != nil {
		replicas.c = c
	}
	return c, nil
}

// supervise runs fn in g under name. An error while the console runs stops
// it and is what serve returns; one after the stop began is only logged.
func supervise(ctx context.Context, g *errgroup.Group, log *slog.Logger, name string, fn func() error) {
	g.Go(func() error {
		err := fn()
		if err == nil {
			return nil
		}
		log.Error(name+" stopped", "err", err)
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("%s: %w", name, err)
	})
}

// startDemo runs the emulator and its drift in g beside the console and
// points the Defender client at it, unless the operator set the hosts
// explicitly. What to paste
// is printed for a person, or logged as one JSON line when the log is JSON,
// so that the stream stays machine-readable. (The demo credentials are
// fixed, published values that only the emulator accepts.)
func startDemo(ctx context.Context, g *errgroup.Group, cfg *config.Config, stdout io.Writer, log *slog.Logger) error {
	emu := emulator.New(emulator.Config{Machines: 250, Seed: 42})
	url, wait, err := emulator.Listen(ctx, "127.0.0.1:0", emu)
	if err != nil {
		return fmt.Errorf("demo emulator: %w", err)
	}
	if cfg.DefenderLoginURL == "" {
		cfg.DefenderLoginURL = url
	}
	if cfg.DefenderAPIURL == "" {
		cfg.DefenderAPIURL = url
	}
	supervise(ctx, g, log, "demo emulator", wait)
	g.Go(func() error { emu.RunDrift(ctx, 30*time.Second); return nil })
	if cfg.LogFormat == config.LogJSON {
		log.Info("demo emulator (not Microsoft): paste these into Settings → Integrations → Microsoft Defender → Manage",
			"emulator_url", url, "tenant_id", emulator.DemoTenantID, "client_id", emulator.DemoClientID,
			"client_secret", emulator.DemoClientSecret)
		return nil
	}
	printCredentials(stdout, url, emulator.DemoTenantID, emulator.DemoClientID, emulator.DemoClientSecret)
	return nil
}

// clientCertConfig is how forward-auth reads forwarded client
// certificates; a CA bundle that cannot be read, or holds no certificate,
// stops the start (docs/configuration.md).
func clientCertConfig(cfg config.Config) (*clientcert.Config, error) {
	c := &clientcert.Config{URIPrefixes: cfg.ClientCertURIPrefixes, SubjectCN: cfg.ClientCertSubjectCN}
	if cfg.ClientCertCA == "" {
		return c, nil
	}
	b, err := os.ReadFile(cfg.ClientCertCA)
	if err != nil {
		return nil, fmt.Errorf("client-cert-ca: %w", err)
	}
	c.Roots = x509.NewCertPool()
	if !c.Roots.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("client-cert-ca: %s holds no PEM certificate", cfg.ClientCertCA)
	}
	return c, nil
}

// reloadKeyring reads the keyring again, for a service that meets a value
// sealed under a key added since it started (rotate-key in another process).
func (e *env) reloadKeyring() (*secret.Keyring, error) {
	return secret.ReadKeyring(e.cfg.MasterKey.Reveal(), e.cfg.MasterKeyFile)
}
