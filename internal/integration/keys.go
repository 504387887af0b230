package integration

import (
	"context"
	"fmt"

	"postern/internal/actor"
	"postern/internal/audit"
	"postern/internal/secret"
)

// CheckSecrets opens every stored secret, so a missing or wrong master key
// stops the start with a clear message instead of failing later.
func (s *Service) CheckSecrets(ctx context.Context) error {
	vals, err := s.store.SealedValues(ctx)
	if err != nil {
		return err
	}
	for _, v := range vals {
		if _, err := s.keyring.Load().Open(v.Value, v.Location); err != nil {
			id, _ := secret.KeyID(v.Value)
			return fmt.Errorf("the stored %s of %q cannot be decrypted with key id %q: %w; start Postern with the master key that sealed it",
				describe(v.Location), v.Row, id, err)
		}
	}
	return nil
}

// describe names a sealed column for an admin.
func describe(loc secret.Location) string {
	switch {
	case loc.Table == "integrations" && loc.Column == "client_secret":
		return "client secret"
	case loc.Table == "integrations" && loc.Column == "private_key":
		return "certificate private key"
	case loc.Table == "pending_certificates":
		return "generated certificate's private key"
	}
	return loc.Table + "." + loc.Column
}

// Reseal re-encrypts every stored secret under kr's active key in one
// transaction, and audits it. kr must still hold the keys that sealed them.
func (s *Service) Reseal(ctx context.Context, kr *secret.Keyring) (int, error) {
	by, err := actor.AdminOrSystem(ctx)
	if err != nil {
		return 0, err
	}
	return s.store.Reseal(ctx, func(v secret.Stored) (string, error) {
		plain, err := kr.Open(v.Value, v.Location)
		if err != nil {
			return "", fmt.Errorf("integration: open %s of %s: %w", describe(v.Location), v.Row, err)
		}
		return kr.Seal(plain, v.Location)
	}, func(n int) audit.Entry {
		e := audit.As(by, audit.KeyRotated, "master key "+kr.ActiveID())
		e.Detail = fmt.Sprintf("%d stored secrets re-encrypted", n)
		return e
	})
}

// KeysInUse counts the stored secrets sealed by each key id.
func (s *Service) KeysInUse(ctx context.Context) (map[string]int, error) {
	vals, err := s.store.SealedValues(ctx)
	if err != nil {
		return nil, err
	}
	used := map[string]int{}
	for _, v := range vals {
		id, err := secret.KeyID(v.Value)
		if err != nil {
			return nil, err
		}
		used[id]++
	}
	return used, nil
}
