package web

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"postern/internal/apperr"
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
			CreatedBy: t.CreatedBy, LastUsedAt: t.LastUsedAt, RevokedAt: t.RevokedAt, IdentitySource: t.IdentitySource})
	}
	return render(c, status, views.APITokens(p))
}

// apiTokens lists the tokens.
func (s *Server) apiTokens(c echo.Context) error {
	return s.apiTokensPage(c, http.StatusOK, views.APITokensPage{})
}

// apiTokenCreate makes a token and shows it once, in this answer only.
func (s *Server) apiTokenCreate(c echo.Context) error {
	name := strings.TrimSpace(c.Request().PostFormValue("name"))
	source := c.Request().PostFormValue("identity_source")
	token, _, err := s.tokens.Create(c.Request().Context(), name, source)
	if fields := apperr.FieldsOf(err); fields != nil {
		return s.apiTokensPage(c, http.StatusUnprocessableEntity, views.APITokensPage{Name: name, NameError: fields["name"],
			IdentitySource: source, IdentitySourceError: fields["identity_source"]})
	}
	if err != nil {
		return err
	}
	return s.apiTokensPage(c, http.StatusOK, views.APITokensPage{NewToken: token, NewName: name})
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

// ctxToken holds the id of the API token a request presented to
// forward-auth, ctxTokenSource its identity source.
const (
	ctxToken       = "api_token"
	ctxTokenSource = "api_token_source"
)

// requireToken admits requests that carry an active API token as a bearer
// token. Session cookies do not count here.
func (s *Server) requireToken(next echo.HandlerFunc) echo.HandlerFunc {
	return s.tokenFrom(false, next)
}

// requireGatewayToken is requireToken for forward-auth, which also takes
// the token as X-Postern-Token: Traefik's ForwardAuth cannot add an
// Authorization header and Envoy forwards the client's own. When
// X-Postern-Token is present it alone counts.
func (s *Server) requireGatewayToken(next echo.HandlerFunc) echo.HandlerFunc {
	return s.tokenFrom(true, next)
}

func (s *Server) tokenFrom(header bool, next echo.HandlerFunc) echo.HandlerFunc {
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
		id, source, ok := s.tokens.VerifySource(strings.TrimSpace(token))
		if !ok {
			c.Response().Header().Set("WWW-Authenticate", `Bearer realm="postern", error="invalid_token"`)
			return c.JSON(http.StatusUnauthorized, map[string]string{"error": "the API token is unknown or revoked"})
		}
		if header { // evaluate's hot path spares the context map
			c.Set(ctxToken, id)
			c.Set(ctxTokenSource, source)
		}
		return next(c)
	}
}
