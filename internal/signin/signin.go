// Package signin is Sign in with Microsoft: the settings an Owner keeps in
// Settings → Sign-in (the Entra tenant and app, the sealed client secret,
// the cloud, the mapping of app roles and groups to Postern roles,
// auto-provisioning, whether passwords still work), and the OpenID Connect
// authorization code flow with PKCE that signs an admin in
// (docs/admins.md#sign-in-with-microsoft). Admins are keyed by the id
// token's tid and oid, never by its email.
package signin

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"postern/internal/actor"
	"postern/internal/apperr"
	"postern/internal/audit"
	"postern/internal/defender"
	"postern/internal/model"
	"postern/internal/secret"
)

// Store is what the service needs of the database; each write takes the
// audit entry it commits with.
type Store interface {
	audit.Appender
	SignInProvider(ctx context.Context) (model.SignInProvider, error)
	SaveSignInProvider(ctx context.Context, p model.SignInProvider, version int64, e audit.Entry) error
	SetLocalSignIn(ctx context.Context, enabled bool, e audit.Entry) error
	AdminByEntra(ctx context.Context, tid, oid string) (model.Admin, error)
	CreateEntraAdmin(ctx context.Context, email, fallback, tid, oid string, role actor.Role, e audit.Entry) (model.Admin, error)
	RecordEntraSignIn(ctx context.Context, id int64, role actor.Role, e audit.Entry) (model.Admin, error)
}

// Options configure a Service.
type Options struct {
	// LoginURL overrides the login host the cloud names (the
	// defender-login-url setting: tests, proxies, the emulator).
	LoginURL string
	// GraphURL overrides the Microsoft Graph host the cloud names (the
	// graph-url setting: tests, proxies, the emulator); GraphTimeout
	// bounds each Graph request (DefaultGraphTimeout when zero).
	GraphURL     string
	GraphTimeout time.Duration
	HTTPClient   *http.Client
	Now          func() time.Time
	// ReloadKeyring reads the master keyring again when the secret is
	// sealed under a key the service does not hold (rotate-key ran).
	ReloadKeyring func() (*secret.Keyring, error)
}

// Service owns the sign-in settings and the sign-in flow.
type Service struct {
	store    Store
	log      *slog.Logger
	opt      Options
	keyMu    sync.Mutex
	keyring  *secret.Keyring
	provMu   sync.Mutex
	provider map[string]*provider // by issuer
}

// New returns the service.
func New(st Store, kr *secret.Keyring, log *slog.Logger, o Options) *Service {
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 20 * time.Second}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.GraphTimeout <= 0 {
		o.GraphTimeout = DefaultGraphTimeout
	}
	return &Service{store: st, log: log, opt: o, keyring: kr, provider: map[string]*provider{}}
}

// secretLocation is where the client secret is sealed.
var secretLocation = secret.Location{Table: "sign_in_providers", Column: "client_secret", Row: model.SignInEntra}

// Settings is what the console may show of Sign in with Microsoft: every
// setting but the secret, which this type cannot carry.
type Settings struct {
	Configured    bool
	TenantID      string
	ClientID      string
	SecretSet     bool
	Cloud         string
	RoleMap       model.RoleMap
	AutoProvision bool
	LocalSignIn   bool
	ConfiguredBy  string
	UpdatedAt     time.Time
	Version       int64
}

// Settings returns the sign-in settings; unconfigured, Configured is false
// and LocalSignIn true.
func (s *Service) Settings(ctx context.Context) (Settings, error) {
	p, err := s.store.SignInProvider(ctx)
	if apperr.Is(err, apperr.NotFound) {
		return Settings{Cloud: string(defender.Commercial), LocalSignIn: true}, nil
	}
	if err != nil {
		return Settings{}, err
	}
	return Settings{Configured: true, TenantID: p.TenantID, ClientID: p.ClientID, SecretSet: p.ClientSecret != "",
		Cloud: p.Cloud, RoleMap: p.RoleMap, AutoProvision: p.AutoProvision, LocalSignIn: p.LocalSignIn,
		ConfiguredBy: p.ConfiguredBy, UpdatedAt: p.UpdatedAt, Version: p.Version}, nil
}

