// Package integration manages the connection to Microsoft Defender: it
// validates credentials against Microsoft before storing anything, seals the
// client secret, and records every change in the audit log.
package integration

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"postern/internal/actor"
	"postern/internal/apperr"
	"postern/internal/audit"
	"postern/internal/defender"
	"postern/internal/model"
	"postern/internal/secret"
)

// Name is the integrations row of Microsoft Defender.
const Name = "defender"

// secretLocation binds the sealed secret of integration name to its
// table, column and row.
func secretLocation(name string) secret.Location {
	return secret.Location{Table: "integrations", Column: "client_secret", Row: name}
}

// validateTimeout bounds the whole check against Microsoft on Save.
const validateTimeout = 30 * time.Second

// Change is what happened to the integration, for those who follow it.
type Change string

// Changes.
const (
	Configured Change = "configured"
	Enabled    Change = "enabled"
	Disabled   Change = "disabled"
)

// Store is what Service needs of the database: the integration row and every sealed value.
type Store interface {
	Now() time.Time
	Integration(ctx context.Context, name string) (model.Integration, error)
	SaveIntegration(ctx context.Context, in model.Integration, version int64, e audit.Entry) error
	UpdateIntegration(ctx context.Context, name string, change func(*model.Integration), e audit.Entry) error
	AppendAudit(ctx context.Context, e audit.Entry) error
	SealedValues(ctx context.Context) ([]secret.Stored, error)
	Reseal(ctx context.Context, reseal func(secret.Stored) (string, error), entry func(n int) audit.Entry) (int, error)
	PendingCertificate(ctx context.Context, name string) (model.PendingCertificate, error)
	SavePendingCertificate(ctx context.Context, p model.PendingCertificate, e audit.Entry) error
}

// Service owns the Defender integration's lifecycle.
type Service struct {
	store    Store
	keyring  atomic.Pointer[secret.Keyring]
	reload   func() (*secret.Keyring, error) // nil: the keyring never changes
	reloadMu sync.Mutex
	log      *slog.Logger
	loginURL string // overrides from configuration; empty means from Cloud
	apiURL   string
	scope    string // token scope override; empty means from Cloud
	http     *http.Client
	clients  clientCache

	subMu       sync.Mutex
	subscribers []func(context.Context, Change)
}

// Subscribe calls fn, in the order subscribed, after every committed
// change: the sync worker starts or stops, the policy follows.
func (s *Service) Subscribe(fn func(context.Context, Change)) {
	s.subMu.Lock()
	defer s.subMu.Unlock()
	s.subscribers = append(s.subscribers, fn)
}

func (s *Service) publish(ctx context.Context, ch Change) {
	s.subMu.Lock()
	subs := slices.Clone(s.subscribers)
	s.subMu.Unlock()
	for _, fn := range subs {
		fn(ctx, ch)
	}
}

// Options configure a Service.
type Options struct {
	LoginURL, APIURL string
	Scope            string // token scope override (defender-scope)
	HTTPClient       *http.Client
	// ReloadKeyring reads the master keyring again. When a stored secret is
	// sealed under a key the service does not hold (postern rotate-key ran
	// while Postern was running), the service reloads once and uses the
	// new keyring from then on.
	ReloadKeyring func() (*secret.Keyring, error)
}

// New returns the service.
func New(st Store, kr *secret.Keyring, log *slog.Logger, o Options) *Service {
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 20 * time.Second}
	}
	s := &Service{store: st, reload: o.ReloadKeyring, log: log, loginURL: o.LoginURL, apiURL: o.APIURL, scope: o.Scope, http: o.HTTPClient}
	s.keyring.Store(kr)
	return s
}

