package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"postern/internal/actor"
	"postern/internal/audit"
	"postern/internal/integration"
	"postern/internal/model"
	"postern/internal/replica"
	"postern/internal/secret"
)

// Rotating the master key. On a single Postern, rotate-key does it in one
// step. Replicas on one PostgreSQL database each read their own key file
// (or POSTERN_MASTER_KEY), so the new key reaches every host before it
// seals anything: stage-key adds it unused, each replica reports the key
// ids it holds, and activate-key makes it active once every live replica
// holds it (docs/high-availability.md).

// errEnvKeyring refuses to rewrite a keyring that comes from the
// environment.
var errEnvKeyring = errors.New("the master key comes from POSTERN_MASTER_KEY, which this command cannot rewrite; " +
	"put the JSON keyring in a key file (--master-key-file) to rotate, or manage the variable's value yourself")

// activateWait bounds how long activate-key waits for the live replicas,
// asked to read their key files again, to report the key.
var activateWait = 5 * time.Second

// rotateKey adds a new master key, makes it active and re-encrypts every
// stored secret under it. The keyring file is written first: if the
// re-encryption then fails, nothing references the new key yet. With
// other live replicas it refuses: they could not open what it reseals.
func rotateKey(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	e, err := open(ctx, args, getenv, io.Discard)
	if err != nil {
		return err
	}
	defer e.store.Close()
	if e.cfg.MasterKey != "" {
		return errEnvKeyring
	}
	live, err := e.liveReplicaKeys(ctx)
	if err != nil {
		return err
	}
	if others := otherReplicas(live, e.cfg.ReplicaName); len(others) > 0 {
		return fmt.Errorf("%d other live replica(s) (%s) share this database and do not hold a key made now: "+
			"rotate in two phases: postern stage-key, copy the key file to every replica's host, then postern activate-key KEY_ID "+
			"(docs/high-availability.md, Rotating the master key)", len(others), strings.Join(others, ", "))
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

// stageKey is the first phase of a rotation across replicas: it adds a
// new key to the keyring file without making it active, so nothing is
// sealed under it until every replica holds it.
func stageKey(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	e, err := open(ctx, args, getenv, io.Discard)
	if err != nil {
		return err
	}
	defer e.store.Close()
	if len(e.args) > 0 {
		return errors.New("usage: postern stage-key [flags]")
	}
	if e.cfg.MasterKey != "" {
		return errEnvKeyring
	}
	next, id, err := e.keyring.WithStagedKey()
	if err != nil {
		return err
	}
	if err := secret.WriteKeyring(e.cfg.MasterKeyFile, next); err != nil {
		return err
	}
	if err := e.store.AppendAudit(ctx, audit.As(actor.CommandLine, audit.KeyStaged, "master key "+id)); err != nil {
		return err
	}
	// This host's replica reports the new key now rather than within a
	// minute.
	if err := e.store.NotifyEveryReplica(ctx, model.ChangeKeys); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Staged master key %s in %s; it seals nothing yet (the active key is still %s).\n", id, e.cfg.MasterKeyFile, next.ActiveID())
	if e.replicated() {
		fmt.Fprintf(stdout, "Copy %s to every replica's host (keep it mode 0600). Each replica reads its key file again within a minute "+
			"and lists the key ids it holds in /readyz?verbose. Then run postern activate-key %s.\n", e.cfg.MasterKeyFile, id)
	} else {
		fmt.Fprintf(stdout, "Run postern activate-key %s to make it active and re-encrypt the stored secrets.\n", id)
	}
	return nil
}

// activateKey is the second phase: it makes a staged key active and
// re-encrypts every stored secret under it, refusing, by name, while a
// live replica lacks the key.
func activateKey(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	e, err := open(ctx, args, getenv, io.Discard)
	if err != nil {
		return err
	}
	defer e.store.Close()
	if len(e.args) != 1 {
		return errors.New("usage: postern activate-key [flags] KEY_ID")
	}
	if e.cfg.MasterKey != "" {
		return errEnvKeyring
	}
	id := strings.TrimSpace(e.args[0])
	if !e.keyring.Has(id) {
		return fmt.Errorf("key %q is not in the keyring (keys: %s); run postern stage-key first", id, strings.Join(e.keyring.IDs(), ", "))
	}
	holders, err := e.awaitKey(ctx, id)
	if err != nil {
		return err
	}
	next, err := e.keyring.WithActive(id)
	if err != nil {
		return err
	}
	if err := secret.WriteKeyring(e.cfg.MasterKeyFile, next); err != nil {
		return err
	}
	svc := integration.New(e.store, next, e.log, integration.Options{})
	n, err := svc.Reseal(actor.NewContext(ctx, actor.CommandLine), next)
	if err != nil {
		return fmt.Errorf("re-encrypt secrets (key %s is active in %s; run activate-key %s again): %w", id, e.cfg.MasterKeyFile, id, err)
	}
	// The replica on this host reads the file just written now rather
	// than within a minute.
	if err := e.store.NotifyEveryReplica(ctx, model.ChangeKeys); err != nil {
		e.log.Warn("asking the replicas to read their key files again failed", "err", err)
	}
	entry := audit.As(actor.CommandLine, audit.KeyActivated, "master key "+id)
	if e.replicated() {
		entry.Detail = "held by every live replica: " + strings.Join(holders, ", ")
	}
	if err := e.store.AppendAudit(ctx, entry); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Active master key is now %s; %d stored secret(s) re-encrypted.\n", id, n)
	if e.replicated() {
		fmt.Fprintf(stdout, "Every live replica holds %s (%s) and opens them. Copy %s to every replica's host again, "+
			"so that each seals new secrets with %s too, before retiring an older key.\n", id, strings.Join(holders, ", "), e.cfg.MasterKeyFile, id)
	}
	fmt.Fprintf(stdout, "Older keys stay in %s until retired: take a backup, then run postern retire-key ID.\n", e.cfg.MasterKeyFile)
	return nil
}

// awaitKey asks every replica to read its key file again and waits, up
// to activateWait, until every live replica reports key id; it returns
// their names, or an error naming those that still lack it. On SQLite,
// one process, there is no one to wait for.
func (e *env) awaitKey(ctx context.Context, id string) ([]string, error) {
	if !e.replicated() {
		return nil, nil
	}
	if err := e.store.NotifyEveryReplica(ctx, model.ChangeKeys); err != nil {
		return nil, err
	}
	deadline := time.Now().Add(activateWait)
	for {
		live, err := e.liveReplicaKeys(ctx)
		if err != nil {
			return nil, err
		}
		var holders, lacking []string
		for _, r := range live {
			if r.Holds(id) {
				holders = append(holders, r.Replica)
			} else {
				lacking = append(lacking, fmt.Sprintf("%s (holds %s)", r.Replica, strings.Join(r.KeyIDs, " ")))
			}
		}
		if len(lacking) == 0 {
			return holders, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("refused: %d live replica(s) lack master key %s: %s. Copy %s to their hosts (or add the key to "+
				"POSTERN_MASTER_KEY there); each reads its key file again within a minute and lists its key ids in /readyz?verbose. "+
				"Then run postern activate-key %s again; nothing was changed",
				len(lacking), id, strings.Join(lacking, ", "), e.cfg.MasterKeyFile, id)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// liveReplicaKeys is what the live replicas last reported of their
// keyrings (replica.KeyReportLive); none on SQLite.
func (e *env) liveReplicaKeys(ctx context.Context) ([]model.ReplicaKeys, error) {
	if !e.replicated() {
		return nil, nil
	}
	all, err := e.store.ReplicaKeys(ctx)
	if err != nil {
		return nil, err
	}
	return replica.Live(all, e.store.Now()), nil
}

// otherReplicas names the live replicas but the one named self (on this
// host, reading the same key file).
func otherReplicas(live []model.ReplicaKeys, self string) []string {
	var out []string
	for _, r := range live {
		if r.Replica != self {
			out = append(out, r.Replica)
		}
	}
	return out
}

// retireKey removes a key from the keyring once nothing uses it, and no
// live replica seals new secrets with it.
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
	live, err := e.liveReplicaKeys(ctx)
	if err != nil {
		return err
	}
	for _, r := range live {
		if r.Active == id {
			return fmt.Errorf("replica %s still seals new secrets with key %s, its key file's active key: "+
				"copy the key file with the new active key to its host first", r.Replica, id)
		}
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
