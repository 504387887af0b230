package auth

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"log/slog"
	"net"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"postern/internal/actor"
	"postern/internal/apperr"
	"postern/internal/audit"
	"postern/internal/model"
)

// CeremonyTimeout bounds a passkey ceremony: the browser is told it, and
// the answer is refused after it (the library enforces the expiry kept
// with the challenge).
const CeremonyTimeout = 2 * time.Minute

// The ceremonies a PasskeyCeremony can be.
const (
	ceremonyAdd    = "add"
	ceremonySignIn = "sign-in"
)

// PasskeyStore is what Passkeys needs of the database. Each write takes
// the audit entry it commits with.
type PasskeyStore interface {
	AppendAudit(ctx context.Context, e audit.Entry) error
	Admin(ctx context.Context, id int64) (model.Admin, error)
	PasskeyHandle(ctx context.Context, id int64, fresh []byte) ([]byte, error)
	Passkeys(ctx context.Context, id int64) ([]model.Passkey, error)
	AddPasskey(ctx context.Context, p model.Passkey, e audit.Entry) (model.Passkey, error)
	DeletePasskey(ctx context.Context, adminID, id int64, e audit.Entry) (model.Passkey, error)
	UsePasskey(ctx context.Context, adminID, id int64, credential, challengeHash []byte) (bool, error)
	FlagPasskey(ctx context.Context, adminID, id int64, credential []byte) error
}

// Passkeys owns passkeys (WebAuthn, through go-webauthn) as a second
// factor of local accounts: adding one to one's own account, listing and
// removing them, and the check of one at the sign-in's second step.
type Passkeys struct {
	store PasskeyStore
	log   *slog.Logger
}

// NewPasskeys returns the service.
func NewPasskeys(st PasskeyStore, log *slog.Logger) *Passkeys {
	return &Passkeys{store: st, log: log}
}

// RP is the relying party a ceremony runs for: the console as the browser
// reached it. ID is the host name (WebAuthn's RP ID: never an IP address,
// no port), Origin the scheme, host and port the browser shows.
type RP struct {
	ID     string
	Origin string
}

// errPasskeyIP and errPasskeyInsecure refuse a ceremony where the browser
// cannot hold one.
var (
	errPasskeyIP = apperr.New(apperr.Conflict, "Passkeys need Postern opened by a host name, not an IP address. "+
		"Open it as https://your-console-name (or http://localhost on this computer) and try again.")
	errPasskeyInsecure = apperr.New(apperr.Conflict, "Passkeys need Postern opened over HTTPS (or as http://localhost on this computer). "+
		"Open it over HTTPS and try again.")
)

// RPFor is the relying party of a request that reached the console as
// host (the Host header, maybe with a port), over HTTPS or not: the same
// scheme and host the console derives its other URLs from (the Sign in
// with Microsoft redirect URI). A passkey made at one name works only
// there: the browser binds it to the RP ID.
func RPFor(host string, https bool) (RP, error) {
	name := host
	if h, _, err := net.SplitHostPort(host); err == nil {
		name = h
	}
	name = strings.ToLower(strings.TrimSuffix(strings.Trim(name, "[]"), "."))
	if net.ParseIP(name) != nil || protocol.ValidateRPID(name) != nil || name == "" {
		return RP{}, errPasskeyIP
	}
	scheme := "https"
	if !https {
		if name != "localhost" && !strings.HasSuffix(name, ".localhost") {
			return RP{}, errPasskeyInsecure
		}
		scheme = "http"
	}
	return RP{ID: name, Origin: scheme + "://" + strings.ToLower(host)}, nil
}

// PasskeyCeremony is a ceremony in progress, kept server-side in the
// browser's session between its two requests and taken out (used once)
// by the second. Session holds the challenge.
type PasskeyCeremony struct {
	Kind    string               `json:"kind"`
	AdminID int64                `json:"admin"`
	Name    string               `json:"name,omitempty"`
	RPID    string               `json:"rp"`
	Session webauthn.SessionData `json:"session"`
}

// webUser is an admin as go-webauthn sees them.
type webUser struct {
	a      model.Admin
	handle []byte
	creds  []webauthn.Credential
}

func (u webUser) WebAuthnID() []byte                         { return u.handle }
func (u webUser) WebAuthnName() string                       { return u.a.Email }
func (u webUser) WebAuthnDisplayName() string                { return u.a.Email }
func (u webUser) WebAuthnCredentials() []webauthn.Credential { return u.creds }

