package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"postern/internal/config"
	"postern/store"
)

// backupCommand writes a consistent copy of the database to a new file while
// the server may keep running. It loads only the configuration: no master
// key (the copy keeps the secrets sealed) and no store.Open (which would
// create or migrate the live database).
func backupCommand(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	cfg, rest, err := config.Load(getenv, args, stdout)
	if err != nil {
		return err
	}
	if len(rest) != 1 || rest[0] == "" {
		return errors.New("usage: postern backup [flags] FILE")
	}
	if cfg.DatabaseURL != "" {
		return errors.New("postern backup copies the embedded SQLite database; with --database-url, back up PostgreSQL with pg_dump (docs/backup.md)")
	}
	info, err := store.Backup(ctx, dbPath(cfg), rest[0])
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Backed up the database to %s (%d bytes, schema version %d); PRAGMA integrity_check: ok.\n",
		info.Path, info.Size, info.SchemaVersion)
	if known := store.SchemaVersion(); info.SchemaVersion > known {
		fmt.Fprintf(stdout, "The database's schema is newer than this Postern (%d): restore it with a release that knows version %d.\n",
			known, info.SchemaVersion)
	}
	key := "the key file " + cfg.MasterKeyFile
	if cfg.MasterKey != "" {
		key = "the value of POSTERN_MASTER_KEY"
	}
	fmt.Fprintf(stdout, "The master key is NOT in this backup. Back up %s separately, and keep it apart from the backup:\n", key)
	fmt.Fprintln(stdout, "without it the stored Defender client secret cannot be decrypted, and Postern refuses to start on the restored copy.")
	return nil
}
