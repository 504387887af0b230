package main

import (
	"fmt"
	"runtime/debug"
)

// Stamped by `make release` with -ldflags "-X main.version=… -X main.commit=…
// -X main.date=…" so that an operator can tell which build is running. A
// plain `go build` leaves commit and date empty; the VCS details Go records in
// the binary fill them in where it has them.
var (
	version = "dev"
	commit  = ""
	date    = ""
)

// versionLine is what `postern --version` prints.
func versionLine() string {
	info, _ := debug.ReadBuildInfo()
	return describeBuild(version, commit, date, info)
}

// describeBuild formats the version, preferring the link-time values and
// falling back to the build's VCS settings (absent under -buildvcs=false or
// outside a repository).
func describeBuild(version, commit, date string, info *debug.BuildInfo) string {
	if info != nil {
		vcs := map[string]string{}
		for _, s := range info.Settings {
			vcs[s.Key] = s.Value
		}
		if rev := vcs["vcs.revision"]; commit == "" && rev != "" {
			commit = rev[:min(len(rev), 7)]
			if vcs["vcs.modified"] == "true" {
				commit += "+dirty"
			}
		}
		if date == "" {
			date = vcs["vcs.time"]
		}
	}
	return fmt.Sprintf("postern %s (commit %s, built %s)", version, orUnknown(commit), orUnknown(date))
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}