// LocalSignInAllowed reports whether the password form may sign anyone in.
func (s *Service) LocalSignInAllowed(ctx context.Context) (bool, error) {
	st, err := s.Settings(ctx)
	return st.LocalSignIn, err
}

// Save stores the settings an Owner submitted, sealing a new client secret
// (an empty one keeps the stored secret). Bad input is refused field by
// field (apperr.Fields) and audited; nothing is written then.
func (s *Service) Save(ctx context.Context, in Input) error {
	a, err := audit.Allowed(ctx, s.store, s.log, actor.Owner, audit.SignInConfigured, "Sign in with Microsoft")
	if err != nil {
		return err
	}
	e := audit.As(a, audit.SignInConfigured, "Sign in with Microsoft")
	cur, err := s.store.SignInProvider(ctx)
	if err != nil && !apperr.Is(err, apperr.NotFound) {
		return err
	}
	p, problems := clean(in, cur.ClientSecret != "")
	if len(problems) > 0 {
		return audit.RecordRefusal(ctx, s.store, s.log, e, apperr.Fields(problems))
	}
	p.ClientSecret, p.ConfiguredBy = cur.ClientSecret, a.Email
	e.Detail = summary(p) + "; client secret kept"
	if sec := in.ClientSecret.Reveal(); sec != "" {
		if p.ClientSecret, err = s.currentKeyring().Seal([]byte(sec), secretLocation); err != nil {
			return err
		}
		e.Detail = summary(p) + "; client secret set"
	}
	if err := s.store.SaveSignInProvider(ctx, p, in.Version, e); err != nil {
		if apperr.Is(err, apperr.Conflict) {
			return audit.RecordRefusal(ctx, s.store, s.log, e, err)
		}
		return err
	}
	s.forgetProviders()
	return nil
}

// SetLocalSignIn turns password sign-in on or off. Off is refused until
// Sign in with Microsoft is configured and an Owner has signed in with it.
func (s *Service) SetLocalSignIn(ctx context.Context, enabled bool) error {
	a, err := audit.Allowed(ctx, s.store, s.log, actor.Owner, audit.LocalSignInChanged, "password sign-in")
	if err != nil {
		return err
	}
	e := audit.As(a, audit.LocalSignInChanged, "password sign-in")
	e.Detail = "turned off"
	if enabled {
		e.Detail = "turned on"
	}
	err = s.store.SetLocalSignIn(ctx, enabled, e)
	switch {
	case apperr.Is(err, apperr.NotFound):
		return audit.RecordRefusal(ctx, s.store, s.log, e, apperr.New(apperr.Conflict, "Configure Sign in with Microsoft first."))
	case apperr.Is(err, apperr.Conflict):
		return audit.RecordRefusal(ctx, s.store, s.log, e, err)
	}
	return err
}

// openSecret opens the stored client secret, reading the keyring again
// once when it is sealed under a key this service does not hold.
func (s *Service) openSecret(sealed string) (string, error) {
	plain, err := s.currentKeyring().Open(sealed, secretLocation)
	if errors.Is(err, secret.ErrUnknownKey) && s.opt.ReloadKeyring != nil {
		fresh, rerr := s.opt.ReloadKeyring()
		if rerr != nil {
			return "", err
		}
		s.keyMu.Lock()
		s.keyring = fresh
		s.keyMu.Unlock()
		plain, err = fresh.Open(sealed, secretLocation)
	}
	return string(plain), err
}

func (s *Service) currentKeyring() *secret.Keyring {
	s.keyMu.Lock()
	defer s.keyMu.Unlock()
	return s.keyring
}
