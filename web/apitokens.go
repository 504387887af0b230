package web

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"postern/internal/apperr"
	"postern/internal/auth"
	"postern/internal/model"
	"postern/views"
	"postern/views/components"
)

func (s *Server) apiTokensPage(c echo.Context, status int, p views.APITokensPage) error {
	tokens, err := s.store.APITokens(c.Request().Context())
	if err != nil {
		return err
	}
	p.Chrome = s.chrome(c, "API tokens", "api-tokens")
	for _, t := range tokens {
		p.Tokens = append(p.Tokens, views.APITokenRow{ID: t.ID, Name: t.Name, Prefix: t.Prefix, CreatedAt: t.CreatedAt,
			CreatedBy: t.CreatedBy, LastUsedAt: t.LastUsedAt, RevokedAt: t.RevokedAt, IdentitySource: t.IdentitySource,
			Scopes: t.Scopes, ExpiresAt: t.ExpiresAt})
	}
	return render(c, status, views.APITokens(p))
}

// apiTokens lists the tokens.
func (s *Server) apiTokens(c echo.Context) error {
	return s.apiTokensPage(c, http.StatusOK, views.APITokensPage{})
}

// apiTokenCreate makes a token and shows it once, in this answer only,
// with a ready-to-copy curl command for each of its scopes. A form that
// sends no scopes_form (an older client, a script) gets the scopes tokens
// had before scopes: evaluate and metrics.
func (s *Server) apiTokenCreate(c echo.Context) error {
	r := c.Request()
	if err := r.ParseForm(); err != nil {
		return echo.NewHTTPError(http.StatusBadRequest)
	}
	req := auth.TokenRequest{Name: strings.TrimSpace(r.PostFormValue("name")), IdentitySource: r.PostFormValue("identity_source"),
		Scopes: r.PostForm["scope"], Expires: r.PostFormValue("expires"), ExpiresOn: strings.TrimSpace(r.PostFormValue("expires_on"))}
	if r.PostFormValue("scopes_form") == "" && len(req.Scopes) == 0 {
		req.Scopes = model.LegacyTokenScopes
	}
	token, row, err := s.tokens.Create(r.Context(), req)
	if fields := apperr.FieldsOf(err); fields != nil {
		scopes := req.Scopes
		if scopes == nil {
			scopes = []string{}
		}
		return s.apiTokensPage(c, http.StatusUnprocessableEntity, views.APITokensPage{Name: req.Name, NameError: fields["name"],
			IdentitySource: req.IdentitySource, IdentitySourceError: fields["identity_source"],
			Scopes: scopes, ScopesError: fields["scopes"], Expires: req.Expires, ExpiresOn: req.ExpiresOn, ExpiresError: fields["expires"]})
	}
	if err != nil {
		return err
	}
	return s.apiTokensPage(c, http.StatusOK, views.APITokensPage{NewToken: token, NewName: req.Name,
		NewCurl: curlLines(s.origin(c), token, row.Scopes)})
}

// curlLines are a command per scope that uses token against the console
// at origin (docs/api.md#token-scopes).
func curlLines(origin, token string, scopes []string) []views.CurlLine {
	head := "curl -sS -H " + shellQuote("Authorization: Bearer "+token)
	var out []views.CurlLine
	for _, sc := range scopes {
		var line string
		switch sc {
		case model.ScopeEvaluate:
			line = head + " -H 'Content-Type: application/json' -d '{\"device\":{\"hostname\":\"laptop-01\"}}' " +
				shellQuote(origin+"/api/v1/posture/evaluate")
		case model.ScopeMetrics:
			line = head + " " + shellQuote(origin+"/metrics")
		case model.ScopeRead:
			line = head + " " + shellQuote(origin+readChecksPath)
		default:
			continue
		}
		out = append(out, views.CurlLine{Scope: sc, Line: line})
	}
	return out
}

// shellQuote quotes s for a POSIX shell: single quotes, each ' spelled '\”.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// apiTokenRevoke revokes a token at once.
func (s *Server) apiTokenRevoke(c echo.Context) error {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		return echo.NewHTTPError(http.StatusNotFound)
	}
	t, err := s.tokens.Revoke(c.Request().Context(), id)
	if err != nil {
		return err
	}
	if err := flash(c, components.FlashSuccess, "Token “"+t.Name+"” is revoked. Requests that present it are refused."); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/settings/api-tokens")
}

// requireScope admits requests that carry an active, unexpired API token
// with scope as a bearer token. Session cookies do not count here. A
// missing, unknown, revoked or expired token is answered 401; a valid one
// without scope 403, naming the scope (docs/api.md#token-scopes).
func (s *Server) requireScope(scope string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc { return s.tokenFrom(false, scope, next) }
}

// requireGatewayToken is requireScope(evaluate) for forward-auth, which
// also takes the token as X-Postern-Token: Traefik's ForwardAuth cannot add
// an Authorization header and Envoy forwards the client's own. When
// X-Postern-Token is present it alone counts. A token without the evaluate
// scope is refused as forward-auth refuses, 403 with the reason.
func (s *Server) requireGatewayToken(next echo.HandlerFunc) echo.HandlerFunc {
	return s.tokenFrom(true, model.ScopeEvaluate, next)
}

func (s *Server) tokenFrom(header bool, scope string, next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		var token string
		ok := false
		if vs := c.Request().Header.Values(hdrToken); header && len(vs) > 0 {
			token, ok = vs[0], len(vs) == 1
		} else {
			var scheme string
			scheme, token, ok = strings.Cut(c.Request().Header.Get(echo.HeaderAuthorization), " ")
			ok = ok && strings.EqualFold(scheme, "Bearer")
		}
		if !ok {
			c.Response().Header().Set("WWW-Authenticate", `Bearer realm="postern"`)
			msg := "an API token is required: Authorization: Bearer <token>"
			if header {
				msg += " or X-Postern-Token: <token>"
			}
			return c.JSON(http.StatusUnauthorized, map[string]string{"error": msg})
		}
		id, source, verdict := s.tokens.Authorize(strings.TrimSpace(token), scope)
		switch verdict {
		case auth.TokenUnknown, auth.TokenExpired:
			c.Response().Header().Set("WWW-Authenticate", `Bearer realm="postern", error="invalid_token"`)
			msg := "the API token is unknown or revoked"
			if verdict == auth.TokenExpired {
				msg = "the API token has expired"
			}
			return c.JSON(http.StatusUnauthorized, map[string]string{"error": msg})
		case auth.TokenOutOfScope:
			msg := "the API token lacks the " + scope + " scope this endpoint needs"
			if header {
				return forwardDeny(c, msg)
			}
			c.Response().Header().Set("WWW-Authenticate", `Bearer realm="postern", error="insufficient_scope", scope="`+scope+`"`)
			return c.JSON(http.StatusForbidden, map[string]string{"error": msg})
		}
		if ri := infoOf(c.Request().Context()); ri != nil {
			ri.tokenID, ri.tokenSource = id, source
		}
		return next(c)
	}
}
