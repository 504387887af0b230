package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"strings"

	"postern/internal/actor"
	"postern/internal/apperr"
	"postern/internal/audit"
	"postern/internal/auth"
	"postern/store"
)

// adminCommand handles `postern admin reset-password [flags] EMAIL`.
func adminCommand(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	if len(args) == 0 || args[0] != "reset-password" {
		return errors.New("usage: postern admin reset-password [flags] EMAIL")
	}
	e, err := open(ctx, args[1:], getenv, io.Discard)
	if err != nil {
		return err
	}
	defer e.store.Close()
	if len(e.args) != 1 {
		return errors.New("usage: postern admin reset-password [flags] EMAIL")
	}
	email := strings.TrimSpace(e.args[0])
	a, err := e.store.AdminByEmail(ctx, email)
	if apperr.Is(err, apperr.NotFound) {
		return fmt.Errorf("no admin account has the email %q", email)
	}
	if err != nil {
		return err
	}
	// A generated password avoids passing one through the shell history or
	// the environment; 26 base32 characters carry 130 bits.
	password := rand.Text()
	hash, err := auth.HashPassword(password)
	if err != nil {
		return err
	}
	if err := e.store.SetPassword(ctx, a.ID, hash); err != nil {
		return err
	}
	entry := audit.As(actor.AdminCommand, audit.AdminPasswordReset, a.Email)
	entry.Detail = "password reset; every session of this admin ended"
	if err := e.store.AppendAudit(ctx, entry); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "New password for %s: %s\nEvery session of this admin has been ended. Sign in with the new password.\n", a.Email, password)
	return reenableLocalSignIn(ctx, e.store, stdout)
}

// reenableLocalSignIn is the break-glass half of reset-password: when an
// Owner has turned password sign-in off (Sign in with Microsoft only), it
// turns it back on, audited, so the new password works.
func reenableLocalSignIn(ctx context.Context, st *store.Store, stdout io.Writer) error {
	p, err := st.SignInProvider(ctx)
	if apperr.Is(err, apperr.NotFound) || (err == nil && p.LocalSignIn) {
		return nil
	}
	if err != nil {
		return err
	}
	entry := audit.As(actor.AdminCommand, audit.LocalSignInChanged, "password sign-in")
	entry.Detail = "turned on by postern admin reset-password (break-glass)"
	if err := st.SetLocalSignIn(ctx, true, entry); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "Password sign-in was turned off (Sign in with Microsoft only); it is on again.")
	return nil
}
