package config_test

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	"postern/internal/config"
)

// env is a fake environment for Load.
type env map[string]string

func (e env) get(k string) string { return e[k] }

func load(t *testing.T, e env, args ...string) (config.Config, []string, error) {
	t.Helper()
	if e == nil {
		e = env{}
	}
	return config.Load(e.get, args, io.Discard)
}

func mustLoad(t *testing.T, e env, args ...string) config.Config {
	t.Helper()
	cfg, _, err := load(t, e, args...)
	if err != nil {
		t.Fatalf("Load(%v, %q): %v", e, args, err)
	}
	return cfg
}

func TestDefaults(t *testing.T) {
	cfg, rest, err := load(t, nil)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if len(rest) != 0 {
		t.Errorf("positional args = %q, want none", rest)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"Addr", cfg.Addr, "127.0.0.1:8080"},
		{"DataDir", cfg.DataDir, "./data"},
		{"MasterKeyFile", cfg.MasterKeyFile, "data/master.key"},
		{"MasterKey", cfg.MasterKey.Reveal(), ""},
		{"SyncInterval", cfg.SyncInterval, 5 * time.Minute},
		{"DefenderLoginURL", cfg.DefenderLoginURL, ""},
		{"DefenderAPIURL", cfg.DefenderAPIURL, ""},
		{"TrustedProxies", len(cfg.TrustedProxies), 0},
		{"Demo", cfg.Demo, false},
		{"LogFormat", cfg.LogFormat, "text"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %#v, want %#v", c.name, c.got, c.want)
		}
	}
}

func TestEnvName(t *testing.T) {
	for _, tc := range []struct{ flag, want string }{
		{"data-dir", "POSTERN_DATA_DIR"},
		{"addr", "POSTERN_ADDR"},
		{"master-key-file", "POSTERN_MASTER_KEY_FILE"},
		{"defender-api-url", "POSTERN_DEFENDER_API_URL"},
	} {
		if got := config.EnvName(tc.flag); got != tc.want {
			t.Errorf("EnvName(%q) = %q, want %q", tc.flag, got, tc.want)
		}
	}
}

// sample gives each setting a valid non-default value and how to read it
// back from a Config.
var sample = map[string]struct {
	value string
	read  func(config.Config) string
	want  string
}{
	"addr":                     {"0.0.0.0:9999", func(c config.Config) string { return c.Addr }, "0.0.0.0:9999"},
	"data-dir":                 {"/srv/postern", func(c config.Config) string { return c.DataDir }, "/srv/postern"},
	"database-url":             {" postgres://postern:pw@db.example.com:5432/postern ", func(c config.Config) string { return c.DatabaseURL.Reveal() }, "postgres://postern:pw@db.example.com:5432/postern"},
	"master-key-file":          {"/etc/postern/key", func(c config.Config) string { return c.MasterKeyFile }, "/etc/postern/key"},
	"sync-interval":            {"7m", func(c config.Config) string { return c.SyncInterval.String() }, "7m0s"},
	"defender-login-url":       {"https://login.example.com/", func(c config.Config) string { return c.DefenderLoginURL }, "https://login.example.com"},
	"defender-api-url":         {"http://127.0.0.1:9000", func(c config.Config) string { return c.DefenderAPIURL }, "http://127.0.0.1:9000"},
	"graph-url":                {"http://127.0.0.1:9001/", func(c config.Config) string { return c.GraphURL }, "http://127.0.0.1:9001"},
	"defender-scope":           {" https://api-gov.securitycenter.microsoft.us/.default ", func(c config.Config) string { return c.DefenderScope }, "https://api-gov.securitycenter.microsoft.us/.default"},
	"trusted-proxies":          {"10.0.0.0/8", func(c config.Config) string { return fmt.Sprint(c.TrustedProxies) }, "[10.0.0.0/8]"},
	"demo":                     {"true", func(c config.Config) string { return fmt.Sprint(c.Demo) }, "true"},
	"log-format":               {"json", func(c config.Config) string { return c.LogFormat }, "json"},
	"retention-days":           {"90", func(c config.Config) string { return fmt.Sprint(c.RetentionDays) }, "90"},
	"defender-page-size":       {"1000", func(c config.Config) string { return fmt.Sprint(c.DefenderPageSize) }, "1000"},
	"sync-removal-guard":       {"25", func(c config.Config) string { return fmt.Sprint(c.SyncRemovalGuard) }, "25"},
	"decision-log-days":        {"30", func(c config.Config) string { return fmt.Sprint(c.DecisionLogDays) }, "30"},
	"decision-log-sample":      {"0", func(c config.Config) string { return fmt.Sprint(c.DecisionLogSample) }, "0"},
	"decision-log-max-rows":    {"20000", func(c config.Config) string { return fmt.Sprint(c.DecisionLogMaxRows) }, "20000"},
	"client-cert-ca":           {" /etc/postern/device-ca.pem ", func(c config.Config) string { return c.ClientCertCA }, "/etc/postern/device-ca.pem"},
	"client-cert-uri-prefixes": {"urn:device:, urn:x:", func(c config.Config) string { return strings.Join(c.ClientCertURIPrefixes, "|") }, "urn:device:|urn:x:"},
	"forward-auth-max-age":     {"5s", func(c config.Config) string { return c.ForwardAuthMaxAge.String() }, "5s"},
	"replica-name":             {" db-a ", func(c config.Config) string { return c.ReplicaName }, "db-a"},
	"leader-lease":             {"30s", func(c config.Config) string { return c.LeaderLease.String() }, "30s"},
	"key-reread-interval":      {"2s", func(c config.Config) string { return c.KeyRereadInterval.String() }, "2s"},
	"client-cert-subject-cn":   {"yes", func(c config.Config) string { return fmt.Sprint(c.ClientCertSubjectCN) }, "true"},
}

