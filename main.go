// Command postern is a self-hosted Zero Trust admin console: it keeps a fresh
// copy of Microsoft Defender for Endpoint device posture and answers the
// access gateway's allow/deny questions.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "postern:", err)
		os.Exit(1)
	}
}

// run dispatches to a command. Everything it needs from the process comes in
// as arguments, so tests can run it in-process.
func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "serve":
			return serve(ctx, args[1:], getenv, stdout)
		case "admin":
			return adminCommand(ctx, args[1:], getenv, stdout)
		case "emulate-defender":
			return emulateDefender(ctx, args[1:], stdout)
		case "rotate-key":
			return rotateKey(ctx, args[1:], getenv, stdout)
		case "stage-key":
			return stageKey(ctx, args[1:], getenv, stdout)
		case "activate-key":
			return activateKey(ctx, args[1:], getenv, stdout)
		case "retire-key":
			return retireKey(ctx, args[1:], getenv, stdout)
		case "backup":
			return backupCommand(ctx, args[1:], getenv, stdout)
		case "migrate-store":
			return migrateStoreCommand(ctx, args[1:], getenv, stdout)
		case "version", "-version", "--version":
			fmt.Fprintln(stdout, versionLine())
			return nil
		case "help", "-h", "-help", "--help":
			fmt.Fprint(stdout, usage)
			return nil
		}
	}
	return serve(ctx, args, getenv, stdout)
}

const usage = `Usage:
  postern [flags]                          serve the console (the default)
  postern admin reset-password [flags] EMAIL
                                           set a new random password for EMAIL and end its sessions
  postern admin reset-mfa [flags] EMAIL    turn two-factor authentication off for EMAIL (lost phone and recovery codes)
  postern emulate-defender [flags]         run a local stand-in for Microsoft's token and Defender endpoints
  postern rotate-key [flags]               add a new master key and re-encrypt every stored secret
  postern stage-key [flags]                add a new master key without using it yet (replicas: phase one)
  postern activate-key [flags] KEY_ID      make a staged key active and re-encrypt every stored secret,
                                           once every live replica holds it (phase two)
  postern retire-key [flags] KEY_ID        remove an old master key that nothing uses any more
  postern backup [flags] FILE              copy the live database to a new FILE (the master key is not in it)
  postern migrate-store [--from FILE] [--to URL]
                                           copy a stopped SQLite installation (default <data-dir>/postern.db) into an
                                           empty PostgreSQL database (default POSTERN_DATABASE_URL), verified, in one transaction
  postern version                          print the version, commit and build date (also --version)

Flags (each also read from POSTERN_<NAME>, e.g. POSTERN_DATA_DIR):
  --addr                 listen address (default 127.0.0.1:8080)
  --data-dir             SQLite database and key file directory (default ./data)
  --master-key-file      master key file (default <data-dir>/master.key)
  --sync-interval        background sync period, at least 1m (default 5m)
  --defender-login-url   token host override
  --defender-api-url     Defender API host override
  --trusted-proxies      CIDRs whose X-Forwarded-* headers are believed
  --demo                 also start the built-in Defender emulator
  --log-format           text or json (default text)
  --sync-removal-guard   hold a sync that would mark more than this % of the active devices missing (default 10)
  --decision-log-days    days the decision log keeps denials (default 7)
  --decision-log-sample  record one allow in this many in the decision log (default 100; 0: none)
`