// openSecret opens a stored secret. A secret sealed under a key id the
// keyring lacks makes the service read the keyring again, once per call:
// rotate-key adds the new key to the key file and re-seals the secrets
// while the server may be running.
func (s *Service) openSecret(sealed string, loc secret.Location) ([]byte, error) {
	plain, err := s.keyring.Load().Open(sealed, loc)
	if !errors.Is(err, secret.ErrUnknownKey) || s.reload == nil {
		return plain, err
	}
	id, _ := secret.KeyID(sealed)
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	kr := s.keyring.Load()
	if !kr.Has(id) { // not already reloaded by another caller
		fresh, rerr := s.reload()
		if rerr != nil {
			s.log.Error("reload master key", "err", rerr)
			return nil, err
		}
		if !fresh.Has(id) {
			return nil, err
		}
		s.keyring.Store(fresh)
		kr = fresh
		s.log.Info("master key reloaded: a stored secret is sealed under a newer key", "keyring", fresh)
	}
	return kr.Open(sealed, loc)
}

// Defender is what the console may show of the integration: everything but
// the secret, which this type cannot carry by construction.
type Defender struct {
	Configured      bool
	TenantID        string
	ClientID        string
	SecretSet       bool
	SecretExpiresOn *time.Time // for a certificate, its NotAfter day
	// Credential is CredentialSecret or CredentialCertificate; Certificate
	// is the public part of a certificate credential.
	Credential    string
	Certificate   *Certificate
	Cloud         defender.Cloud
	Region        defender.Region
	Enabled       bool
	LastError     string
	LastErrorCode string
	LastErrorAt   *time.Time
	ConfiguredBy  string
	ConfiguredAt  time.Time
	// OutageGraceHours: how long stale data stays in use (DefaultOutageGraceHours when unconfigured).
	OutageGraceHours int
}

// Defender returns the integration's public state; an unconfigured one has
// Configured false.
func (s *Service) Defender(ctx context.Context) (Defender, error) {
	in, err := s.store.Integration(ctx, Name)
	if apperr.Is(err, apperr.NotFound) {
		return Defender{Cloud: defender.Commercial, Region: defender.Global, OutageGraceHours: DefaultOutageGraceHours, Credential: CredentialSecret}, nil
	}
	if err != nil {
		return Defender{}, err
	}
	return Defender{
		Configured: true, TenantID: in.TenantID, ClientID: in.ClientID, SecretSet: in.ClientSecret != "",
		SecretExpiresOn: in.SecretExpiresOn, Cloud: defender.Cloud(in.Cloud), Region: defender.Region(in.Region),
		Enabled: in.Enabled, LastError: in.LastError, LastErrorCode: in.LastErrorCode, LastErrorAt: in.LastErrorAt,
		ConfiguredBy: in.ConfiguredBy, ConfiguredAt: in.ConfiguredAt, OutageGraceHours: in.OutageGraceHours,
		Credential: kindOf(in), Certificate: publicCertificate(in.Certificate),
	}, nil
}

// Input is what an admin submits in the Manage dialog.
type Input struct {
	TenantID     string
	ClientID     string
	ClientSecret secret.Redacted // empty keeps the stored secret
	// Credential is CredentialSecret (or empty) or CredentialCertificate.
	// A certificate is pasted (CertificatePEM and PrivateKeyPEM), or else
	// the generated pending one is used, or else the stored one is kept.
	Credential      string
	CertificatePEM  string
	PrivateKeyPEM   secret.Redacted
	SecretExpiresOn string // YYYY-MM-DD or empty
	Cloud           string
	Region          string
	// OutageGraceHours is "Keep using the last synced data for N hours";
	// empty means the default.
	OutageGraceHours string
}

// Configure checks the input, validates it against Microsoft and only then
// stores it: a failure at any step leaves the stored configuration as it was.
// When the outage grace is the only change it is stored without asking
// Microsoft, and the change is GraceSet rather than Configured.
func (s *Service) Configure(ctx context.Context, raw Input) (Change, error) {
	by, err := audit.Allowed(ctx, s.store, s.log, actor.Owner, audit.IntegrationConfigured, "Microsoft Defender")
	if err != nil {
		return "", err
	}
	change, err := s.configure(ctx, raw, by)
	if err != nil {
		return "", err
	}
	s.publish(ctx, change)
	return change, nil
}