func TestEverySettingHasFlagAndEnv(t *testing.T) {
	if len(config.Settings) != len(sample) {
		t.Errorf("Settings has %d entries, the test knows %d: add the new setting to sample", len(config.Settings), len(sample))
	}
	seen := map[string]bool{}
	for _, s := range config.Settings {
		if seen[s.Name] {
			t.Errorf("setting %q listed twice", s.Name)
		}
		seen[s.Name] = true
		if s.Usage == "" {
			t.Errorf("setting %q has no usage text", s.Name)
		}
		sm, ok := sample[s.Name]
		if !ok {
			t.Errorf("setting %q has no sample value in this test", s.Name)
			continue
		}
		t.Run(s.Name, func(t *testing.T) {
			def := sm.read(mustLoad(t, nil))
			if def == sm.want {
				t.Fatalf("sample value equals the default %q; the test would prove nothing", def)
			}
			if got := sm.read(mustLoad(t, nil, "--"+s.Name+"="+sm.value)); got != sm.want {
				t.Errorf("flag --%s=%s: got %q, want %q", s.Name, sm.value, got, sm.want)
			}
			if got := sm.read(mustLoad(t, env{config.EnvName(s.Name): sm.value})); got != sm.want {
				t.Errorf("env %s=%s: got %q, want %q", config.EnvName(s.Name), sm.value, got, sm.want)
			}
		})
	}
}

func TestPrecedence(t *testing.T) {
	e := env{"POSTERN_ADDR": "10.1.1.1:1111", "POSTERN_DATA_DIR": "/env/data", "POSTERN_SYNC_INTERVAL": "10m", "POSTERN_DEMO": "yes"}
	cfg := mustLoad(t, e)
	if cfg.Addr != "10.1.1.1:1111" || cfg.DataDir != "/env/data" || cfg.SyncInterval != 10*time.Minute || !cfg.Demo {
		t.Errorf("env over default: %+v", cfg)
	}
	if cfg.MasterKeyFile != "/env/data/master.key" {
		t.Errorf("MasterKeyFile = %q, want it to follow the data dir", cfg.MasterKeyFile)
	}
	cfg, rest, err := load(t, e, "-addr", "10.2.2.2:2222", "--data-dir=/flag/data", "--sync-interval", "1h", "--demo=false", "serve", "x")
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if cfg.Addr != "10.2.2.2:2222" || cfg.DataDir != "/flag/data" || cfg.SyncInterval != time.Hour || cfg.Demo {
		t.Errorf("flag over env: %+v", cfg)
	}
	if cfg.MasterKeyFile != "/flag/data/master.key" {
		t.Errorf("MasterKeyFile = %q, want /flag/data/master.key", cfg.MasterKeyFile)
	}
	if strings.Join(rest, " ") != "serve x" {
		t.Errorf("positional args = %q, want [serve x]", rest)
	}
	// An explicit key file wins over the data-dir default.
	cfg = mustLoad(t, env{"POSTERN_MASTER_KEY_FILE": "/k/env.key"}, "--data-dir=/d")
	if cfg.MasterKeyFile != "/k/env.key" {
		t.Errorf("MasterKeyFile = %q, want /k/env.key", cfg.MasterKeyFile)
	}
}

