package signin

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"postern/internal/actor"
	"postern/internal/apperr"
	"postern/internal/audit"
	"postern/internal/defender"
	"postern/internal/model"
)

// Pending is one sign-in under way: what the browser's session keeps
// between the redirect to Microsoft and the callback. It is used once.
type Pending struct {
	State    string `json:"state"`
	Nonce    string `json:"nonce"`
	Verifier string `json:"verifier"`
	Started  int64  `json:"started"` // Unix seconds
}

// PendingLifetime is how long a started sign-in may take.
const PendingLifetime = 10 * time.Minute

type provider struct {
	oidc   *oidc.Provider
	issuer string
}

// Issuer is Entra's v2 issuer of tenant under loginURL.
func Issuer(loginURL, tenant string) string {
	return strings.TrimRight(loginURL, "/") + "/" + tenant + "/v2.0"
}

// LoginURL is the login host of cloud, or the configured override.
func (s *Service) LoginURL(cloud string) (string, error) {
	ep, err := defender.ResolveEndpoints(defender.Cloud(cloud), "", s.opt.LoginURL, "")
	return ep.LoginURL, err
}

// providerFor discovers the tenant's OpenID configuration once per issuer;
// the key set it returns fetches and caches the signing keys on its own,
// independently of the request.
func (s *Service) providerFor(ctx context.Context, p model.SignInProvider) (*provider, error) {
	login, err := s.LoginURL(p.Cloud)
	if err != nil {
		return nil, err
	}
	iss := Issuer(login, p.TenantID)
	s.provMu.Lock()
	defer s.provMu.Unlock()
	if pr, ok := s.provider[iss]; ok {
		return pr, nil
	}
	op, err := oidc.NewProvider(oidc.ClientContext(ctx, s.opt.HTTPClient), iss)
	if err != nil {
		return nil, apperr.Wrap(err, apperr.Unavailable, "Postern could not read Microsoft's sign-in configuration for the tenant. Try again later.")
	}
	pr := &provider{oidc: op, issuer: iss}
	s.provider[iss] = pr
	return pr, nil
}

func (s *Service) forgetProviders() {
	s.provMu.Lock()
	clear(s.provider)
	s.provMu.Unlock()
}

// config is the OAuth 2.0 client of p, returning to redirectURL.
// With groups mapped it also asks for Graph's User.Read, for the groups
// overage check (graph.go); Microsoft takes the short name in every cloud.
func (s *Service) config(pr *provider, p model.SignInProvider, clientSecret, redirectURL string) *oauth2.Config {
	scopes := []string{oidc.ScopeOpenID, "profile", "email"}
	if len(p.RoleMap.Groups) > 0 {
		scopes = append(scopes, GraphPermission)
	}
	return &oauth2.Config{ClientID: p.ClientID, ClientSecret: clientSecret, Endpoint: pr.oidc.Endpoint(),
		RedirectURL: redirectURL, Scopes: scopes}
}

// ErrNotConfigured answers a sign-in with Microsoft while it is not set up.
var ErrNotConfigured = apperr.New(apperr.NotFound, "Sign in with Microsoft is not configured.")

// Begin starts a sign-in that returns to redirectURL: the pending state the
// caller keeps for the callback, and the URL of Microsoft's sign-in page.
func (s *Service) Begin(ctx context.Context, redirectURL string) (Pending, string, error) {
	p, err := s.store.SignInProvider(ctx)
	if apperr.Is(err, apperr.NotFound) {
		return Pending{}, "", ErrNotConfigured
	}
	if err != nil {
		return Pending{}, "", err
	}
	pr, err := s.providerFor(ctx, p)
	if err != nil {
		return Pending{}, "", err
	}
	pend := Pending{State: rand.Text(), Nonce: rand.Text(), Verifier: oauth2.GenerateVerifier(), Started: s.opt.Now().Unix()}
	u := s.config(pr, p, "", redirectURL).AuthCodeURL(pend.State, oauth2.S256ChallengeOption(pend.Verifier),
		oidc.Nonce(pend.Nonce), oauth2.SetAuthURLParam("response_mode", "query"))
	return pend, u, nil
}

// Callback is what Microsoft sent back to the redirect URL.
type Callback struct {
	State, Code, Error string
	RedirectURL        string // the same as Begin's
	IP                 string // the client's address, for the audit log
}

