package auth

import (
	"slices"
	"strings"
	"time"

	"postern/internal/model"
)

// TokenRequest is what Create is asked to make (Settings → API tokens).
type TokenRequest struct {
	Name string
	// IdentitySource is model.IdentityHeaders (also when empty) or
	// model.IdentityCertificate.
	IdentitySource string
	// Scopes are the scopes chosen, each one of model.TokenScopes; at
	// least one.
	Scopes []string
	// Expires is the Value of one of model.TokenExpiries ("" is never);
	// ExpiresOn is the date (2027-01-31) when it is
	// model.TokenExpiresOnDate: the token works through the end of that
	// day, UTC.
	Expires, ExpiresOn string
}

// TokenVerdict is what Authorize found of a token presented.
type TokenVerdict int

// The verdicts of Authorize: TokenUnknown and TokenExpired are answered
// 401, TokenOutOfScope 403 (the token is valid, for other uses).
const (
	TokenValid TokenVerdict = iota
	TokenUnknown
	TokenExpired
	TokenOutOfScope
)

// scopeSet holds a token's scopes as bits, in model.TokenScopes' order.
type scopeSet uint8

func scopesOf(scopes []string) scopeSet {
	var s scopeSet
	for i, sc := range model.TokenScopes {
		if slices.Contains(scopes, sc) {
			s |= 1 << i
		}
	}
	return s
}

func (s scopeSet) has(scope string) bool {
	i := slices.Index(model.TokenScopes, scope)
	return i >= 0 && s&(1<<i) != 0
}

// The messages of a refused request's scopes and expiry.
const (
	msgNoScope       = "Choose at least one scope."
	msgUnknownScope  = "Choose scopes from the list: evaluate, metrics, read."
	msgUnknownExpiry = "Choose when the token expires: never, after 30, 90 or 365 days, or on a date."
	msgExpiryDate    = "Use a date such as 2027-01-31."
	msgExpiryPast    = "Choose a date after today."
	msgExpiryFar     = "A token can last at most five years."
)

// checkRequest is the token r asks for, or what is wrong with r by form
// field.
func (t *Tokens) checkRequest(r TokenRequest) (model.APIToken, map[string]string) {
	problems := map[string]string{}
	row := model.APIToken{Name: r.Name, IdentitySource: r.IdentitySource}
	if msg := CheckTokenName(r.Name); msg != "" {
		problems["name"] = msg
	}
	switch r.IdentitySource {
	case "":
		row.IdentitySource = model.IdentityHeaders
	case model.IdentityHeaders, model.IdentityCertificate:
	default:
		problems["identity_source"] = "Choose where the device's identity comes from."
	}
	var msg string
	if row.Scopes, msg = checkScopes(r.Scopes); msg != "" {
		problems["scopes"] = msg
	}
	if row.ExpiresAt, msg = TokenExpiresAt(r.Expires, r.ExpiresOn, t.now()); msg != "" {
		problems["expires"] = msg
	}
	if len(problems) > 0 {
		return row, problems
	}
	return row, nil
}

// checkScopes returns scopes in model.TokenScopes' order, each once, or
// what is wrong with them.
func checkScopes(scopes []string) ([]string, string) {
	if len(scopes) == 0 {
		return nil, msgNoScope
	}
	for _, sc := range scopes {
		if !slices.Contains(model.TokenScopes, sc) {
			return nil, msgUnknownScope
		}
	}
	var out []string
	for _, sc := range model.TokenScopes {
		if slices.Contains(scopes, sc) {
			out = append(out, sc)
		}
	}
	return out, ""
}

// TokenExpiresAt is when a token made at now with the expiry choice (a
// Value of model.TokenExpiries, "" meaning never) and date expires: nil
// for never; or what is wrong with them.
func TokenExpiresAt(choice, date string, now time.Time) (*time.Time, string) {
	if choice == "" || choice == model.TokenNeverExpires {
		return nil, ""
	}
	if choice == model.TokenExpiresOnDate {
		today := now.UTC().Truncate(24 * time.Hour)
		day, err := time.Parse(time.DateOnly, strings.TrimSpace(date))
		switch {
		case err != nil:
			return nil, msgExpiryDate
		case !day.After(today):
			return nil, msgExpiryPast
		case day.After(now.Add(model.MaxTokenLifetime)):
			return nil, msgExpiryFar
		}
		at := day.Add(24*time.Hour - time.Second) // through the end of that day, UTC
		return &at, ""
	}
	for _, x := range model.TokenExpiries {
		if x.Value == choice && x.Days > 0 {
			at := now.UTC().AddDate(0, 0, x.Days).Truncate(time.Second)
			return &at, ""
		}
	}
	return nil, msgUnknownExpiry
}

// TokenDetail is the audit detail of a token's creation: its scopes,
// identity source and expiry.
func TokenDetail(t model.APIToken) string {
	expires := "never expires"
	if t.ExpiresAt != nil {
		expires = "expires " + t.ExpiresAt.UTC().Format(time.RFC3339)
	}
	return "scopes " + strings.Join(t.Scopes, ", ") + "; identity " + t.IdentitySource + "; " + expires
}