func TestInvalidInputsNameTheSetting(t *testing.T) {
	for _, tc := range []struct {
		name, value string
		via         string // "flag" or "env"
	}{
		{"sync-interval", "30s", "flag"},
		{"sync-interval", "abc", "flag"},
		{"sync-interval", "0", "env"},
		{"sync-interval", "-5m", "flag"},
		{"sync-removal-guard", "0", "flag"},
		{"sync-removal-guard", "101", "env"},
		{"sync-removal-guard", "ten", "flag"},
		{"client-cert-subject-cn", "maybe", "env"},
		{"forward-auth-max-age", "2h", "flag"},
		{"forward-auth-max-age", "-1s", "env"},
		{"forward-auth-max-age", "five", "flag"},
		{"client-cert-uri-prefixes", "IntuneDeviceId://", "flag"},
		{"addr", "nohost", "flag"},
		{"addr", "127.0.0.1", "env"},
		{"trusted-proxies", "10.0.0.0/33", "flag"},
		{"trusted-proxies", "banana", "flag"},
		{"trusted-proxies", "10.0.0.0/8, banana", "env"},
		{"defender-api-url", "ftp://x", "flag"},
		{"defender-api-url", "not a url", "flag"},
		{"defender-api-url", "https://", "env"},
		{"defender-api-url", "https://h/?q=1", "flag"},
		{"graph-url", "file:///etc/passwd", "env"},
		{"defender-login-url", "file:///etc/passwd", "flag"},
		{"defender-scope", "https://api.securitycenter.microsoft.com", "flag"},
		{"defender-scope", "api.securitycenter.microsoft.com/.default", "env"},
		{"defender-scope", "https:///.default", "flag"},
		{"defender-scope", "https://h/x?q=1/.default", "flag"},
		{"demo", "maybe", "flag"},
		{"demo", "2", "env"},
		{"data-dir", " ", "flag"},
		{"database-url", "mysql://u:p@h/db", "flag"},
		{"database-url", "postern.db", "env"},
		{"database-url", "postgres://u:p@h:port/db", "env"},
		{"log-format", "xml", "flag"},
		{"log-format", "logfmt", "env"},
		{"log-format", " ", "flag"},
		{"retention-days", "29", "flag"},
		{"retention-days", "a year", "env"},
		{"retention-days", "-400", "flag"},
		{"defender-page-size", "0", "flag"},
		{"defender-page-size", "10001", "env"},
		{"defender-page-size", "lots", "flag"},
	} {
		t.Run(tc.name+"="+tc.value, func(t *testing.T) {
			var err error
			if tc.via == "flag" {
				_, _, err = load(t, nil, "--"+tc.name+"="+tc.value)
			} else {
				_, _, err = load(t, env{config.EnvName(tc.name): tc.value})
			}
			if err == nil {
				t.Fatalf("%s %s=%q accepted, want an error", tc.via, tc.name, tc.value)
			}
			if !strings.Contains(err.Error(), tc.name) {
				t.Errorf("error %q does not name the setting %q", err, tc.name)
			}
		})
	}
}

func TestSeveralProblemsReportedAtOnce(t *testing.T) {
	_, _, err := load(t, nil, "--addr=nohost", "--defender-api-url=ftp://x", "--sync-interval=30s")
	if err == nil {
		t.Fatal("Load accepted three bad settings")
	}
	for _, name := range []string{"addr", "defender-api-url", "sync-interval"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error %q does not mention %s", err, name)
		}
	}
}

