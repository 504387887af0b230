// Package config turns flags and POSTERN_* environment variables into a
// validated Config. Every setting has a default so that `make run` needs none.
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"postern/internal/defender"
	"postern/internal/secret"
)

// MinSyncInterval is the shortest background sync period accepted. Defender
// allows 100 calls a minute per app, and a full listing can take many pages.
const MinSyncInterval = time.Minute

// Log formats: text is slog's key=value lines for people, json is one object
// per line for log shippers.
const (
	LogText = "text"
	LogJSON = "json"
)

// Config is the whole runtime configuration of the console.
type Config struct {
	Addr    string
	DataDir string
	// DatabaseURL: "" for the embedded SQLite in DataDir, or a
	// postgres:// URL. Redacted: it may hold the database password.
	DatabaseURL      secret.Redacted
	MasterKeyFile    string
	MasterKey        secret.Redacted // POSTERN_MASTER_KEY; environment only, never a flag
	SyncInterval     time.Duration
	DefenderLoginURL string
	DefenderAPIURL   string
	DefenderScope    string // token scope override; "" means from the Cloud setting
	// GraphURL overrides the Microsoft Graph host of Sign in with
	// Microsoft's groups overage check; "" means from the Cloud setting.
	GraphURL         string
	TrustedProxies   []netip.Prefix
	Demo             bool
	LogFormat        string // LogText or LogJSON
	RetentionDays    int    // days the audit log and the posture history keep
	DefenderPageSize int    // machines asked for per page of the Defender listing ($top)
	// SyncRemovalGuard: a sync whose listing would mark more than this
	// percentage of the active fleet missing is held for an admin.
	SyncRemovalGuard int
	// Forward-auth's reading of forwarded client certificates
	// (docs/api.md#client-certificates): a CA bundle file to verify them
	// against ("" verifies nothing: the proxy's token vouches for them),
	// URI SAN prefixes before the Entra device id, and whether the subject
	// CN may carry it.
	ClientCertCA          string
	ClientCertURIPrefixes []string
	ClientCertSubjectCN   bool
	// ForwardAuthMaxAge: how long a proxy may cache a forward-auth
	// decision (never past its valid_until); 0 sends no-store.
	ForwardAuthMaxAge time.Duration
	// DecisionLogDays: days the decision log keeps (1 to 365).
	DecisionLogDays int
	// DecisionLogSample: one allow in this many is recorded (0: none).
	DecisionLogSample int
	// DecisionLogMaxRows: entries the decision log keeps at most, the
	// newest (0: no cap).
	DecisionLogMaxRows int
	// ReplicaName names this replica to the others and to admins, with
	// a PostgreSQL database ("" on SQLite: one process).
	ReplicaName string
	// LeaderLease bounds how long a sync leader that froze or lost the
	// database keeps the lock before another replica takes over.
	LeaderLease time.Duration
	// KeyRereadInterval is how often the master key file is read again
	// (and, on a replica, its key ids reported to the others).
	KeyRereadInterval time.Duration
}

// Setting describes one flag: its name, default and meaning. The table is the
// single source for the flag set, the environment names and the docs.
type Setting struct {
	Name    string
	Default string
	Usage   string
}

