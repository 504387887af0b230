package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"postern/internal/actor"
	"postern/internal/audit"
	"postern/internal/integration"
	"postern/internal/secret"
)

// rotateKey adds a new master key, makes it active and re-encrypts every
// stored secret under it. The keyring file is written first: if the
// re-encryption then fails, nothing references the new key yet.
func rotateKey(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	e, err := open(ctx, args, getenv, io.Discard)
	if err != nil {
		return err
	}
	defer e.store.Close()
	if e.cfg.MasterKey != "" {
		return errors.New("the master key comes from POSTERN_MASTER_KEY, which this command cannot rewrite; " +
			"put the JSON keyring in a key file (--master-key-file) to rotate, or manage the variable's value yourself")
	}
	next, id, err := e.keyring.WithNewKey()
	if err != nil {
		return err
	}
	if err := secret.WriteKeyring(e.cfg.MasterKeyFile, next); err != nil {
		return err
	}
	svc := integration.New(e.store, next, e.log, integration.Options{})
	n, err := svc.Reseal(actor.NewContext(ctx, actor.CommandLine), next)
	if err != nil {
		return fmt.Errorf("re-encrypt secrets (the new key %s is in the keyring but unused; run rotate-key again): %w", id, err)
	}
	fmt.Fprintf(stdout, "Active master key is now %s; %d stored secret(s) re-encrypted.\n", id, n)
	fmt.Fprintf(stdout, "Older keys stay in %s until retired: take a backup, then run postern retire-key ID.\n", e.cfg.MasterKeyFile)
	fmt.Fprintln(stdout, "A running Postern reads the key file again when it next opens the secret: no restart is needed.")
	return nil
}

// retireKey removes a key from the keyring once nothing uses it.
func retireKey(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	e, err := open(ctx, args, getenv, io.Discard)
	if err != nil {
		return err
	}
	defer e.store.Close()
	if len(e.args) != 1 {
		return errors.New("usage: postern retire-key [flags] KEY_ID")
	}
	if e.cfg.MasterKey != "" {
		return errors.New("the master key comes from POSTERN_MASTER_KEY, which this command cannot rewrite")
	}
	id := strings.TrimSpace(e.args[0])
	if !e.keyring.Has(id) {
		return fmt.Errorf("key %q is not in the keyring (keys: %s)", id, strings.Join(e.keyring.IDs(), ", "))
	}
	used, err := integration.New(e.store, e.keyring, e.log, integration.Options{}).KeysInUse(ctx)
	if err != nil {
		return err
	}
	if n := used[id]; n > 0 {
		return fmt.Errorf("key %s still seals %d stored secret(s); run postern rotate-key first", id, n)
	}
	next, err := e.keyring.Without(id)
	if err != nil {
		return err
	}
	if err := secret.WriteKeyring(e.cfg.MasterKeyFile, next); err != nil {
		return err
	}
	if err := e.store.AppendAudit(ctx, audit.As(actor.CommandLine, audit.KeyRetired, "master key "+id)); err != nil {
		return err
	}
	ids := next.IDs()
	sort.Strings(ids)
	fmt.Fprintf(stdout, "Retired key %s. Keys left: %s (active %s).\n", id, strings.Join(ids, ", "), next.ActiveID())
	return nil
}