func relyingParty(rp RP) (*webauthn.WebAuthn, error) {
	t := webauthn.TimeoutConfig{Enforce: true, Timeout: CeremonyTimeout, TimeoutUVD: CeremonyTimeout}
	return webauthn.New(&webauthn.Config{RPID: rp.ID, RPDisplayName: "Postern", RPOrigins: []string{rp.Origin},
		Timeouts: webauthn.TimeoutsConfig{Login: t, Registration: t}})
}

// user loads admin a as go-webauthn's user: their handle (made at the
// first passkey) and their passkeys made for rp, with the rows they came
// from, in the same order.
func (p *Passkeys) user(ctx context.Context, a model.Admin, rp RP) (webUser, []model.Passkey, error) {
	fresh := make([]byte, 32)
	rand.Read(fresh)
	handle, err := p.store.PasskeyHandle(ctx, a.ID, fresh)
	if err != nil {
		return webUser{}, nil, err
	}
	all, err := p.store.Passkeys(ctx, a.ID)
	if err != nil {
		return webUser{}, nil, err
	}
	u := webUser{a: a, handle: handle}
	var rows []model.Passkey
	for _, pk := range all {
		if pk.RPID != rp.ID {
			continue
		}
		var c webauthn.Credential
		if err := json.Unmarshal(pk.Credential, &c); err != nil {
			p.log.ErrorContext(ctx, "stored passkey unreadable", "passkey_id", pk.ID, "err", err)
			continue
		}
		u.creds, rows = append(u.creds, c), append(rows, pk)
	}
	return u, rows, nil
}

// List returns ctx's admin's passkeys, oldest first, with each one's
// clone warning read from its record.
func (p *Passkeys) List(ctx context.Context) ([]model.Passkey, error) {
	a, err := actor.AtLeast(ctx, actor.Auditor)
	if err != nil {
		return nil, err
	}
	list, err := p.store.Passkeys(ctx, a.ID)
	for i := range list {
		var c webauthn.Credential
		if json.Unmarshal(list[i].Credential, &c) == nil {
			list[i].CloneWarning = c.Authenticator.CloneWarning
		}
	}
	return list, err
}

// checkName validates a new passkey's name against the admin's others.
func checkName(name string, others []model.Passkey) error {
	switch {
	case name == "":
		return apperr.Fields(map[string]string{"name": "Enter a name for this passkey, such as YubiKey 5 or Work laptop."})
	case utf8.RuneCountInString(name) > model.PasskeyNameMax:
		return apperr.Fields(map[string]string{"name": "Use at most 64 characters."})
	}
	for _, o := range others {
		if strings.EqualFold(o.Name, name) {
			return apperr.Fields(map[string]string{"name": "You already have a passkey with this name. Choose another."})
		}
	}
	return nil
}

// self is ctx's signed-in admin, read again, for a change of their own
// passkeys: a local account (one who signs in with Microsoft has
// Microsoft's second factor instead).
func (p *Passkeys) self(ctx context.Context, action string) (actor.Actor, model.Admin, error) {
	a, err := audit.Allowed(ctx, p.store, p.log, actor.Auditor, action, "")
	if err != nil {
		return a, model.Admin{}, err
	}
	admin, err := p.store.Admin(ctx, a.ID)
	if err != nil {
		return a, admin, err
	}
	if admin.EntraObjectID != "" {
		return a, admin, audit.RecordRefusal(ctx, p.store, p.log, audit.As(a, action, a.Email),
			apperr.New(apperr.Conflict, "You sign in with Microsoft: your second factor is Microsoft's. Passkeys are for local accounts."))
	}
	return a, admin, nil
}