// Finish completes a sign-in: the state must match the pending one (which
// the caller has already dropped, so it is used once), the code is redeemed
// with the PKCE verifier, and the id token's signature, issuer, audience,
// expiry, nonce and tenant are checked before the admin keyed by (tid, oid)
// is found or, with auto-provisioning, created. Every outcome is audited;
// a refusal is an apperr with a message for the person signing in.
func (s *Service) Finish(ctx context.Context, pend *Pending, cb Callback) (model.Admin, error) {
	e := audit.Entry{Actor: actor.Anonymous, SourceIP: cb.IP, Action: audit.Login, Target: "Sign in with Microsoft", Outcome: audit.Success}
	if pend == nil || cb.State == "" || subtle.ConstantTimeCompare([]byte(pend.State), []byte(cb.State)) != 1 ||
		s.opt.Now().Sub(time.Unix(pend.Started, 0)) > PendingLifetime {
		return model.Admin{}, s.refuse(ctx, e, "state missing, replayed or expired", errStale)
	}
	if cb.Error != "" {
		return model.Admin{}, s.refuse(ctx, e, "Microsoft answered "+safeCode(cb.Error),
			apperr.New(apperr.Unauthorized, "Microsoft did not sign you in (%s). Try again, or ask an Owner.", safeCode(cb.Error)))
	}
	p, err := s.store.SignInProvider(ctx)
	if err != nil {
		return model.Admin{}, s.refuse(ctx, e, "not configured", ErrNotConfigured)
	}
	id, access, err := s.redeem(ctx, p, pend, cb)
	if err != nil {
		return model.Admin{}, s.refuse(ctx, e, reason(err), err)
	}
	e.Target = id.label()
	if id.TID != p.TenantID {
		return model.Admin{}, s.refuse(ctx, e, "tenant "+id.TID+" is not the configured tenant", errTenant)
	}
	role, overage, err := mappedRole(p.RoleMap, id)
	var note string
	if overage {
		role, note, err = s.groupRole(ctx, p, access)
	}
	if err != nil {
		return model.Admin{}, s.refuse(ctx, e, reason(err), err)
	}
	if m := id.methods(); m != "" {
		note = strings.TrimPrefix(note+"; amr "+m, "; ")
	}
	return s.admit(ctx, p, id, role, note, e)
}

// admit signs the admin keyed by id in with role, creating them when
// auto-provisioning is on; note ends the audit detail.
func (s *Service) admit(ctx context.Context, p model.SignInProvider, id identity, role actor.Role, note string, e audit.Entry) (model.Admin, error) {
	a, err := s.store.AdminByEntra(ctx, id.TID, id.OID)
	if apperr.Is(err, apperr.NotFound) {
		if !p.AutoProvision {
			return model.Admin{}, s.refuse(ctx, e, "no admin for oid "+id.OID+"; auto-provisioning is off", unknownUser(id.OID))
		}
		c := audit.Entry{Actor: id.label(), ActorRole: role, SourceIP: e.SourceIP, Action: audit.AdminCreated, Outcome: audit.Success,
			Detail: "created at first sign-in with Microsoft (auto-provisioning); role " + string(role) + "; oid " + id.OID}
		a, err = s.store.CreateEntraAdmin(ctx, id.email(), "entra:"+id.OID, id.TID, id.OID, role, c)
	}
	if err != nil {
		return model.Admin{}, err
	}
	e.Actor, e.ActorRole = a.Email, role
	e.Detail = "Sign in with Microsoft; role " + string(role) + "; oid " + id.OID
	if a.Role != role {
		e.Detail += "; role was " + string(a.Role)
	}
	if note != "" {
		e.Detail += "; " + note
	}
	signed, err := s.store.RecordEntraSignIn(ctx, a.ID, role, e)
	if apperr.Is(err, apperr.Forbidden) || apperr.Is(err, apperr.Conflict) {
		e.Actor, e.ActorRole = actor.Anonymous, ""
		e.Target = a.Email
		msg := apperr.MessageOf(err)
		if apperr.Is(err, apperr.Conflict) {
			err = apperr.New(apperr.Forbidden, "Entra ID gives you the %s role, but you are the last enabled Owner here. Make another admin an Owner first, or assign yourself the Owner app role.", role.Label())
			msg = "would demote the last Owner to " + string(role)
		}
		return model.Admin{}, s.refuse(ctx, e, msg, err)
	}
	return signed, err
}

// refuse records e as a failed sign-in with detail, and returns err.
func (s *Service) refuse(ctx context.Context, e audit.Entry, detail string, err error) error {
	e.Outcome, e.Detail = audit.Failure, "Sign in with Microsoft refused: "+detail
	if aerr := s.store.AppendAudit(context.WithoutCancel(ctx), e); aerr != nil {
		s.log.ErrorContext(ctx, "append audit entry of a refused sign-in", "err", aerr)
	}
	return err
}

var (
	errStale  = apperr.New(apperr.Unauthorized, "This sign-in has expired or was already used. Start again with Sign in with Microsoft.")
	errTenant = apperr.New(apperr.Forbidden, "Your Microsoft account belongs to another Entra ID tenant than the one this console allows.")
)

// unknownUser refuses a Microsoft account that is no admin, naming its
// object id for the Owner who can add it.
func unknownUser(oid string) error {
	return apperr.New(apperr.Forbidden, "There is no Postern admin for your Microsoft account. Ask an Owner to add you on Settings → Admins with your Entra object id %s.", oid)
}

// safeCode keeps an OAuth error code from the query string only when it has
// the shape of one.
func safeCode(s string) string {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r == '_') || len(s) > 64 {
			return "an error"
		}
	}
	return s
}

// reason is the audit detail of a failed redemption or verification.
func reason(err error) string {
	var te *oidc.TokenExpiredError
	msg := apperr.MessageOf(err)
	var r *redeemError
	if errors.As(err, &r) {
		msg = r.why
	}
	if errors.As(err, &te) {
		msg = "id token expired"
	}
	return msg
}
