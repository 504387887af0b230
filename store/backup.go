package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// BackupInfo describes a finished, verified backup file.
type BackupInfo struct {
	Path          string // absolute path of the new file
	Size          int64  // bytes
	SchemaVersion int    // newest migration recorded in the copy
}

// Backup writes a consistent copy of the database at src to the new file dst
// with VACUUM INTO, which reads one snapshot while a running server keeps
// writing. It deliberately bypasses Open: it opens src read-only, so it
// neither creates, migrates nor writes it (a newer binary must not upgrade
// the live database by taking a backup; SQLite may still create the empty
// -wal and -shm files a WAL reader needs), and it needs no master key, since
// sealed secrets are copied as they are.
//
// dst is never overwritten. The copy is made in a private (0600) temporary
// file beside dst, synced, opened read-only and checked with PRAGMA
// integrity_check, and only then hard-linked to dst, which fails if dst
// appeared meanwhile. A failed backup leaves nothing behind; a killed one
// may leave a .NAME.tmp-* file beside dst, never a partial dst.
func Backup(ctx context.Context, src, dst string) (BackupInfo, error) {
	dst, err := filepath.Abs(dst)
	if err != nil {
		return BackupInfo{}, fmt.Errorf("store: backup: %w", err)
	}
	if _, err := os.Lstat(dst); err == nil {
		return BackupInfo{}, fmt.Errorf("store: backup: %s already exists; a backup never overwrites a file, choose a new name", dst)
	}
	if _, err := os.Stat(src); errors.Is(err, fs.ErrNotExist) {
		return BackupInfo{}, fmt.Errorf("store: backup: there is no database at %s", src)
	} else if err != nil {
		return BackupInfo{}, fmt.Errorf("store: backup: %w", err)
	}
	// CreateTemp uses O_EXCL and mode 0600; VACUUM INTO accepts an existing
	// empty file and keeps its mode.
	tmp, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".tmp-*")
	if err != nil {
		return BackupInfo{}, fmt.Errorf("store: backup: create a temporary file beside %s: %w", dst, err)
	}
	tmpPath := tmp.Name()
	tmp.Close()
	defer os.Remove(tmpPath)

	if err := vacuumInto(ctx, src, tmpPath); err != nil {
		return BackupInfo{}, err
	}
	if err := syncFile(tmpPath); err != nil {
		return BackupInfo{}, err
	}
	info := BackupInfo{Path: dst}
	if info.SchemaVersion, err = verifyCopy(ctx, tmpPath); err != nil {
		return BackupInfo{}, err
	}
	if err := os.Link(tmpPath, dst); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return BackupInfo{}, fmt.Errorf("store: backup: %s already exists; a backup never overwrites a file, choose a new name", dst)
		}
		return BackupInfo{}, fmt.Errorf("store: backup: link the finished copy to %s (the file system must support hard links): %w", dst, err)
	}
	if err := syncFile(filepath.Dir(dst)); err != nil {
		return BackupInfo{}, err
	}
	fi, err := os.Stat(dst)
	if err != nil {
		return BackupInfo{}, fmt.Errorf("store: backup: %w", err)
	}
	info.Size = fi.Size()
	return info, nil
}

// readOnlyDSN opens an existing file read-only with no other pragma, so
// that nothing (not even a journal mode change) is written to it.
func readOnlyDSN(path string) string {
	return "file:" + (&url.URL{Path: path}).EscapedPath() + "?_pragma=busy_timeout(5000)&mode=ro"
}

// vacuumInto copies the committed state of src into the empty file dst.
func vacuumInto(ctx context.Context, src, dst string) error {
	db, err := sql.Open("sqlite", readOnlyDSN(src))
	if err != nil {
		return fmt.Errorf("store: backup: open %s: %w", src, err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "VACUUM INTO ?", dst); err != nil {
		return fmt.Errorf("store: backup: copy %s: %w", src, err)
	}
	return nil
}

// verifyCopy opens the copy read-only, runs PRAGMA integrity_check and
// returns the copy's schema version.
func verifyCopy(ctx context.Context, path string) (int, error) {
	db, err := sql.Open("sqlite", readOnlyDSN(path))
	if err != nil {
		return 0, fmt.Errorf("store: backup: open the copy: %w", err)
	}
	defer db.Close()
	problems, err := integrityCheck(ctx, db)
	if err != nil {
		return 0, fmt.Errorf("store: backup: check the copy: %w", err)
	}
	if problems != "" {
		return 0, fmt.Errorf("store: backup: the copy fails PRAGMA integrity_check, so the live database may be damaged; no backup was written: %s", problems)
	}
	var version int
	if err := db.QueryRowContext(ctx, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations").Scan(&version); err != nil {
		return 0, fmt.Errorf("store: backup: the copy is not a Postern database (no schema version): %w", err)
	}
	return version, nil
}

// integrityCheck runs PRAGMA integrity_check on db and returns "" when it
// answers ok, or the first problems it lists.
func integrityCheck(ctx context.Context, db *sql.DB) (string, error) {
	rows, err := db.QueryContext(ctx, "PRAGMA integrity_check(10)")
	if err != nil {
		return "", err
	}
	defer rows.Close()
	var lines []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return "", err
		}
		lines = append(lines, line)
	}
	if err := rows.Err(); err != nil {
		return "", err
	}
	switch {
	case len(lines) == 1 && lines[0] == "ok":
		return "", nil
	case len(lines) == 0:
		return "no answer", nil
	}
	return strings.Join(lines, "; "), nil
}

// syncFile flushes a file or directory to stable storage.
func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("store: backup: %w", err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("store: backup: sync %s: %w", path, err)
	}
	return nil
}
