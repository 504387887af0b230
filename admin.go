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

const adminUsage = "usage: postern admin reset-password|reset-mfa [flags] EMAIL"

// adminCommand handles the break-glass commands `postern admin
// reset-password [flags] EMAIL` and `postern admin reset-mfa [flags] EMAIL`.
func adminCommand(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	if len(args) == 0 || (args[0] != "reset-password" && args[0] != "reset-mfa") {
		return errors.New(adminUsage)
	}
	e, err := open(ctx, args[1:], getenv, io.Discard)
	if err != nil {
		return err
	}
	defer e.store.Close()
	if len(e.args) != 1 {
		return errors.New(adminUsage)
	}
	if args[0] == "reset-mfa" {
		return resetMFA(ctx, e, strings.TrimSpace(e.args[0]), stdout)
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

// resetMFA turns two-factor authentication off for the admin with email
// (the secret and the recovery codes are deleted), through the same
// service as an Owner's reset, audited as the command line: the way back
// in for an admin who lost their phone and their recovery codes, or for
// the last Owner.
func resetMFA(ctx context.Context, e *env, email string, stdout io.Writer) error {
	a, err := e.store.AdminByEmail(ctx, email)
	if apperr.Is(err, apperr.NotFound) {
		return fmt.Errorf("no admin account has the email %q", email)
	}
	if err != nil {
		return err
	}
	svc := auth.NewMFA(e.store, e.keyring, nil, e.log, nil)
	if _, err := svc.Reset(actor.NewContext(ctx, actor.AdminCommand), a.ID); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Two-factor authentication of %s is off: the authenticator app and the recovery codes no longer work.\n"+
		"They sign in with their password alone and can set it up again on their account page (at once, if an Owner requires it).\n", a.Email)
	return nil
}
