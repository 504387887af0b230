package signin

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"
	"regexp"
	"strings"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"postern/internal/actor"
	"postern/internal/apperr"
	"postern/internal/model"
)

// identity is what a verified Entra ID id token says about the user.
type identity struct {
	TID               string            `json:"tid"`
	OID               string            `json:"oid"`
	Email             string            `json:"email"`
	PreferredUsername string            `json:"preferred_username"`
	Roles             []string          `json:"roles"`
	Groups            []string          `json:"groups"`
	HasGroups         bool              `json:"hasgroups"`
	ClaimNames        map[string]string `json:"_claim_names"`
	// AMR is the authentication methods (pwd, mfa, …). Entra sends it in
	// v1.0 tokens only, so Postern's v2.0 sign-in does not rely on it: it
	// is noted in the audit log when present (docs/admins.md). Raw: a
	// claim of another shape must not fail the sign-in.
	AMR json.RawMessage `json:"amr"`
}

// methods is the amr claim for the audit log: values of a plain shape
// only, at most eight.
func (id identity) methods() string {
	var list []string
	if json.Unmarshal(id.AMR, &list) != nil {
		var one string
		if json.Unmarshal(id.AMR, &one) != nil {
			return ""
		}
		list = []string{one}
	}
	var out []string
	for _, m := range list {
		if amrRE.MatchString(m) && len(out) < 8 {
			out = append(out, m)
		}
	}
	return strings.Join(out, ",")
}

// label names the user in the audit log: the email, shown and never
// trusted, else the object id.
func (id identity) label() string {
	if e := id.email(); e != "" {
		return e
	}
	return "entra:" + id.OID
}

// email is the email (or else the user name) when it reads as an address.
func (id identity) email() string {
	for _, v := range []string{id.Email, id.PreferredUsername} {
		v = strings.ToLower(strings.TrimSpace(v))
		if a, err := mail.ParseAddress(v); err == nil && a.Address == v && len(v) <= 254 {
			return v
		}
	}
	return ""
}

// overage reports Entra's groups overage: too many groups for the token,
// which names a Graph source instead (_claim_names) or says hasgroups.
func (id identity) overage() bool { return id.HasGroups || id.ClaimNames["groups"] != "" }

// redeemError is a failed redemption or verification: why for the audit
// log, the apperr for the person signing in.
type redeemError struct {
	why string
	err error
}

func (r *redeemError) Error() string { return r.err.Error() }
func (r *redeemError) Unwrap() error { return r.err }

var (
	errInvalidToken = apperr.New(apperr.Unauthorized, "The sign-in token from Microsoft was not valid for this console, so sign-in was refused. Start again; if it keeps happening, ask an Owner to check Settings → Sign-in.")
	errNoRole       = apperr.New(apperr.Forbidden, "Your Microsoft account has no Postern role. Ask an Owner to assign you one of the app's roles in Entra ID.")
	errNoGroup      = apperr.New(apperr.Forbidden, "Your Microsoft account has no Postern role: Microsoft Graph says you are in none of the Entra ID groups mapped to one. Ask an Owner to add you to one of those groups, or to assign you one of the app's roles in Entra ID.")
	aadstsRE        = regexp.MustCompile(`AADSTS\d+`)
	amrRE           = regexp.MustCompile(`^[a-z]{2,16}$`)
)

