package auth_test

import (
	"context"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"postern/internal/actor"
	"postern/internal/apperr"
	"postern/internal/audit"
	"postern/internal/auth"
	"postern/internal/model"
	"postern/internal/secret"
	"postern/internal/testkit"
	"postern/internal/testkit/teststore"
	"postern/store"
)

var _ auth.MFAStore = (*store.Store)(nil)

type mfaEnv struct {
	db    *store.Store
	clock *testkit.Clock
	mfa   *auth.MFA
	owner model.Admin
	ctx   context.Context // the owner's
}

func newMFAEnv(t *testing.T) *mfaEnv {
	t.Helper()
	clock := newFakeClock()
	db := teststore.Open(t, store.Options{Now: clock.Now})
	kr, _, err := secret.LoadKeyring("", filepath.Join(t.TempDir(), "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	hash, err := auth.HashPassword("owner-password-1234")
	if err != nil {
		t.Fatal(err)
	}
	owner, err := db.CreateFirstAdmin(context.Background(), "owner@example.com", hash)
	if err != nil {
		t.Fatal(err)
	}
	return &mfaEnv{db: db, clock: clock, mfa: auth.NewMFA(db, kr, nil, (&testkit.Buffer{}).Logger(), clock.Now), owner: owner,
		ctx: as(owner)}
}

func as(a model.Admin) context.Context {
	return actor.NewContext(context.Background(), actor.Actor{ID: a.ID, Email: a.Email, Role: a.Role, IP: "192.0.2.1"})
}

func codeAt(t *testing.T, sec string, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(sec, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// enrol runs the whole enrolment and returns the secret and the codes.
func (e *mfaEnv) enrol(t *testing.T, ctx context.Context) (string, []secret.Redacted) {
	t.Helper()
	en, err := e.mfa.Begin(ctx)
	if err != nil {
		t.Fatalf("Begin: %v", err)
	}
	sec := en.Secret.Reveal()
	codes, err := e.mfa.Confirm(ctx, codeAt(t, sec, e.clock.Now()))
	if err != nil {
		t.Fatalf("Confirm: %v", err)
	}
	e.clock.Advance(30 * time.Second) // the enrolment's code is used up
	return sec, codes
}

func (e *mfaEnv) audits(t *testing.T, action string) []audit.Entry {
	t.Helper()
	rows, _, err := e.db.AuditEntries(context.Background(), audit.Filter{Action: &action})
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// Enrolment completes only with a valid code of the pending secret; the
// secret is stored sealed, never in the audit log; ten distinct recovery
// codes come back once.
func TestMFAEnrolment(t *testing.T) {
	e := newMFAEnv(t)
	en, err := e.mfa.Begin(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	sec := en.Secret.Reveal()
	if !strings.Contains(en.URL.Reveal(), "secret="+sec) || !strings.HasPrefix(en.URL.Reveal(), "otpauth://totp/Postern:owner@example.com") {
		t.Fatalf("otpauth URL = %q", en.URL.Reveal())
	}
	if _, err := e.mfa.Confirm(e.ctx, "000000"); !apperr.Is(err, apperr.Invalid) {
		// 000000 could be the right code once in a million runs; the
		// clock is fixed, so it is not.
		t.Fatalf("Confirm with a wrong code: %v, want the code refused", err)
	}
	if a, _ := e.db.Admin(context.Background(), e.owner.ID); a.MFAEnabled() {
		t.Fatal("a wrong code turned two-factor on")
	}
	again, err := e.mfa.Pending(e.ctx)
	if err != nil || again.Secret.Reveal() != sec {
		t.Fatalf("Pending = %v, %v; want the same secret", again.Secret.Reveal() == sec, err)
	}
	codes, err := e.mfa.Confirm(e.ctx, codeAt(t, sec, e.clock.Now()))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, c := range codes {
		if !regexp.MustCompile(`^[A-Z2-7]{4}(-[A-Z2-7]{4}){3}$`).MatchString(c.Reveal()) || seen[c.Reveal()] {
			t.Errorf("recovery code %q malformed or repeated", c.Reveal())
		}
		seen[c.Reveal()] = true
	}
	if len(codes) != auth.RecoveryCodeCount {
		t.Errorf("%d recovery codes, want %d", len(codes), auth.RecoveryCodeCount)
	}
	st, err := e.db.AdminMFA(context.Background(), e.owner.ID)
	if err != nil || !st.Enabled || st.RecoveryLeft != auth.RecoveryCodeCount {
		t.Fatalf("AdminMFA = %+v, %v", st, err)
	}
	if !regexp.MustCompile(`^pst:v1:[a-z0-9]+:[A-Za-z0-9_-]+$`).MatchString(st.Sealed) || strings.Contains(st.Sealed, sec) {
		t.Errorf("stored secret %q is not sealed", st.Sealed)
	}
	rows := e.audits(t, audit.MFAEnrolled)
	if len(rows) != 1 || rows[0].Target != "owner@example.com" || rows[0].ActorRole != actor.Owner {
		t.Fatalf("audit = %+v", rows)
	}
	all, _, _ := e.db.AuditEntries(context.Background(), audit.Filter{})
	for _, r := range all {
		if strings.Contains(r.Detail+r.Target, sec) || strings.Contains(r.Detail+r.Target, codes[0].Reveal()) {
			t.Errorf("audit entry %+v holds the secret or a recovery code", r)
		}
	}
	if _, err := e.mfa.Begin(e.ctx); !apperr.Is(err, apperr.Conflict) {
		t.Errorf("Begin over an enrolment in use: %v, want Conflict", err)
	}
}

// A code is accepted once: the same code again, or a code of an earlier
// step, is refused (RFC 6238 §5.2).
func TestMFACodeReplayRefused(t *testing.T) {
	e := newMFAEnv(t)
	sec, _ := e.enrol(t, e.ctx)
	code := codeAt(t, sec, e.clock.Now())
	if _, err := e.mfa.Verify(context.Background(), e.owner, code); err != nil {
		t.Fatalf("Verify of the current code: %v", err)
	}
	if _, err := e.mfa.Verify(context.Background(), e.owner, code); err != auth.ErrCodeRefused {
		t.Fatalf("Verify of the same code again: %v, want refused", err)
	}
	e.clock.Advance(30 * time.Second)
	ahead := codeAt(t, sec, e.clock.Now().Add(30*time.Second))
	if _, err := e.mfa.Verify(context.Background(), e.owner, ahead); err != nil {
		t.Fatalf("Verify of a code one step ahead: %v", err)
	}
	// The current step's code was never used and is within the skew, but
	// its step is not later than the last accepted one.
	current := codeAt(t, sec, e.clock.Now())
	if _, err := e.mfa.Verify(context.Background(), e.owner, current); err != auth.ErrCodeRefused {
		t.Fatalf("Verify of an earlier step's code after a later one: %v, want refused", err)
	}
	if st, _ := e.db.AdminMFA(context.Background(), e.owner.ID); st.LastStep != auth.Step(e.clock.Now())+1 {
		t.Fatalf("last accepted step = %d, want %d", st.LastStep, auth.Step(e.clock.Now())+1)
	}
}

// A code of one step either side of now is accepted; two steps away is not.
func TestMFASkew(t *testing.T) {
	for _, c := range []struct {
		name   string
		offset time.Duration
		ok     bool
	}{
		{"one step behind", -30 * time.Second, true},
		{"one step ahead", 30 * time.Second, true},
		{"two steps behind", -60 * time.Second, false},
		{"two steps ahead", 60 * time.Second, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newMFAEnv(t)
			sec, _ := e.enrol(t, e.ctx)
			e.clock.Advance(5 * time.Minute) // past the enrolment's step, whatever the offset
			_, err := e.mfa.Verify(context.Background(), e.owner, codeAt(t, sec, e.clock.Now().Add(c.offset)))
			if (err == nil) != c.ok {
				t.Fatalf("Verify %s: %v, want ok=%v", c.name, err, c.ok)
			}
		})
	}
}

// A recovery code works once, in any case and with or without dashes;
// its use is audited.
func TestMFARecoveryCodeWorksOnce(t *testing.T) {
	e := newMFAEnv(t)
	_, codes := e.enrol(t, e.ctx)
	typed := strings.ToLower(strings.ReplaceAll(codes[3].Reveal(), "-", " "))
	v, err := e.mfa.Verify(context.Background(), e.owner, typed)
	if err != nil || !v.Recovery || v.RecoveryLeft != auth.RecoveryCodeCount-1 {
		t.Fatalf("Verify of a recovery code = %+v, %v", v, err)
	}
	if _, err := e.mfa.Verify(context.Background(), e.owner, codes[3].Reveal()); err != auth.ErrCodeRefused {
		t.Fatalf("a used recovery code again: %v, want refused", err)
	}
	if _, err := e.mfa.Verify(context.Background(), e.owner, "AAAA-BBBB-CCCC-DDDD"); err != auth.ErrCodeRefused {
		t.Fatalf("an unknown recovery code: %v, want refused", err)
	}
	if rows := e.audits(t, audit.MFARecoveryCodeUsed); len(rows) != 1 || rows[0].Target != "owner@example.com" {
		t.Fatalf("recovery audit = %+v", rows)
	}
	// New codes replace the old ones.
	fresh, err := e.mfa.NewRecoveryCodes(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.mfa.Verify(context.Background(), e.owner, codes[4].Reveal()); err != auth.ErrCodeRefused {
		t.Fatalf("an old recovery code after new ones were made: %v, want refused", err)
	}
	if _, err := e.mfa.Verify(context.Background(), e.owner, fresh[0].Reveal()); err != nil {
		t.Fatalf("a new recovery code: %v", err)
	}
}

// Turning two-factor off needs a code or the password; a wrong one is
// refused and audited, and changes nothing.
func TestMFADisable(t *testing.T) {
	e := newMFAEnv(t)
	sec, _ := e.enrol(t, e.ctx)
	if err := e.mfa.Disable(e.ctx, "", "wrong-password-1234"); !apperr.Is(err, apperr.Invalid) {
		t.Fatalf("Disable with a wrong password: %v", err)
	}
	if err := e.mfa.Disable(e.ctx, "", ""); !apperr.Is(err, apperr.Invalid) {
		t.Fatalf("Disable with nothing: %v", err)
	}
	if a, _ := e.db.Admin(context.Background(), e.owner.ID); !a.MFAEnabled() {
		t.Fatal("a refused Disable turned two-factor off")
	}
	if rows := e.audits(t, audit.MFADisabled); len(rows) != 2 || rows[0].Outcome != audit.Failure {
		t.Fatalf("refusals audited: %+v", rows)
	}
	if err := e.mfa.Disable(e.ctx, codeAt(t, sec, e.clock.Now()), ""); err != nil {
		t.Fatalf("Disable with a code: %v", err)
	}
	st, _ := e.db.AdminMFA(context.Background(), e.owner.ID)
	if st.Enabled || st.Sealed != "" || st.RecoveryLeft != 0 {
		t.Fatalf("after Disable: %+v", st)
	}
	e.enrol(t, e.ctx)
	if err := e.mfa.Disable(e.ctx, "", "owner-password-1234"); err != nil {
		t.Fatalf("Disable with the password: %v", err)
	}
}

// Only an Owner (or the command line) resets another admin's two-factor;
// an Owner's own is refused; every attempt is audited. Requiring
// two-factor needs an Owner who uses it.
func TestMFAResetAndRequire(t *testing.T) {
	e := newMFAEnv(t)
	ed, err := e.db.CreateAdmin(context.Background(), "ed@example.com", "h", actor.Editor, audit.As(actor.CommandLine, audit.AdminCreated, ""))
	if err != nil {
		t.Fatal(err)
	}
	e.enrol(t, as(ed))
	if _, err := e.mfa.Reset(as(ed), e.owner.ID); !apperr.Is(err, apperr.Forbidden) {
		t.Fatalf("an Editor's Reset: %v, want Forbidden", err)
	}
	if _, err := e.mfa.Reset(e.ctx, e.owner.ID); !apperr.Is(err, apperr.Conflict) {
		t.Fatalf("an Owner's Reset of their own: %v, want Conflict", err)
	}
	if err := e.mfa.SetRequired(e.ctx, true); !apperr.Is(err, apperr.Conflict) {
		t.Fatalf("requiring two-factor without it: %v, want Conflict", err)
	}
	if _, err := e.mfa.Reset(e.ctx, ed.ID); err != nil {
		t.Fatal(err)
	}
	if a, _ := e.db.Admin(context.Background(), ed.ID); a.MFAEnabled() {
		t.Fatal("Reset left two-factor on")
	}
	e.enrol(t, as(ed))
	if _, err := e.mfa.Reset(actor.NewContext(context.Background(), actor.AdminCommand), ed.ID); err != nil {
		t.Fatalf("the command line's Reset: %v", err)
	}
	rows := e.audits(t, audit.MFAReset)
	outcomes := []string{}
	for _, r := range rows {
		outcomes = append(outcomes, r.Outcome+" "+r.Actor)
	}
	want := []string{"success postern admin (command line)", "success owner@example.com", "failure owner@example.com", "denied ed@example.com"}
	if strings.Join(outcomes, ",") != strings.Join(want, ",") {
		t.Fatalf("reset audit = %v, want %v", outcomes, want)
	}
	e.enrol(t, e.ctx)
	if err := e.mfa.SetRequired(as(ed), true); !apperr.Is(err, apperr.Forbidden) {
		t.Fatalf("an Editor requiring two-factor: %v", err)
	}
	if err := e.mfa.SetRequired(e.ctx, true); err != nil {
		t.Fatal(err)
	}
	if on, err := e.mfa.Required(context.Background()); !on || err != nil {
		t.Fatalf("Required = %v, %v", on, err)
	}
	if err := e.mfa.SetRequired(e.ctx, false); err != nil {
		t.Fatal(err)
	}
	if on, _ := e.mfa.Required(context.Background()); on {
		t.Fatal("still required after turning it off")
	}
	if rows := e.audits(t, audit.MFARequired); len(rows) != 4 {
		t.Fatalf("requirement audit rows = %d, want 4 (two refused, on, off)", len(rows))
	}
}