func TestLogFormat(t *testing.T) {
	for in, want := range map[string]string{"text": "text", "json": "json", " JSON ": "json", "Text": "text"} {
		if got := mustLoad(t, nil, "--log-format", in).LogFormat; got != want {
			t.Errorf("--log-format %q: LogFormat = %q, want %q", in, got, want)
		}
	}
	if got := mustLoad(t, env{"POSTERN_LOG_FORMAT": "json"}, "--log-format=text").LogFormat; got != "text" {
		t.Errorf("flag text over POSTERN_LOG_FORMAT=json: LogFormat = %q, want text", got)
	}
	_, _, err := load(t, env{"POSTERN_LOG_FORMAT": "yaml"})
	if want := `log-format: "yaml" is not text or json`; err == nil || err.Error() != want {
		t.Errorf("POSTERN_LOG_FORMAT=yaml: error %v, want %q", err, want)
	}
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("starting", "config", mustLoad(t, nil, "--log-format=json"))
	if !strings.Contains(buf.String(), "config.log_format=json") {
		t.Errorf("log line %q does not show the log format", buf.String())
	}
}

func TestUnknownFlagRefused(t *testing.T) {
	var out bytes.Buffer
	_, _, err := config.Load(env{}.get, []string{"--master-key=abc"}, &out)
	if err == nil {
		t.Error("--master-key accepted; the key must come from the environment only")
	}
}

func TestTrustedProxies(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"192.0.2.7", []string{"192.0.2.7/32"}},
		{"2001:db8::1", []string{"2001:db8::1/128"}},
		{"10.1.2.3/8", []string{"10.0.0.0/8"}},
		{" 10.0.0.0/8 , 192.0.2.7 ,, ", []string{"10.0.0.0/8", "192.0.2.7/32"}},
		{"", nil},
	} {
		cfg := mustLoad(t, nil, "--trusted-proxies="+tc.in)
		var got []string
		for _, p := range cfg.TrustedProxies {
			got = append(got, p.String())
		}
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("trusted-proxies %q = %v, want %v", tc.in, got, tc.want)
		}
	}
	cfg := mustLoad(t, nil, "--trusted-proxies=192.0.2.7")
	if len(cfg.TrustedProxies) != 1 || !cfg.TrustedProxies[0].Contains(netip.MustParseAddr("192.0.2.7")) || cfg.TrustedProxies[0].Contains(netip.MustParseAddr("192.0.2.8")) {
		t.Errorf("bare IP prefix %v, want exactly that address", cfg.TrustedProxies)
	}
}

func TestDemoValues(t *testing.T) {
	for in, want := range map[string]bool{
		"true": true, "TRUE": true, "1": true, "yes": true, "on": true, " On ": true,
		"false": false, "0": false, "no": false, "off": false, "": false,
	} {
		if got := mustLoad(t, env{"POSTERN_DEMO": in}).Demo; got != want {
			t.Errorf("POSTERN_DEMO=%q: Demo = %v, want %v", in, got, want)
		}
	}
}

const sentinelKey = "c2VudGluZWwtbWFzdGVyLWtleS0zMi1ieXRlcy1sb25n"

func TestMasterKeyNeverShown(t *testing.T) {
	cfg := mustLoad(t, env{"POSTERN_MASTER_KEY": sentinelKey, "POSTERN_TRUSTED_PROXIES": "10.0.0.0/8"})
	if cfg.MasterKey.Reveal() != sentinelKey {
		t.Fatalf("MasterKey = %q, want it read from POSTERN_MASTER_KEY", cfg.MasterKey.Reveal())
	}

	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("starting", "config", cfg)
	logged := buf.String()
	if strings.Contains(logged, sentinelKey) {
		t.Errorf("log line contains the master key: %s", logged)
	}
	if !strings.Contains(logged, "POSTERN_MASTER_KEY") {
		t.Errorf("log line %q does not say the key comes from the environment", logged)
	}
	for _, want := range []string{"config.addr=127.0.0.1:8080", "config.trusted_proxies=10.0.0.0/8", "config.sync_interval=5m0s"} {
		if !strings.Contains(logged, want) {
			t.Errorf("log line %q lacks %s", logged, want)
		}
	}

	var jbuf bytes.Buffer
	slog.New(slog.NewJSONHandler(&jbuf, nil)).Info("starting", "config", cfg)
	if strings.Contains(jbuf.String(), sentinelKey) {
		t.Errorf("JSON log line contains the master key: %s", jbuf.String())
	}

	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
		if out := fmt.Sprintf(verb, cfg); strings.Contains(out, sentinelKey) || strings.Contains(out, fmt.Sprintf("%x", sentinelKey)) {
			t.Errorf("fmt %s of Config shows the master key: %s", verb, out)
		}
		if out := fmt.Sprintf(verb, &cfg); strings.Contains(out, sentinelKey) {
			t.Errorf("fmt %s of *Config shows the master key: %s", verb, out)
		}
	}
}

