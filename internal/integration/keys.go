package integration

import (
	"context"
	"database/sql"
	"fmt"

	"postern/internal/actor"
	"postern/internal/audit"
	"postern/internal/secret"
	"postern/store"
)

// CheckSecrets opens every stored secret, so a missing or wrong master key
// stops the start with a clear message instead of failing later.
func (s *Service) CheckSecrets(ctx context.Context) error {
	ins, err := s.store.Integrations(ctx)
	if err != nil {
		return err
	}
	for _, in := range ins {
		loc := secretLocation(in.Name)
		if _, err := s.keyring.Load().Open(in.ClientSecret, loc); err != nil {
			id, _ := secret.KeyID(in.ClientSecret)
			return fmt.Errorf("the stored client secret of %q cannot be decrypted with key id %q: %w; start Postern with the master key that sealed it", in.Name, id, err)
		}
	}
	return nil
}

// Reseal re-encrypts every stored secret under kr's active key in one
// transaction, and audits it. kr must still hold the keys that sealed them.
func (s *Service) Reseal(ctx context.Context, kr *secret.Keyring) (int, error) {
	by, err := actor.AdminOrSystem(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	err = s.store.WithTx(ctx, func(tx *sql.Tx) error {
		ins, err := store.IntegrationsTx(ctx, tx)
		if err != nil {
			return err
		}
		for _, in := range ins {
			loc := secretLocation(in.Name)
			plain, err := kr.Open(in.ClientSecret, loc)
			if err != nil {
				return fmt.Errorf("integration: open %s secret: %w", in.Name, err)
			}
			if in.ClientSecret, err = kr.Seal(plain, loc); err != nil {
				return err
			}
			if err := store.SaveIntegrationTx(ctx, tx, in); err != nil {
				return err
			}
			n++
		}
		return store.AppendAuditTx(ctx, tx, audit.Entry{Actor: by.Email, SourceIP: by.IP, Action: audit.KeyRotated,
			Target: "master key " + kr.ActiveID(), Outcome: audit.Success,
			Detail: fmt.Sprintf("%d stored secrets re-encrypted", n)}, s.store.Now())
	})
	return n, err
}

// KeysInUse lists the key ids that sealed the stored secrets.
func (s *Service) KeysInUse(ctx context.Context) (map[string]int, error) {
	ins, err := s.store.Integrations(ctx)
	if err != nil {
		return nil, err
	}
	used := map[string]int{}
	for _, in := range ins {
		id, err := secret.KeyID(in.ClientSecret)
		if err != nil {
			return nil, err
		}
		used[id]++
	}
	return used, nil
}