// Settings lists every flag in the order they are documented.
var Settings = []Setting{
	{"addr", "127.0.0.1:8080", "listen address"},
	{"data-dir", "./data", "directory for the SQLite database and the generated key file"},
	{"database-url", "", "PostgreSQL URL (postgres://user:password@host/db), for several replicas (default: the SQLite database in data-dir)"},
	{"master-key-file", "", "master key file (default <data-dir>/master.key); POSTERN_MASTER_KEY overrides it"},
	{"sync-interval", "5m", "background sync period (at least 1m)"},
	{"defender-login-url", "", "token host override (default: from the Cloud setting)"},
	{"defender-api-url", "", "Defender API host override (default: from Cloud and API region)"},
	{"defender-scope", "", "token scope override, an absolute URI ending in /.default (default: from the Cloud setting)"},
	{"graph-url", "", "Microsoft Graph host override, for Sign in with Microsoft's groups overage check (default: from the Cloud setting)"},
	{"trusted-proxies", "", "comma-separated CIDRs whose X-Forwarded-* headers are believed"},
	{"demo", "false", "also start the built-in Defender emulator and print its credentials"},
	{"log-format", LogText, "log line format: text (key=value) or json (one object per line)"},
	{"retention-days", "400", "days the audit log and the posture history keep their entries (at least 30)"},
	{"defender-page-size", "2000", "machines asked for per page of the Defender machine list ($top; 1 to 10000)"},
	{"sync-removal-guard", "10", "hold a sync that would mark more than this percentage (1-100) of the active devices missing"},
	{"client-cert-ca", "", "PEM CA bundle that forwarded client certificates must chain to (default: not verified)"},
	{"client-cert-uri-prefixes", "", "comma-separated URI SAN prefixes before the Entra device id (a bare GUID is always read)"},
	{"client-cert-subject-cn", "false", "also read the Entra device id from a client certificate's subject CN"},
	{"forward-auth-max-age", "0", "how long a proxy may cache a forward-auth decision (Cache-Control max-age, at most 1h, never past valid_until; 0: no-store)"},
	{"decision-log-days", "7", "days the decision log keeps the enforcement API's denials (1 to 365)"},
	{"decision-log-sample", "100", "record one allow in this many in the decision log (0: no allows)"},
	{"replica-name", "", "this replica's name among several on one PostgreSQL database (default: the host name and the port of addr)"},
	{"leader-lease", "10s", "with PostgreSQL: how long a sync leader that stopped answering keeps the sync before another replica takes over (2s to 1m)"},
	{"key-reread-interval", "1m", "how often the master key file is read again, so that a key staged or activated elsewhere is picked up without a restart (1s to 1m)"},
	{"decision-log-max-rows", "5000000", "entries the decision log keeps at most, the newest (0: no cap; at least 1000 otherwise)"},
}

// MinDecisionLogMaxRows is the smallest cap on the decision log: below it
// the page would lose the last minute's denials under load.
const MinDecisionLogMaxRows = 1000

// DefaultDefenderPageSize is how many machines Postern asks for per page:
// a 10,000-machine page of a real tenant can be tens of MB and take long
// to arrive; 2,000 keep pages quick, at five times the calls (firezone
// uses 1,000). MaxDefenderPageSize is Defender's own limit on $top.
const (
	DefaultDefenderPageSize = 2000
	MaxDefenderPageSize     = 10000
)

// MinRetentionDays is the shortest retention accepted: a month of audit
// log, so that a typo cannot erase the record.
const MinRetentionDays = 30