// redeem exchanges the code with the PKCE verifier and verifies the id
// token: signature, issuer, audience, expiry (go-oidc), then the nonce. It
// also returns the access token (for Graph, used at once, never kept).
func (s *Service) redeem(ctx context.Context, p model.SignInProvider, pend *Pending, cb Callback) (identity, string, error) {
	sec, err := s.openSecret(p.ClientSecret)
	if err != nil {
		return identity{}, "", &redeemError{"client secret could not be opened", apperr.Wrap(err, apperr.Internal, "Postern could not read its client secret.")}
	}
	pr, err := s.providerFor(ctx, p)
	if err != nil {
		return identity{}, "", &redeemError{"discovery failed", err}
	}
	hctx := oidc.ClientContext(ctx, s.opt.HTTPClient)
	tok, err := s.config(pr, p, sec, cb.RedirectURL).Exchange(hctx, cb.Code, oauth2.VerifierOption(pend.Verifier))
	if err != nil {
		return identity{}, "", exchangeError(err)
	}
	raw, _ := tok.Extra("id_token").(string)
	v := pr.oidc.Verifier(&oidc.Config{ClientID: p.ClientID, Now: s.opt.Now, SupportedSigningAlgs: []string{oidc.RS256}})
	idt, err := v.Verify(hctx, raw)
	if err != nil {
		return identity{}, "", &redeemError{verifyReason(err), errInvalidToken}
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(pend.Nonce)) != 1 {
		return identity{}, "", &redeemError{"nonce does not match the sign-in's", errInvalidToken}
	}
	var id identity
	if err := idt.Claims(&id); err != nil || !IsGUID(id.OID) || !IsGUID(id.TID) {
		return identity{}, "", &redeemError{"id token without a tid and oid", errInvalidToken}
	}
	id.TID, id.OID = strings.ToLower(id.TID), strings.ToLower(id.OID)
	return id, tok.AccessToken, nil
}

// exchangeError names the token endpoint's refusal by its AADSTS code.
func exchangeError(err error) error {
	code := "no answer"
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		code = re.ErrorCode
		if m := aadstsRE.FindString(re.ErrorDescription); m != "" {
			code = m
		}
	}
	return &redeemError{"token endpoint: " + code, apperr.New(apperr.Unauthorized,
		"Microsoft did not complete the sign-in (%s). Start again; if it keeps happening, ask an Owner to check the client secret in Settings → Sign-in.", code)}
}

// verifyReason is the audit detail of a token go-oidc refused.
func verifyReason(err error) string {
	var te *oidc.TokenExpiredError
	msg := err.Error()
	switch {
	case errors.As(err, &te):
		return "id token expired"
	case strings.Contains(msg, "different provider"):
		return "id token from another issuer"
	case strings.Contains(msg, "audience"):
		return "id token for another audience"
	case strings.Contains(msg, "signature"):
		return "id token signature not valid"
	}
	return "id token not valid"
}

// mappedRole is the highest role the user's app roles map to; only when
// none does, the highest their groups map to. A groups overage with groups
// mapped returns overage true and no role: the caller asks Graph.
func mappedRole(m model.RoleMap, id identity) (role actor.Role, overage bool, err error) {
	if r := highest(m.AppRoles, id.Roles, false); r != "" {
		return r, false, nil
	}
	if len(m.Groups) == 0 {
		return "", false, errNoRole
	}
	if id.overage() {
		return "", true, nil
	}
	if r := highest(m.Groups, id.Groups, true); r != "" {
		return r, false, nil
	}
	return "", false, errNoRole
}

// highest is the highest role any of values maps to in m ("" for none);
// fold compares group ids in lower case.
func highest(m map[string]actor.Role, values []string, fold bool) actor.Role {
	var best actor.Role
	for _, v := range values {
		if fold {
			v = strings.ToLower(v)
		}
		if r, ok := m[v]; ok && (best == "" || r.Allows(best)) {
			best = r
		}
	}
	return best
}

// groupRole is the role of a user in a groups overage: the highest of the
// mapped groups Graph says they are in, and a note for the audit log.
func (s *Service) groupRole(ctx context.Context, p model.SignInProvider, access string) (actor.Role, string, error) {
	in, err := s.memberOf(ctx, p, access)
	if err != nil {
		return "", "", err
	}
	note := fmt.Sprintf("groups overage: Microsoft Graph found %d of %d mapped groups", len(in), len(p.RoleMap.Groups))
	role := highest(p.RoleMap.Groups, in, true)
	if role == "" {
		return "", "", &redeemError{note, errNoGroup}
	}
	return role, note, nil
}
