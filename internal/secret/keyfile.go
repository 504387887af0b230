package secret

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// EnvVar names the environment variable that overrides the key file.
const EnvVar = "POSTERN_MASTER_KEY"

// maxKeyFileSize bounds how much of a key file is read; a keyring with
// hundreds of keys still fits.
const maxKeyFileSize = 64 << 10

// raceWait is how long a process that lost the O_EXCL race waits for the
// winner to finish writing the new key.
const raceWait = time.Second

// errEmptyKeyFile marks a key file that exists but holds nothing yet, which
// is what a process sees while another one is still writing it.
var errEmptyKeyFile = errors.New("is empty")

// LoadKeyring finds the master keyring, preferring envValue (the
// POSTERN_MASTER_KEY value) over the file at path. With neither present it
// creates the file with a new random key, so a first start needs no setup;
// created tells the caller to say so in the log. Errors name the source
// but never contain key material.
func LoadKeyring(envValue, path string) (kr *Keyring, created bool, err error) {
	kr, err = ReadKeyring(envValue, path)
	if errors.Is(err, errEmptyKeyFile) {
		// Another process is creating it right now: wait for its key.
		kr, err := readAfterRace(path)
		return kr, false, err
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return kr, false, err
	}
	key, err := createKeyFile(path)
	if errors.Is(err, fs.ErrExist) {
		// Another process created it first: use its key, not ours.
		kr, err := readAfterRace(path)
		return kr, false, err
	}
	if err != nil {
		return nil, false, err
	}
	kr, err = newKeyring("k1", map[string]*masterKey{"k1": key})
	return kr, err == nil, err
}

// ReadKeyring is LoadKeyring for a running process that looks again: it
// reads the same sources but never creates a key file.
func ReadKeyring(envValue, path string) (*Keyring, error) {
	if strings.TrimSpace(envValue) != "" {
		return parseEnvKey(envValue)
	}
	if path == "" {
		return nil, fmt.Errorf("secret: no master key: set %s or a master key file path", EnvVar)
	}
	return readKeyFile(path)
}

// parseEnvKey accepts one base64 key (id k1) or the JSON keyring form.
func parseEnvKey(value string) (*Keyring, error) {
	value = strings.TrimSpace(value)
	if strings.HasPrefix(value, "{") {
		return parseJSONKeyring(EnvVar, []byte(value))
	}
	key, err := decodeKey(value)
	if err != nil {
		return nil, fmt.Errorf("secret: %s must be base64 of exactly %d bytes (%w)", EnvVar, KeySize, err)
	}
	return newKeyring("k1", map[string]*masterKey{"k1": key})
}

// readKeyFile refuses symlinks and files others can read, as ssh does with
// private keys, then parses the contents.
func readKeyFile(path string) (*Keyring, error) {
	info, err := os.Lstat(path)
	if err != nil {
		return nil, fmt.Errorf("secret: master key file: %w", err)
	}
	if info.Mode()&fs.ModeSymlink != 0 {
		return nil, fmt.Errorf("secret: master key file %s is a symlink; point the key file path at the real file", path)
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("secret: master key file %s is not a regular file", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("secret: master key file: %w", err)
	}
	defer f.Close()
	opened, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("secret: master key file: %w", err)
	}
	// Checking the opened file closes the gap between Lstat and Open in
	// which the path could be swapped for a symlink.
	if !os.SameFile(info, opened) {
		return nil, fmt.Errorf("secret: master key file %s changed while being opened", path)
	}
	if err := checkKeyFileMode(path, opened.Mode()); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFileSize+1))
	defer clear(data)
	if err != nil {
		return nil, fmt.Errorf("secret: master key file: %w", err)
	}
	return parseKeyFile(path, data)
}

// checkKeyFileMode refuses a key file that group or others can access.
// Windows has no such bits, so the check is skipped there.
func checkKeyFileMode(path string, mode fs.FileMode) error {
	if runtime.GOOS == "windows" || mode.Perm()&0o077 == 0 {
		return nil
	}
	return fmt.Errorf("secret: master key file %s is readable by group or others (mode %04o); run: chmod 600 %s",
		path, mode.Perm(), path)
}

// parseKeyFile accepts exactly 32 raw bytes (key id k1) or the JSON
// keyring form. A 32-byte file is always raw: no valid JSON keyring is that
// short.
func parseKeyFile(path string, data []byte) (*Keyring, error) {
	source := "master key file " + path
	switch {
	case len(data) == 0:
		return nil, fmt.Errorf("secret: %s %w", source, errEmptyKeyFile)
	case len(data) > maxKeyFileSize:
		return nil, fmt.Errorf("secret: %s is larger than %d bytes", source, maxKeyFileSize)
	case len(data) == KeySize:
		key := new(masterKey)
		copy(key[:], data)
		return newKeyring("k1", map[string]*masterKey{"k1": key})
	case bytes.HasPrefix(bytes.TrimSpace(data), []byte("{")):
		return parseJSONKeyring(source, data)
	default:
		return nil, fmt.Errorf("secret: %s must hold exactly %d raw bytes or a JSON keyring (it holds %d bytes)",
			source, KeySize, len(data))
	}
}

// readAfterRace reads a key file another process has just created,
// waiting briefly while it is still empty.
func readAfterRace(path string) (*Keyring, error) {
	deadline := time.Now().Add(raceWait)
	for {
		kr, err := readKeyFile(path)
		if !errors.Is(err, errEmptyKeyFile) || time.Now().After(deadline) {
			return kr, err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// createKeyFile writes a new random key with O_EXCL, so two processes
// starting together cannot both create one, and syncs file and directory
// so the key survives a crash. It returns an error matching fs.ErrExist if
// the file already exists.
func createKeyFile(path string) (*masterKey, error) {
	key := new(masterKey)
	if _, err := rand.Read(key[:]); err != nil {
		return nil, fmt.Errorf("secret: generate master key: %w", err)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("secret: create master key directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("secret: create master key file: %w", err)
	}
	_, err = f.Write(key[:])
	if err == nil {
		err = f.Sync()
	}
	if closeErr := f.Close(); err == nil {
		err = closeErr
	}
	if err != nil {
		// A partial file would be refused on every later start; remove it
		// so the next start can try again.
		_ = os.Remove(path)
		return nil, fmt.Errorf("secret: write master key file: %w", err)
	}
	if err := syncDir(dir); err != nil {
		return nil, err
	}
	return key, nil
}

// WriteKeyring replaces the key file at path with kr in JSON form. It writes
// a temp file in the same directory and renames it over path, so a crash
// leaves either the old keyring or the new one, never half of one.
func WriteKeyring(path string, kr *Keyring) error {
	if kr == nil {
		return errors.New("secret: nil keyring")
	}
	data, err := kr.marshal()
	if err != nil {
		return err
	}
	defer clear(data)
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("secret: create master key directory: %w", err)
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("secret: write keyring: %w", err)
	}
	tmp := f.Name()
	err = f.Chmod(0o600)
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if closeErr := f.Close(); err == nil {
		err = closeErr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("secret: write keyring: %w", err)
	}
	return syncDir(dir)
}

// syncDir makes a create or rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("secret: sync directory: %w", err)
	}
	err = d.Sync()
	if closeErr := d.Close(); err == nil {
		err = closeErr
	}
	if err != nil {
		return fmt.Errorf("secret: sync directory: %w", err)
	}
	return nil
}