func TestLogValueNamesKeyFile(t *testing.T) {
	cfg := mustLoad(t, nil, "--data-dir=/srv/p")
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("starting", "config", cfg)
	if !strings.Contains(buf.String(), "/srv/p/master.key") {
		t.Errorf("log line %q does not name the key file", buf.String())
	}
	if strings.Contains(buf.String(), "POSTERN_MASTER_KEY") {
		t.Errorf("log line %q says the environment key is used, but none is set", buf.String())
	}
}

func TestValidateDirect(t *testing.T) {
	good := mustLoad(t, nil)
	if err := good.Validate(); err != nil {
		t.Errorf("Validate(defaults) = %v", err)
	}
	bad := good
	bad.SyncInterval = 59 * time.Second
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "sync-interval") {
		t.Errorf("Validate(59s) = %v, want a sync-interval error", err)
	}
	ok := good
	ok.SyncInterval = config.MinSyncInterval
	if err := ok.Validate(); err != nil {
		t.Errorf("Validate(MinSyncInterval) = %v, want nil", err)
	}
}

func TestDemoFlagStandsAlone(t *testing.T) {
	cfg, rest, err := config.Load(func(string) string { return "" }, []string{"--demo", "--addr", "127.0.0.1:9999"}, io.Discard)
	if err != nil || !cfg.Demo || cfg.Addr != "127.0.0.1:9999" || len(rest) != 0 {
		t.Fatalf("Load(--demo --addr …) = demo %v addr %q rest %v err %v", cfg.Demo, cfg.Addr, rest, err)
	}
	cfg, _, err = config.Load(func(k string) string { return map[string]string{"POSTERN_DEMO": "true"}[k] }, []string{"--demo=false"}, io.Discard)
	if err != nil || cfg.Demo {
		t.Fatalf("--demo=false over POSTERN_DEMO=true: demo %v err %v", cfg.Demo, err)
	}
}

// A PostgreSQL URL is accepted under either scheme; the database is logged
// by host and name, and neither the log nor an error shows the password.
func TestDatabaseURL(t *testing.T) {
	const pw = "s3cret-Pw"
	for _, u := range []string{"postgres://postern:" + pw + "@db.example.com/postern", "PostgreSQL://postern:" + pw + "@db.example.com/postern?sslmode=require"} {
		cfg := mustLoad(t, env{"POSTERN_DATABASE_URL": u})
		if cfg.DatabaseURL.Reveal() != u {
			t.Errorf("DatabaseURL = %q, want %q", cfg.DatabaseURL.Reveal(), u)
		}
		var buf bytes.Buffer
		slog.New(slog.NewTextHandler(&buf, nil)).Info("starting", "config", cfg)
		if strings.Contains(buf.String(), pw) || strings.Contains(fmt.Sprintf("%+v", cfg), pw) {
			t.Errorf("the password shows: %s", buf.String())
		}
		if !strings.Contains(buf.String(), "config.database=\"postgres db.example.com/postern\"") {
			t.Errorf("log line %q does not name the database", buf.String())
		}
	}
	if got := mustLoad(t, nil, "--data-dir=/srv/p").Database(); got != "sqlite /srv/p/postern.db" {
		t.Errorf("default Database() = %q, want the SQLite file", got)
	}
	for _, bad := range []string{"mysql://u:" + pw + "@h/db", "postgres://u:" + pw + "@h:port/db"} {
		_, _, err := load(t, env{"POSTERN_DATABASE_URL": bad})
		if err == nil {
			t.Errorf("%q accepted", bad)
		} else if strings.Contains(err.Error(), pw) {
			t.Errorf("error %q shows the password", err)
		}
	}
}
