package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"postern/internal/auth"
	"postern/internal/config"
	"postern/internal/emulator"
	"postern/internal/fleet"
	"postern/internal/integration"
	"postern/internal/metrics"
	"postern/internal/policy"
	"postern/internal/secret"
	"postern/internal/syncer"
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
	st, err := store.Open(ctx, dbPath(cfg), store.Options{})
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
	ins, err := st.Integrations(ctx)
	if err != nil {
		return err
	}
	for _, in := range ins {
		if in.ClientSecret == "" {
			continue
		}
		id, _ := secret.KeyID(in.ClientSecret)
		return fmt.Errorf("there is no master key at %s, but the stored client secret of %q is sealed with master key id %q: "+
			"put that key file back (or set POSTERN_MASTER_KEY) and start again; no new key was created", cfg.MasterKeyFile, in.Name, id)
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

// serve runs the console until ctx is cancelled, then drains requests and
// closes the database cleanly.
func serve(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	e, err := open(ctx, args, getenv, stdout)
	if err != nil {
		return err
	}
	defer e.store.Close()
	if len(e.args) > 0 {
		return fmt.Errorf("unexpected argument %q; run postern help", e.args[0])
	}
	if e.cfg.Demo {
		if err := startDemo(ctx, &e.cfg, stdout, e.log); err != nil {
			return err
		}
	}
	e.log.Info("starting postern", "config", e.cfg, "keyring", e.keyring)

	integrations := integration.New(e.store, e.keyring, e.log, integration.Options{
		LoginURL: e.cfg.DefenderLoginURL, APIURL: e.cfg.DefenderAPIURL,
		ReloadKeyring: func() (*secret.Keyring, error) {
			return secret.ReadKeyring(e.cfg.MasterKey.Reveal(), e.cfg.MasterKeyFile)
		},
	})
	if err := integrations.CheckSecrets(ctx); err != nil {
		return err
	}
	var devices fleet.Holder
	worker := syncer.New(e.store, integrations, &devices, e.log, syncer.Options{Interval: e.cfg.SyncInterval})
	tokens, err := auth.NewTokens(ctx, e.store, e.log, nil)
	if err != nil {
		return err
	}
	engine := policy.New(e.store, &devices, integrations.Enabled, e.cfg.SyncInterval, e.log, nil)
	if err := engine.Reload(ctx); err != nil {
		return err
	}
	integrations.Subscribe(worker.IntegrationChanged)
	integrations.Subscribe(engine.IntegrationChanged)
	worker.OnSwap(func(_, _ *fleet.Snapshot) { engine.Recompute() })
	srv := web.NewServer(web.Deps{Policy: engine, Checks: policy.NewService(e.store, engine, e.log), Store: e.store, Integration: integrations, Syncer: worker, Fleet: &devices,
		Tokens: tokens, Metrics: metrics.New(e.store, &devices, worker.Status, e.log),
		Logger: e.log, TrustedProxies: e.cfg.TrustedProxies})
	hs := web.NewHTTPServer(e.cfg.Addr, srv, e.log)
	ln, err := net.Listen("tcp", e.cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", e.cfg.Addr, err)
	}
	// Requests get a base context of their own: a signal stops new work but
	// lets in-flight requests finish within the grace period.
	base, cancelBase := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelBase()
	hs.BaseContext = func(net.Listener) context.Context { return base }
	serveErr := make(chan error, 1)
	go func() { serveErr <- hs.Serve(ln) }()
	// The worker stops with ctx: its run in flight is cancelled and recorded,
	// and the previous snapshot stays.
	workerCtx, stopWorker := context.WithCancel(ctx)
	defer stopWorker()
	workerDone := make(chan error, 1)
	go func() { workerDone <- worker.Run(workerCtx) }()
	policyDone := make(chan struct{})
	go func() { engine.Run(workerCtx); close(policyDone) }()
	tokensDone := make(chan struct{})
	go func() { tokens.Run(workerCtx, time.Minute); close(tokensDone) }()
	e.log.Info("postern is ready", "url", "http://"+ln.Addr().String())

	select {
	case err := <-serveErr:
		stopWorker()
		<-workerDone
		<-tokensDone
		<-policyDone
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	e.log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		e.log.Warn("graceful shutdown incomplete; cancelling the remaining requests", "err", err)
		cancelBase()
		hs.Close()
	}
	stopWorker()
	<-tokensDone
	<-policyDone
	if err := <-workerDone; err != nil {
		e.log.Error("sync worker stopped", "err", err)
	}
	if err := <-serveErr; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	e.log.Info("stopped")
	return nil
}

// startDemo runs the emulator beside the console and points the Defender
// client at it, unless the operator set the hosts explicitly. What to paste
// is printed for a person, or logged as one JSON line when the log is JSON,
// so that the stream stays machine-readable. (The demo credentials are
// fixed, published values that only the emulator accepts.)
func startDemo(ctx context.Context, cfg *config.Config, stdout io.Writer, log *slog.Logger) error {
	emu := emulator.New(emulator.Config{Machines: 250, Seed: 42})
	url, _, err := emulator.Listen(ctx, "127.0.0.1:0", emu)
	if err != nil {
		return fmt.Errorf("demo emulator: %w", err)
	}
	if cfg.DefenderLoginURL == "" {
		cfg.DefenderLoginURL = url
	}
	if cfg.DefenderAPIURL == "" {
		cfg.DefenderAPIURL = url
	}
	go emu.RunDrift(ctx, 30*time.Second)
	if cfg.LogFormat == "json" {
		log.Info("demo emulator (not Microsoft): paste these into Settings → Integrations → Microsoft Defender → Manage",
			"emulator_url", url, "tenant_id", emulator.DemoTenantID, "client_id", emulator.DemoClientID,
			"client_secret", emulator.DemoClientSecret)
		return nil
	}
	printCredentials(stdout, url, emulator.DemoTenantID, emulator.DemoClientID, emulator.DemoClientSecret)
	return nil
}