// configure stores raw and says what changed: Configured, or GraceSet when
// the outage grace is the only change (saved without asking Microsoft, which
// may be the very thing that is down).
func (s *Service) configure(ctx context.Context, raw Input, by actor.Actor) (Change, error) {
	current, err := s.store.Integration(ctx, Name)
	hasCurrent := err == nil
	if err != nil && !apperr.Is(err, apperr.NotFound) {
		return "", err
	}
	in, expires, problems := clean(raw, hasCurrent && kindOf(current) == CredentialSecret, s.store.Now())
	grace, problem := parseGrace(raw.OutageGraceHours)
	if problem != "" {
		problems[FieldOutageGrace] = problem
	}
	if len(problems) > 0 {
		return "", problems
	}
	if in.Credential == CredentialCertificate && hasCurrent && kindOf(current) == CredentialCertificate {
		expires = current.SecretExpiresOn // a certificate's own expiry, not typed
	}
	if hasCurrent && sameConnection(in, expires, current) && !s.credentialChanges(ctx, in, current) && grace != current.OutageGraceHours {
		return GraceSet, s.storeGrace(ctx, by, current, grace)
	}
	cred, err := s.chooseCredential(ctx, in, current, hasCurrent)
	if err != nil {
		return "", err
	}
	creds := defender.Credentials{TenantID: in.TenantID, ClientID: in.ClientID, ClientSecret: cred.secret,
		Certificate: cred.cert, Cloud: defender.Cloud(in.Cloud), Region: defender.Region(in.Region)}
	if err := s.validate(ctx, creds); err != nil {
		var de *defender.Error
		if errors.As(err, &de) {
			s.auditFailure(context.WithoutCancel(ctx), audit.IntegrationConfigured, by, de)
		}
		return "", err
	}
	now := s.store.Now()
	row := model.Integration{Name: Name, TenantID: in.TenantID, ClientID: in.ClientID,
		SecretExpiresOn: expires, Cloud: in.Cloud, Region: in.Region, Enabled: true,
		ConfiguredBy: by.Email, ConfiguredAt: now, UpdatedAt: now, OutageGraceHours: grace}
	if err := s.sealCredential(cred, &row); err != nil {
		return "", err
	}
	detail := fmt.Sprintf("tenant %s, client %s, cloud %s, region %s; %s; outage grace %s",
		in.TenantID, in.ClientID, in.Cloud, in.Region, cred.auditText(), GraceText(grace))
	e := audit.As(by, audit.IntegrationConfigured, "Microsoft Defender")
	e.Detail = detail
	// Validation took a while: if another admin saved or disabled
	// meanwhile, do not silently overwrite their change.
	err = s.store.SaveIntegration(ctx, row, current.Version, e)
	if apperr.Is(err, apperr.Conflict) {
		return "", apperr.Wrap(err, apperr.Conflict, "Another admin changed the Microsoft Defender settings while yours were being checked. Reopen Manage to see them, then save again.")
	}
	if err != nil {
		return "", err
	}
	return Configured, nil
}

// validate runs the check against Microsoft under its own deadline.
func (s *Service) validate(ctx context.Context, creds defender.Credentials) error {
	ep, err := defender.ResolveEndpoints(creds.Cloud, creds.Region, s.loginURL, s.apiURL)
	ep = ep.WithScope(s.scope)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, validateTimeout)
	defer cancel()
	err = defender.NewClient(creds, ep, s.http).Validate(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		return &defender.Error{Reason: defender.Unreachable, Code: "timeout", Help: defender.HelpTroubleshooting,
			Message: "Microsoft did not answer in time. Try again; if it keeps happening, check this server's network access to Microsoft.", Err: err}
	}
	return err
}

// Disable stops using Defender. Credentials and every synced row stay.
func (s *Service) Disable(ctx context.Context) error {
	by, err := audit.Allowed(ctx, s.store, s.log, actor.Owner, audit.IntegrationDisabled, "Microsoft Defender")
	if err != nil {
		return err
	}
	if err := s.setEnabled(ctx, false, audit.IntegrationDisabled, by); err != nil {
		return err
	}
	s.publish(ctx, Disabled)
	return nil
}

