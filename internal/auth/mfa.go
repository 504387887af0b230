package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"postern/internal/actor"
	"postern/internal/apperr"
	"postern/internal/audit"
	"postern/internal/model"
	"postern/internal/secret"
)

// TOTP parameters: those every authenticator app reads from the QR code
// (RFC 6238's defaults: SHA-1, six digits, 30-second steps).
const (
	mfaIssuer = "Postern"
	mfaPeriod = 30
	// mfaSkew is how many steps either side of now a code may be from:
	// one, for clocks a little apart and codes typed at a step's end.
	mfaSkew = 1
	// RecoveryCodeCount is how many recovery codes an enrolment makes.
	RecoveryCodeCount = 10
)

var mfaOpts = totp.ValidateOpts{Period: mfaPeriod, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

// MFAStore is what MFA needs of the database. Each write takes the audit
// entry it commits with.
type MFAStore interface {
	AppendAudit(ctx context.Context, e audit.Entry) error
	Admin(ctx context.Context, id int64) (model.Admin, error)
	AdminMFA(ctx context.Context, id int64) (model.AdminMFA, error)
	SetMFAPending(ctx context.Context, id int64, sealed string) error
	EnableMFA(ctx context.Context, id int64, sealed string, step int64, codeHashes [][]byte, e audit.Entry) error
	AcceptMFAStep(ctx context.Context, id, step int64) (bool, error)
	UseRecoveryCode(ctx context.Context, id int64, codeHash []byte, e audit.Entry) (bool, error)
	ReplaceRecoveryCodes(ctx context.Context, id int64, codeHashes [][]byte, e audit.Entry) error
	ClearMFA(ctx context.Context, id int64, passkeys bool, e audit.Entry) (model.Admin, error)
	Setting(ctx context.Context, name string) (string, error)
	SetSetting(ctx context.Context, name, value string, e audit.Entry) error
}

// settingRequireMFA is the settings row of "Require two-factor
// authentication for every local account": "on" or "off".
const settingRequireMFA = "require_mfa"

// MFA owns two-factor authentication for local accounts: enrolment, the
// check of a code at sign-in, turning it off, an Owner's reset and the
// requirement. The TOTP secret is sealed at rest, bound to the admin's row.
type MFA struct {
	store   MFAStore
	keyring atomic.Pointer[secret.Keyring]
	reload  func() (*secret.Keyring, error)
	log     *slog.Logger
	now     func() time.Time
}

// NewMFA returns the service. reload, when set, reads the keyring again
// when a secret is sealed under a key this one lacks (rotate-key ran in
// another process); now is the clock codes are checked against.
func NewMFA(st MFAStore, kr *secret.Keyring, reload func() (*secret.Keyring, error), log *slog.Logger, now func() time.Time) *MFA {
	if now == nil {
		now = time.Now
	}
	m := &MFA{store: st, reload: reload, log: log, now: now}
	m.keyring.Store(kr)
	return m
}

func mfaLocation(adminID int64) secret.Location {
	return secret.Location{Table: "admins", Column: "mfa_secret", Row: strconv.FormatInt(adminID, 10)}
}

// Enrolment is what the enrolment page shows while it is pending: the
// secret for typing into an app and the otpauth URL the QR code encodes.
// Both are Redacted: they print as [redacted] in logs and errors.
type Enrolment struct {
	Secret secret.Redacted
	URL    secret.Redacted
}

// ErrCodeRefused is the one answer to a wrong, expired or replayed code:
// the form does not tell which.
var ErrCodeRefused = apperr.New(apperr.Invalid, "That code did not work. Enter the current code from your app, or a recovery code.")

var errNotPending = apperr.New(apperr.Conflict, "There is no two-factor setup in progress. Start it again from your account page.")

// self is ctx's signed-in admin (any role: one's own account).
func (m *MFA) self(ctx context.Context, action string) (actor.Actor, error) {
	return audit.Allowed(ctx, m.store, m.log, actor.Auditor, action, "")
}

// Begin starts (or starts again) the enrolment of ctx's admin: a new
// secret, sealed and stored as pending, not in use until Confirm.
func (m *MFA) Begin(ctx context.Context) (Enrolment, error) {
	a, err := m.self(ctx, audit.MFAEnrolled)
	if err != nil {
		return Enrolment{}, err
	}
	key, err := totp.Generate(totp.GenerateOpts{Issuer: mfaIssuer, AccountName: a.Email, Period: mfaPeriod,
		Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		return Enrolment{}, err
	}
	sealed, err := m.keyring.Load().Seal([]byte(key.Secret()), mfaLocation(a.ID))
	if err != nil {
		return Enrolment{}, err
	}
	if err := m.store.SetMFAPending(ctx, a.ID, sealed); err != nil {
		return Enrolment{}, err
	}
	return Enrolment{Secret: secret.Redacted(key.Secret()), URL: secret.Redacted(key.URL())}, nil
}

// Pending returns ctx's admin's enrolment in progress, to show again
// after a wrong code; errNotPending when there is none.
func (m *MFA) Pending(ctx context.Context) (Enrolment, error) {
	a, err := m.self(ctx, audit.MFAEnrolled)
	if err != nil {
		return Enrolment{}, err
	}
	st, err := m.store.AdminMFA(ctx, a.ID)
	if err != nil {
		return Enrolment{}, err
	}
	if st.Enabled || st.Sealed == "" {
		return Enrolment{}, errNotPending
	}
	sec, err := m.open(a.ID, st.Sealed)
	if err != nil {
		return Enrolment{}, err
	}
	raw, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(sec)
	if err != nil {
		return Enrolment{}, errors.New("auth: stored two-factor secret is not base32")
	}
	key, err := totp.Generate(totp.GenerateOpts{Issuer: mfaIssuer, AccountName: a.Email, Period: mfaPeriod,
		Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1, Secret: raw})
	if err != nil {
		return Enrolment{}, err
	}
	return Enrolment{Secret: secret.Redacted(key.Secret()), URL: secret.Redacted(key.URL())}, nil
}

// Confirm completes ctx's admin's enrolment when code is a valid code of
// the pending secret, and returns the recovery codes, shown once: only
// their hashes are stored. A wrong code is ErrCodeRefused and changes
// nothing.
func (m *MFA) Confirm(ctx context.Context, code string) ([]secret.Redacted, error) {
	a, err := m.self(ctx, audit.MFAEnrolled)
	if err != nil {
		return nil, err
	}
	e := audit.As(a, audit.MFAEnrolled, a.Email)
	st, err := m.store.AdminMFA(ctx, a.ID)
	if err != nil {
		return nil, err
	}
	if st.Enabled || st.Sealed == "" {
		return nil, errNotPending
	}
	sec, err := m.open(a.ID, st.Sealed)
	if err != nil {
		return nil, err
	}
	step, ok := MatchStep(sec, code, m.now())
	if !ok {
		return nil, ErrCodeRefused
	}
	codes, hashes := newRecoveryCodes()
	e.Detail = "two-factor authentication on; " + strconv.Itoa(len(codes)) + " recovery codes made"
	if err := m.store.EnableMFA(ctx, a.ID, st.Sealed, step, hashes, e); err != nil {
		return nil, err
	}
	return codes, nil
}

// NewRecoveryCodes replaces ctx's admin's recovery codes with new ones,
// returned once; the old ones stop working.
func (m *MFA) NewRecoveryCodes(ctx context.Context) ([]secret.Redacted, error) {
	a, err := m.self(ctx, audit.MFARecoveryCodesMade)
	if err != nil {
		return nil, err
	}
	e := audit.As(a, audit.MFARecoveryCodesMade, a.Email)
	codes, hashes := newRecoveryCodes()
	e.Detail = strconv.Itoa(len(codes)) + " new recovery codes; the old ones no longer work"
	if err := m.store.ReplaceRecoveryCodes(ctx, a.ID, hashes, e); err != nil {
		return nil, audit.RecordRefusal(ctx, m.store, m.log, e, err)
	}
	return codes, nil
}

// Verified says how a sign-in's second step passed.
type Verified struct {
	Recovery     bool // a recovery code was used (and is used up)
	RecoveryLeft int  // recovery codes left after it
}

// Verify checks code, a TOTP code or a recovery code, for admin a at the
// sign-in's second step. A TOTP code is accepted once: its time step must
// be later than the last one accepted (RFC 6238 §5.2), recorded in the
// same update that checks it. A recovery code is used up. Anything else is
// ErrCodeRefused. The caller rate-limits the attempts and audits the
// sign-in; a recovery code's use is audited here, with its change.
func (m *MFA) Verify(ctx context.Context, a model.Admin, code string) (Verified, error) {
	st, err := m.store.AdminMFA(ctx, a.ID)
	if err != nil {
		return Verified{}, err
	}
	if !st.Enabled {
		return Verified{}, ErrCodeRefused
	}
	if isTOTPCode(code) {
		sec, err := m.open(a.ID, st.Sealed)
		if err != nil {
			return Verified{}, err
		}
		step, ok := MatchStep(sec, code, m.now())
		if !ok || step <= st.LastStep {
			return Verified{}, ErrCodeRefused
		}
		if ok, err := m.store.AcceptMFAStep(ctx, a.ID, step); err != nil || !ok {
			return Verified{}, cmpErr(err, ErrCodeRefused)
		}
		return Verified{}, nil
	}
	who, _ := actor.From(ctx)
	who.ID, who.Email, who.Role = a.ID, a.Email, a.Role
	e := audit.As(who, audit.MFARecoveryCodeUsed, a.Email)
	e.Detail = "a recovery code was used to sign in; " + strconv.Itoa(max(st.RecoveryLeft-1, 0)) + " left"
	ok, err := m.store.UseRecoveryCode(ctx, a.ID, hashRecoveryCode(code), e)
	if err != nil || !ok {
		return Verified{}, cmpErr(err, ErrCodeRefused)
	}
	return Verified{Recovery: true, RecoveryLeft: max(st.RecoveryLeft-1, 0)}, nil
}

func cmpErr(err, otherwise error) error {
	if err != nil {
		return err
	}
	return otherwise
}

// Disable turns two-factor off for ctx's own account. It needs proof of
// the account: a current code (or a recovery code) or the password. A
// failed proof is ErrCodeRefused, audited as a failure.
func (m *MFA) Disable(ctx context.Context, code, password string) error {
	a, err := m.self(ctx, audit.MFADisabled)
	if err != nil {
		return err
	}
	e := audit.As(a, audit.MFADisabled, a.Email)
	admin, err := m.store.Admin(ctx, a.ID)
	if err != nil {
		return err
	}
	proved := false
	switch {
	case password != "":
		proved = VerifyPassword(admin.PasswordHash, password) == nil
		e.Detail = "turned off with the password"
	case code != "":
		_, verr := m.Verify(ctx, admin, code)
		if verr != nil && !errors.Is(verr, ErrCodeRefused) {
			return verr
		}
		proved = verr == nil
		e.Detail = "turned off with a code"
	}
	if !proved {
		refused := apperr.New(apperr.Invalid, "That code or password did not work. Enter a current code from your app, or your password.")
		return audit.RecordRefusal(ctx, m.store, m.log, e, refused)
	}
	_, err = m.store.ClearMFA(ctx, a.ID, false, e)
	return err
}

// Reset turns two-factor off for admin id, another admin, who then signs
// in with their password alone (and enrols again if it is required).
// Only an Owner may, or Postern's own command line (the break-glass
// postern admin reset-mfa); an Owner's own account is refused here (they
// turn it off on their account page, with a code or their password).
func (m *MFA) Reset(ctx context.Context, id int64) (model.Admin, error) {
	target := strconv.FormatInt(id, 10)
	a, err := actor.AdminOrSystem(ctx)
	if err != nil {
		return model.Admin{}, audit.RecordRefusal(ctx, m.store, m.log, audit.By(ctx, audit.MFAReset, target), err)
	}
	e := audit.As(a, audit.MFAReset, target)
	e.Detail = "two-factor authentication reset: the secret, the recovery codes and the passkeys are deleted"
	if a.Role != actor.System && id == a.ID {
		return model.Admin{}, audit.RecordRefusal(ctx, m.store, m.log, e,
			apperr.New(apperr.Conflict, "Turn off two-factor authentication for your own account on your account page."))
	}
	admin, err := m.store.ClearMFA(ctx, id, true, e)
	if apperr.Is(err, apperr.NotFound) {
		return admin, audit.RecordRefusal(ctx, m.store, m.log, e, err)
	}
	return admin, err
}

// Required reports whether every local account must use two-factor
// authentication.
func (m *MFA) Required(ctx context.Context) (bool, error) {
	v, err := m.store.Setting(ctx, settingRequireMFA)
	return v == "on", err
}

// SetRequired turns the requirement on or off (an Owner). The Owner must
// use two-factor themselves before requiring it of everyone.
func (m *MFA) SetRequired(ctx context.Context, on bool) error {
	a, err := audit.Allowed(ctx, m.store, m.log, actor.Owner, audit.MFARequired, "every local account")
	if err != nil {
		return err
	}
	e := audit.As(a, audit.MFARequired, "every local account")
	value := "off"
	e.Detail = "two-factor authentication no longer required"
	if on {
		value, e.Detail = "on", "two-factor authentication required for every local account"
		self, err := m.store.Admin(ctx, a.ID)
		if err != nil {
			return err
		}
		if !self.MFAEnabled() {
			return audit.RecordRefusal(ctx, m.store, m.log, e,
				apperr.New(apperr.Conflict, "Turn on two-factor authentication for your own account first, on your account page."))
		}
	}
	return m.store.SetSetting(ctx, settingRequireMFA, value, e)
}

// open unseals admin id's secret, reading the keyring again once when it
// is sealed under a key this one lacks.
func (m *MFA) open(id int64, sealed string) (string, error) {
	plain, err := m.keyring.Load().Open(sealed, mfaLocation(id))
	if errors.Is(err, secret.ErrUnknownKey) && m.reload != nil {
		fresh, rerr := m.reload()
		if rerr == nil {
			m.keyring.Store(fresh)
			plain, err = fresh.Open(sealed, mfaLocation(id))
		}
	}
	return string(plain), err
}

// Step is the RFC 6238 time step of t.
func Step(t time.Time) int64 { return t.Unix() / mfaPeriod }

// MatchStep reports the time step, within mfaSkew of now, whose code of
// secret (base32) is code, compared in constant time.
func MatchStep(secret, code string, now time.Time) (int64, bool) {
	code = normalizeCode(code)
	if !isTOTPCode(code) {
		return 0, false
	}
	cur := Step(now)
	var found int64
	ok := false
	for step := cur - mfaSkew; step <= cur+mfaSkew; step++ {
		want, err := totp.GenerateCodeCustom(secret, time.Unix(step*mfaPeriod, 0), mfaOpts)
		if err != nil {
			return 0, false
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			found, ok = step, true
		}
	}
	return found, ok
}

// normalizeCode drops what people type around a code: spaces and dashes.
func normalizeCode(code string) string {
	return strings.ToUpper(strings.NewReplacer(" ", "", "-", "", "\t", "").Replace(strings.TrimSpace(code)))
}

func isTOTPCode(code string) bool {
	code = normalizeCode(code)
	if len(code) != 6 {
		return false
	}
	for _, r := range code {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// newRecoveryCodes makes RecoveryCodeCount codes of 16 base32 characters
// (80 random bits), grouped by four for reading, and their hashes.
func newRecoveryCodes() ([]secret.Redacted, [][]byte) {
	codes := make([]secret.Redacted, RecoveryCodeCount)
	hashes := make([][]byte, RecoveryCodeCount)
	for i := range codes {
		t := rand.Text()[:16]
		codes[i] = secret.Redacted(t[0:4] + "-" + t[4:8] + "-" + t[8:12] + "-" + t[12:16])
		hashes[i] = hashRecoveryCode(t)
	}
	return codes, hashes
}

// hashRecoveryCode is what the store keeps of a recovery code: a SHA-256
// of its characters without dashes or spaces, in upper case. A code
// carries 80 random bits, so a fast hash is enough.
func hashRecoveryCode(code string) []byte {
	h := sha256.Sum256([]byte("postern/recovery-code/v1:" + normalizeCode(code)))
	return h[:]
}