// BeginAdd starts adding a passkey named name to ctx's admin's account
// at rp: the options for navigator.credentials.create and the ceremony
// to keep until FinishAdd. Their passkeys already made are excluded, so
// an authenticator is not registered twice.
func (p *Passkeys) BeginAdd(ctx context.Context, rp RP, name string) (*protocol.CredentialCreation, PasskeyCeremony, error) {
	a, admin, err := p.self(ctx, audit.PasskeyAdded)
	if err != nil {
		return nil, PasskeyCeremony{}, err
	}
	name = strings.TrimSpace(name)
	all, err := p.store.Passkeys(ctx, a.ID)
	if err != nil {
		return nil, PasskeyCeremony{}, err
	}
	if err := checkName(name, all); err != nil {
		return nil, PasskeyCeremony{}, err
	}
	wa, err := relyingParty(rp)
	if err != nil {
		return nil, PasskeyCeremony{}, err
	}
	u, _, err := p.user(ctx, admin, rp)
	if err != nil {
		return nil, PasskeyCeremony{}, err
	}
	exclude := make([]protocol.CredentialDescriptor, len(u.creds))
	for i := range u.creds {
		exclude[i] = u.creds[i].Descriptor()
	}
	opts, sd, err := wa.BeginRegistration(u, webauthn.WithExclusions(exclude),
		webauthn.WithConveyancePreference(protocol.PreferNoAttestation),
		webauthn.WithAuthenticatorSelection(protocol.AuthenticatorSelection{
			ResidentKey: protocol.ResidentKeyRequirementPreferred, UserVerification: protocol.VerificationPreferred}))
	if err != nil {
		return nil, PasskeyCeremony{}, err
	}
	return opts, PasskeyCeremony{Kind: ceremonyAdd, AdminID: a.ID, Name: name, RPID: rp.ID, Session: *sd}, nil
}

// errCeremonyGone is the answer to a second request without its first:
// the ceremony expired, was used already, or belongs to another request.
var errCeremonyGone = apperr.New(apperr.Invalid, "This passkey request has expired or was already used. Start again.")

// errAnswerUnreadable is the answer to a body that is not a WebAuthn
// response.
var errAnswerUnreadable = apperr.New(apperr.Invalid, "The browser's answer could not be read. Start again, and use a browser that supports passkeys.")