// EnvName is the environment variable that sets the named flag.
func EnvName(flagName string) string {
	return "POSTERN_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// Load parses args (without the program name) over the environment. A flag
// given on the command line wins over its environment variable, which wins
// over the default. It returns the remaining positional arguments.
func Load(getenv func(string) string, args []string, output io.Writer) (Config, []string, error) {
	fs := flag.NewFlagSet("postern", flag.ContinueOnError)
	fs.SetOutput(output)
	values := make(map[string]*string, len(Settings))
	for _, s := range Settings {
		def := s.Default
		if v := getenv(EnvName(s.Name)); v != "" {
			def = v
		}
		v := def
		values[s.Name] = &v
		if s.Default == "false" {
			fs.Var(boolFlag{&v}, s.Name, s.Usage) // --demo alone means true
		} else {
			fs.StringVar(&v, s.Name, def, s.Usage)
		}
	}
	if err := fs.Parse(args); err != nil {
		return Config{}, nil, err
	}
	cfg, err := build(values, getenv("POSTERN_MASTER_KEY"))
	if err != nil {
		return Config{}, nil, err
	}
	return cfg, fs.Args(), nil
}

func build(v map[string]*string, masterKey string) (Config, error) {
	var errs []error
	cfg := Config{
		Addr:             strings.TrimSpace(*v["addr"]),
		DataDir:          strings.TrimSpace(*v["data-dir"]),
		DatabaseURL:      secret.Redacted(strings.TrimSpace(*v["database-url"])),
		MasterKeyFile:    strings.TrimSpace(*v["master-key-file"]),
		MasterKey:        secret.Redacted(strings.TrimSpace(masterKey)),
		DefenderLoginURL: strings.TrimRight(strings.TrimSpace(*v["defender-login-url"]), "/"),
		DefenderAPIURL:   strings.TrimRight(strings.TrimSpace(*v["defender-api-url"]), "/"),
		DefenderScope:    strings.TrimSpace(*v["defender-scope"]),
		LogFormat:        strings.ToLower(strings.TrimSpace(*v["log-format"])),
	}
	if cfg.MasterKeyFile == "" && cfg.DataDir != "" {
		cfg.MasterKeyFile = filepath.Join(cfg.DataDir, "master.key")
	}
	d, err := time.ParseDuration(strings.TrimSpace(*v["sync-interval"]))
	if err != nil {
		errs = append(errs, fmt.Errorf("sync-interval: %q is not a duration such as 5m or 1h", *v["sync-interval"]))
	}
	cfg.SyncInterval = d
	if cfg.TrustedProxies, err = parsePrefixes(*v["trusted-proxies"]); err != nil {
		errs = append(errs, err)
	}
	if cfg.RetentionDays, err = strconv.Atoi(strings.TrimSpace(*v["retention-days"])); err != nil {
		errs = append(errs, fmt.Errorf("retention-days: %q is not a whole number of days", *v["retention-days"]))
		cfg.RetentionDays = MinRetentionDays
	}
	if cfg.DefenderPageSize, err = strconv.Atoi(strings.TrimSpace(*v["defender-page-size"])); err != nil {
		errs = append(errs, fmt.Errorf("defender-page-size: %q is not a whole number of machines", *v["defender-page-size"]))
		cfg.DefenderPageSize = DefaultDefenderPageSize
	}
	if cfg.SyncRemovalGuard, err = strconv.Atoi(strings.TrimSpace(*v["sync-removal-guard"])); err != nil {
		errs = append(errs, fmt.Errorf("sync-removal-guard: %q is not a whole percentage such as 10", *v["sync-removal-guard"]))
		cfg.SyncRemovalGuard = 10
	}
	if cfg.DecisionLogDays, err = strconv.Atoi(strings.TrimSpace(*v["decision-log-days"])); err != nil {
		errs = append(errs, fmt.Errorf("decision-log-days: %q is not a whole number of days", *v["decision-log-days"]))
		cfg.DecisionLogDays = 7
	}
	if cfg.DecisionLogSample, err = strconv.Atoi(strings.TrimSpace(*v["decision-log-sample"])); err != nil {
		errs = append(errs, fmt.Errorf("decision-log-sample: %q is not a whole number", *v["decision-log-sample"]))
	}
	if cfg.DecisionLogMaxRows, err = strconv.Atoi(strings.TrimSpace(*v["decision-log-max-rows"])); err != nil {
		errs = append(errs, fmt.Errorf("decision-log-max-rows: %q is not a whole number of rows", *v["decision-log-max-rows"]))
		cfg.DecisionLogMaxRows = 5000000
	}
	for _, b := range [...]struct {
		name string
		dst  *bool
	}{{"demo", &cfg.Demo}, {"client-cert-subject-cn", &cfg.ClientCertSubjectCN}} {
		switch strings.ToLower(strings.TrimSpace(*v[b.name])) {
		case "", "0", "false", "no", "off":
		case "1", "true", "yes", "on":
			*b.dst = true
		default:
			errs = append(errs, fmt.Errorf("%s: %q is not true or false", b.name, *v[b.name]))
		}
	}
	cfg.ClientCertCA, cfg.GraphURL = strings.TrimSpace(*v["client-cert-ca"]), strings.TrimRight(strings.TrimSpace(*v["graph-url"]), "/")
	errs = append(errs, buildReplica(v, &cfg)...)
	if cfg.ForwardAuthMaxAge, err = time.ParseDuration(strings.TrimSpace(*v["forward-auth-max-age"])); err != nil ||
		cfg.ForwardAuthMaxAge < 0 || cfg.ForwardAuthMaxAge > time.Hour {
		errs = append(errs, fmt.Errorf("forward-auth-max-age: %q is not a duration from 0 to 1h, such as 5s", *v["forward-auth-max-age"]))
	}
	for _, p := range strings.Split(*v["client-cert-uri-prefixes"], ",") {
		p = strings.TrimSpace(p)
		switch {
		case p == "":
		case strings.HasPrefix(strings.ToLower(p), "intunedeviceid:"):
			errs = append(errs, fmt.Errorf("client-cert-uri-prefixes: %q is Intune's own device id, which Defender does not report", p))
		default:
			cfg.ClientCertURIPrefixes = append(cfg.ClientCertURIPrefixes, p)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return Config{}, err
	}
	return cfg, cfg.Validate()
}

// buildReplica reads the settings of a replica among several on one
// PostgreSQL database.
func buildReplica(v map[string]*string, cfg *Config) []error {
	var errs []error
	var err error
	if cfg.LeaderLease, err = time.ParseDuration(strings.TrimSpace(*v["leader-lease"])); err != nil ||
		cfg.LeaderLease < 2*time.Second || cfg.LeaderLease > time.Minute {
		errs = append(errs, fmt.Errorf("leader-lease: %q is not a duration from 2s to 1m, such as 10s", *v["leader-lease"]))
	}
	if cfg.KeyRereadInterval, err = time.ParseDuration(strings.TrimSpace(*v["key-reread-interval"])); err != nil ||
		cfg.KeyRereadInterval < time.Second || cfg.KeyRereadInterval > time.Minute {
		errs = append(errs, fmt.Errorf("key-reread-interval: %q is not a duration from 1s to 1m, such as 1m", *v["key-reread-interval"]))
	}
	if cfg.ReplicaName = strings.TrimSpace(*v["replica-name"]); cfg.ReplicaName == "" && cfg.DatabaseURL != "" {
		cfg.ReplicaName = defaultReplicaName(cfg.Addr)
	}
	if len(cfg.ReplicaName) > 100 || strings.ContainsFunc(cfg.ReplicaName, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		errs = append(errs, fmt.Errorf("replica-name: %q is not a name of at most 100 printable characters", cfg.ReplicaName))
	}
	return errs
}

// Validate reports every problem at once so an operator fixes them in one go.
func (c Config) Validate() error {
	var errs []error
	if _, port, err := net.SplitHostPort(c.Addr); err != nil || port == "" {
		errs = append(errs, fmt.Errorf("addr: %q is not host:port", c.Addr))
	}
	if c.DataDir == "" {
		errs = append(errs, errors.New("data-dir: must not be empty"))
	}
	if err := checkDatabaseURL(c.DatabaseURL.Reveal()); err != nil {
		errs = append(errs, err)
	}
	if c.SyncInterval < MinSyncInterval {
		errs = append(errs, fmt.Errorf("sync-interval: %s is shorter than the minimum %s", c.SyncInterval, MinSyncInterval))
	}
	for name, u := range map[string]string{"defender-login-url": c.DefenderLoginURL, "defender-api-url": c.DefenderAPIURL, "graph-url": c.GraphURL} {
		if u == "" {
			continue
		}
		p, err := url.Parse(u)
		if err != nil || (p.Scheme != "https" && p.Scheme != "http") || p.Host == "" || p.RawQuery != "" {
			errs = append(errs, fmt.Errorf("%s: %q is not an http(s) base URL", name, u))
		}
	}
	if c.DefenderScope != "" {
		if err := defender.CheckScope(c.DefenderScope); err != nil {
			errs = append(errs, fmt.Errorf("defender-scope: %w", err))
		}
	}
	if c.RetentionDays < MinRetentionDays {
		errs = append(errs, fmt.Errorf("retention-days: %d is shorter than the minimum %d", c.RetentionDays, MinRetentionDays))
	}
	if c.DefenderPageSize < 1 || c.DefenderPageSize > MaxDefenderPageSize {
		errs = append(errs, fmt.Errorf("defender-page-size: %d is not between 1 and %d", c.DefenderPageSize, MaxDefenderPageSize))
	}
	if c.SyncRemovalGuard < 1 || c.SyncRemovalGuard > 100 {
		errs = append(errs, fmt.Errorf("sync-removal-guard: %d is not a percentage from 1 to 100", c.SyncRemovalGuard))
	}
	if c.DecisionLogDays < 1 || c.DecisionLogDays > 365 {
		errs = append(errs, fmt.Errorf("decision-log-days: %d is not from 1 to 365", c.DecisionLogDays))
	}
	if c.DecisionLogMaxRows != 0 && c.DecisionLogMaxRows < MinDecisionLogMaxRows {
		errs = append(errs, fmt.Errorf("decision-log-max-rows: %d is neither 0 (no cap) nor at least %d", c.DecisionLogMaxRows, MinDecisionLogMaxRows))
	}
	if c.DecisionLogSample < 0 {
		errs = append(errs, fmt.Errorf("decision-log-sample: %d is negative", c.DecisionLogSample))
	}
	if c.LogFormat != LogText && c.LogFormat != LogJSON {
		errs = append(errs, fmt.Errorf("log-format: %q is not %s or %s", c.LogFormat, LogText, LogJSON))
	}
	return errors.Join(errs...)
}

// checkDatabaseURL accepts "" (SQLite) and postgres:// or postgresql://
// URLs. Its messages never repeat the URL, which may hold a password.
func checkDatabaseURL(s string) error {
	if s == "" {
		return nil
	}
	u, err := url.Parse(s)
	if err != nil {
		return errors.New("database-url: not a valid URL (check that special characters in the password are percent-encoded)")
	}
	if scheme := strings.ToLower(u.Scheme); scheme != "postgres" && scheme != "postgresql" {
		return fmt.Errorf("database-url: %q is not supported: give a postgres:// or postgresql:// URL, or leave it empty for the SQLite database in data-dir", u.Scheme+"://")
	}
	return nil
}

// Database describes the database for people: the SQLite file, or
// PostgreSQL's host and database, never the user's password.
func (c Config) Database() string {
	if c.DatabaseURL == "" {
		return "sqlite " + filepath.Join(c.DataDir, "postern.db")
	}
	u, err := url.Parse(c.DatabaseURL.Reveal())
	if err != nil {
		return "postgres"
	}
	return "postgres " + u.Host + u.Path
}

func parsePrefixes(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if !strings.Contains(part, "/") {
			if a, err := netip.ParseAddr(part); err == nil {
				out = append(out, netip.PrefixFrom(a, a.BitLen()))
				continue
			}
		}
		p, err := netip.ParsePrefix(part)
		if err != nil {
			return nil, fmt.Errorf("trusted-proxies: %q is not a CIDR such as 10.0.0.0/8", part)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// LogValue is the redacted summary logged at start: the master key is never
// shown, only where it comes from.
func (c Config) LogValue() slog.Value {
	keySource := "file " + c.MasterKeyFile
	if c.MasterKey != "" {
		keySource = "environment POSTERN_MASTER_KEY"
	}
	proxies := make([]string, len(c.TrustedProxies))
	for i, p := range c.TrustedProxies {
		proxies[i] = p.String()
	}
	return slog.GroupValue(
		slog.String("addr", c.Addr),
		slog.String("data_dir", c.DataDir),
		slog.String("database", c.Database()),
		slog.String("master_key", keySource),
		slog.Duration("sync_interval", c.SyncInterval),
		slog.String("defender_scope", orDefault(c.DefenderScope, "from cloud setting")),
		slog.String("defender_login_url", orDefault(c.DefenderLoginURL, "from cloud setting")),
		slog.String("defender_api_url", orDefault(c.DefenderAPIURL, "from cloud and region settings")),
		slog.String("graph_url", orDefault(c.GraphURL, "from cloud setting")),
		slog.String("trusted_proxies", orDefault(strings.Join(proxies, ","), "none")),
		slog.Bool("demo", c.Demo),
		slog.String("log_format", c.LogFormat),
		slog.Int("retention_days", c.RetentionDays),
		slog.Int("defender_page_size", c.DefenderPageSize),
		slog.Int("sync_removal_guard", c.SyncRemovalGuard),
		slog.Int("decision_log_days", c.DecisionLogDays),
		slog.Int("decision_log_sample", c.DecisionLogSample),
		slog.Int("decision_log_max_rows", c.DecisionLogMaxRows),
		slog.String("replica", orDefault(c.ReplicaName, "single")),
	)
}

// defaultReplicaName is the host's name and addr's port: distinct for two
// replicas on one host, and telling on the Integrations card.
func defaultReplicaName(addr string) string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "postern"
	}
	if _, port, err := net.SplitHostPort(addr); err == nil && port != "" {
		return host + ":" + port
	}
	return host
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// boolFlag is a string-backed flag that may stand alone (--demo); its value
// is validated with the others in build.
type boolFlag struct{ v *string }

func (b boolFlag) String() string {
	if b.v == nil {
		return ""
	}
	return *b.v
}
func (b boolFlag) Set(s string) error { *b.v = s; return nil }
func (b boolFlag) IsBoolFlag() bool   { return true }
