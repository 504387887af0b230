package main

import (
	"context"
	"os"
	"path/filepath"
	"runtime/debug"
	"testing"

	"postern/internal/testkit"
)

func TestDescribeBuild(t *testing.T) {
	vcs := func(kv ...string) *debug.BuildInfo {
		info := &debug.BuildInfo{}
		for i := 0; i < len(kv); i += 2 {
			info.Settings = append(info.Settings, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
		}
		return info
	}
	clean := vcs("vcs.revision", "0123456789abcdef0123", "vcs.time", "2026-01-02T03:04:05Z", "vcs.modified", "false")
	dirty := vcs("vcs.revision", "0123456789abcdef0123", "vcs.time", "2026-01-02T03:04:05Z", "vcs.modified", "true")
	for _, tc := range []struct {
		name                  string
		version, commit, date string
		info                  *debug.BuildInfo
		want                  string
	}{
		{"stamped by ldflags wins", "v1.2.0", "abc1234", "2026-02-03T00:00:00Z", dirty,
			"postern v1.2.0 (commit abc1234, built 2026-02-03T00:00:00Z)"},
		{"go build in a clean checkout", "dev", "", "", clean,
			"postern dev (commit 0123456, built 2026-01-02T03:04:05Z)"},
		{"go build with local changes", "dev", "", "", dirty,
			"postern dev (commit 0123456+dirty, built 2026-01-02T03:04:05Z)"},
		{"only the date stamped", "dev", "", "2026-02-03T00:00:00Z", clean,
			"postern dev (commit 0123456, built 2026-02-03T00:00:00Z)"},
		{"no VCS information", "dev", "", "", vcs(), "postern dev (commit unknown, built unknown)"},
		{"no build information", "dev", "", "", nil, "postern dev (commit unknown, built unknown)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := describeBuild(tc.version, tc.commit, tc.date, tc.info); got != tc.want {
				t.Errorf("describeBuild = %q, want %q", got, tc.want)
			}
		})
	}
}

// Both spellings print the stamped line and nothing else, and start nothing.
func TestVersionCommand(t *testing.T) {
	defer func(v, c, d string) { version, commit, date = v, c, d }(version, commit, date)
	version, commit, date = "v9.8.7", "fedcba9", "2026-03-04T05:06:07Z"
	const want = "postern v9.8.7 (commit fedcba9, built 2026-03-04T05:06:07Z)\n"
	for _, arg := range []string{"version", "--version", "-version"} {
		t.Run(arg, func(t *testing.T) {
			dir := t.TempDir()
			env := envOf(map[string]string{"POSTERN_DATA_DIR": dir, "POSTERN_ADDR": "127.0.0.1:0"})
			out := &testkit.Buffer{}
			if err := run(context.Background(), []string{arg}, env, out); err != nil {
				t.Fatalf("run(%s): %v", arg, err)
			}
			if out.String() != want {
				t.Errorf("run(%s) printed %q, want %q", arg, out, want)
			}
			if _, err := os.Stat(filepath.Join(dir, "master.key")); !os.IsNotExist(err) {
				t.Errorf("run(%s) opened the data directory", arg)
			}
		})
	}
}