// FinishAdd checks the browser's answer (body, a PublicKeyCredential as
// JSON) to the ceremony cer begun by BeginAdd and stores the passkey,
// audited. A wrong, late or replayed answer changes nothing.
func (p *Passkeys) FinishAdd(ctx context.Context, rp RP, cer PasskeyCeremony, body []byte) (model.Passkey, error) {
	a, admin, err := p.self(ctx, audit.PasskeyAdded)
	if err != nil {
		return model.Passkey{}, err
	}
	e := audit.As(a, audit.PasskeyAdded, a.Email)
	e.Detail = "passkey “" + cer.Name + "” added"
	if cer.Kind != ceremonyAdd || cer.AdminID != a.ID || cer.RPID != rp.ID {
		return model.Passkey{}, audit.RecordRefusal(ctx, p.store, p.log, e, errCeremonyGone)
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(body)
	if err != nil {
		p.log.InfoContext(ctx, "passkey registration unreadable", "err", err)
		return model.Passkey{}, audit.RecordRefusal(ctx, p.store, p.log, e, errAnswerUnreadable)
	}
	wa, err := relyingParty(rp)
	if err != nil {
		return model.Passkey{}, err
	}
	u, _, err := p.user(ctx, admin, rp)
	if err != nil {
		return model.Passkey{}, err
	}
	cred, err := wa.CreateCredential(u, cer.Session, parsed)
	if err != nil {
		p.log.InfoContext(ctx, "passkey registration refused", "err", err)
		return model.Passkey{}, audit.RecordRefusal(ctx, p.store, p.log, e,
			apperr.New(apperr.Invalid, "The passkey's answer did not match this request. Start again."))
	}
	raw, err := json.Marshal(cred)
	if err != nil {
		return model.Passkey{}, err
	}
	pk, err := p.store.AddPasskey(ctx, model.Passkey{AdminID: a.ID, Name: cer.Name, RPID: rp.ID,
		CredentialID: cred.ID, Credential: raw}, e)
	if apperr.Is(err, apperr.Conflict) {
		return pk, audit.RecordRefusal(ctx, p.store, p.log, e, err)
	}
	return pk, err
}

// Remove deletes ctx's admin's passkey id once password, their current
// password, proves it is them. A wrong password, or a passkey of another
// admin, is refused, audited, and changes nothing.
func (p *Passkeys) Remove(ctx context.Context, id int64, password string) (model.Passkey, error) {
	a, admin, err := p.self(ctx, audit.PasskeyRemoved)
	if err != nil {
		return model.Passkey{}, err
	}
	e := audit.As(a, audit.PasskeyRemoved, a.Email)
	if password == "" || VerifyPassword(admin.PasswordHash, password) != nil {
		return model.Passkey{}, audit.RecordRefusal(ctx, p.store, p.log, e,
			apperr.New(apperr.Invalid, "That password did not work. Enter your current password to remove the passkey."))
	}
	pk, err := p.store.DeletePasskey(ctx, a.ID, id, e)
	if apperr.Is(err, apperr.NotFound) {
		return pk, audit.RecordRefusal(ctx, p.store, p.log, e,
			apperr.New(apperr.NotFound, "There is no such passkey on your account. Reload the page."))
	}
	return pk, err
}

// ErrPasskeyRefused is the one answer to a passkey that did not sign in:
// wrong, replayed, late, of another account or not made here.
var ErrPasskeyRefused = apperr.New(apperr.Invalid, "That passkey did not work. Try again, or use a code from your authenticator app.")

// ErrPasskeyCloned refuses a passkey whose signature counter went back.
var ErrPasskeyCloned = apperr.New(apperr.Invalid, "This passkey's signature counter went back, so it may have been copied, and it no longer signs you in. "+
	"Use another passkey or a code, then remove it on your account page (ask an Owner to reset your two-factor if you have no other).")

// BeginSignIn starts the check of a passkey of admin a (whose password
// was right) at rp: the options for navigator.credentials.get, listing
// their passkeys made for rp, and the ceremony to keep until
// FinishSignIn.
func (p *Passkeys) BeginSignIn(ctx context.Context, rp RP, a model.Admin) (*protocol.CredentialAssertion, PasskeyCeremony, error) {
	u, _, err := p.user(ctx, a, rp)
	if err != nil {
		return nil, PasskeyCeremony{}, err
	}
	if len(u.creds) == 0 {
		return nil, PasskeyCeremony{}, apperr.New(apperr.Conflict,
			"None of your passkeys was made for %s. Open Postern at the address where you added them, or use a code.", rp.ID)
	}
	wa, err := relyingParty(rp)
	if err != nil {
		return nil, PasskeyCeremony{}, err
	}
	opts, sd, err := wa.BeginLogin(u, webauthn.WithUserVerification(protocol.VerificationPreferred))
	if err != nil {
		return nil, PasskeyCeremony{}, err
	}
	return opts, PasskeyCeremony{Kind: ceremonySignIn, AdminID: a.ID, RPID: rp.ID, Session: *sd}, nil
}

// FinishSignIn checks the browser's answer (body) to cer for admin a and
// records the use: the sign count as the library updated it, the time,
// and the challenge, which the update refuses a second time. A counter
// that went back (the library's clone warning) is refused and the
// warning kept, as go-webauthn leaves that choice to the relying party.
// The caller rate-limits and audits the sign-in.
func (p *Passkeys) FinishSignIn(ctx context.Context, rp RP, a model.Admin, cer PasskeyCeremony, body []byte) (model.Passkey, error) {
	if cer.Kind != ceremonySignIn || cer.AdminID != a.ID || cer.RPID != rp.ID {
		return model.Passkey{}, errCeremonyGone
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(body)
	if err != nil {
		p.log.InfoContext(ctx, "passkey answer unreadable", "err", err)
		return model.Passkey{}, errAnswerUnreadable
	}
	u, rows, err := p.user(ctx, a, rp)
	if err != nil {
		return model.Passkey{}, err
	}
	idx := -1
	for i := range u.creds {
		if bytes.Equal(u.creds[i].ID, parsed.RawID) {
			idx = i
		}
	}
	if idx < 0 {
		return model.Passkey{}, ErrPasskeyRefused
	}
	wa, err := relyingParty(rp)
	if err != nil {
		return model.Passkey{}, err
	}
	cred, err := wa.ValidateLogin(u, cer.Session, parsed)
	if err != nil {
		p.log.InfoContext(ctx, "passkey refused", "admin_id", a.ID, "err", err)
		return model.Passkey{}, ErrPasskeyRefused
	}
	raw, err := json.Marshal(cred)
	if err != nil {
		return model.Passkey{}, err
	}
	if cred.Authenticator.CloneWarning {
		if err := p.store.FlagPasskey(ctx, a.ID, rows[idx].ID, raw); err != nil {
			return model.Passkey{}, err
		}
		return rows[idx], ErrPasskeyCloned
	}
	challenge := sha256.Sum256([]byte(cer.Session.Challenge))
	ok, err := p.store.UsePasskey(ctx, a.ID, rows[idx].ID, raw, challenge[:])
	if err != nil {
		return model.Passkey{}, err
	}
	if !ok {
		return model.Passkey{}, ErrPasskeyRefused
	}
	return rows[idx], nil
}