// Enable re-validates the stored credentials and, if they still work, turns
// the integration back on. If they fail it stays disabled with the error.
func (s *Service) Enable(ctx context.Context) error {
	by, err := audit.Allowed(ctx, s.store, s.log, actor.Owner, audit.IntegrationEnabled, "Microsoft Defender")
	if err != nil {
		return err
	}
	in, err := s.store.Integration(ctx, Name)
	if err != nil {
		return err
	}
	creds, err := s.credentials(in)
	if err != nil {
		return err
	}
	if verr := s.validate(ctx, creds); verr != nil {
		var de *defender.Error
		if !errors.As(verr, &de) {
			return verr
		}
		if err := s.recordFailure(context.WithoutCancel(ctx), de, audit.IntegrationEnabled, by); err != nil {
			return err
		}
		return verr
	}
	if err := s.setEnabled(ctx, true, audit.IntegrationEnabled, by); err != nil {
		return err
	}
	s.publish(ctx, Enabled)
	return nil
}

func (s *Service) setEnabled(ctx context.Context, enabled bool, action string, by actor.Actor) error {
	now := s.store.Now()
	return s.store.UpdateIntegration(ctx, Name, func(in *model.Integration) {
		in.Enabled, in.UpdatedAt = enabled, now
		if enabled {
			in.LastError, in.LastErrorCode, in.LastErrorAt = "", "", nil
		}
	}, audit.As(by, action, "Microsoft Defender"))
}

// recordFailure stores the last error of a failed check and audits it.
func (s *Service) recordFailure(ctx context.Context, de *defender.Error, action string, by actor.Actor) error {
	now := s.store.Now()
	e := audit.As(by, action, "Microsoft Defender")
	e.Outcome, e.Detail = audit.Failure, de.Code+": "+de.Text()
	return s.store.UpdateIntegration(ctx, Name, func(in *model.Integration) {
		in.LastError, in.LastErrorCode, in.LastErrorAt, in.UpdatedAt = de.Text(), de.Code, &now, now
	}, e)
}

// auditFailure records a refused check; the integration row is untouched.
// The detail names Microsoft's code and the reason, never the input secret.
func (s *Service) auditFailure(ctx context.Context, action string, by actor.Actor, de *defender.Error) {
	e := audit.Entry{Actor: by.Email, SourceIP: by.IP, Action: action, Target: "Microsoft Defender",
		Outcome: audit.Failure, Detail: "credentials refused: " + string(de.Reason) + " (" + de.Code + ")"}
	if err := s.store.AppendAudit(ctx, e); err != nil {
		s.log.ErrorContext(ctx, "audit refused credentials", "err", err)
	}
}

// ErrDisabled means the integration exists but is switched off.
var ErrDisabled = errors.New("integration: disabled")

// clientCache holds the client of the current credential set, so its token
// is reused across syncs and rebuilt only when the credentials change.
type clientCache struct {
	mu      sync.Mutex
	version string
	client  *defender.Client
}

// Client returns a Defender client for the stored credentials and a version
// that changes whenever they do. It is NotFound when nothing is configured
// and ErrDisabled while the integration is disabled.
func (s *Service) Client(ctx context.Context) (*defender.Client, string, error) {
	in, err := s.store.Integration(ctx, Name)
	if err != nil {
		return nil, "", err
	}
	if !in.Enabled {
		return nil, "", ErrDisabled
	}
	sum := sha256.Sum256([]byte(in.TenantID + "|" + in.ClientID + "|" + in.ClientSecret + "|" + in.PrivateKey + "|" + in.Cloud + "|" + in.Region))
	version := hex.EncodeToString(sum[:8])
	s.clients.mu.Lock()
	defer s.clients.mu.Unlock()
	if s.clients.client != nil && s.clients.version == version {
		return s.clients.client, version, nil
	}
	creds, err := s.credentials(in)
	if err != nil {
		return nil, "", err
	}
	ep, err := defender.ResolveEndpoints(creds.Cloud, creds.Region, s.loginURL, s.apiURL)
	ep = ep.WithScope(s.scope)
	if err != nil {
		return nil, "", err
	}
	s.clients.client, s.clients.version = defender.NewClient(creds, ep, s.http), version
	return s.clients.client, version, nil
}

// Enabled reports whether Defender is configured and enabled.
func (s *Service) Enabled(ctx context.Context) (bool, error) {
	d, err := s.Defender(ctx)
	return d.Configured && d.Enabled, err
}
