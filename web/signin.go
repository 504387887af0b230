package web

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"postern/internal/actor"
	"postern/internal/apperr"
	"postern/internal/audit"
	"postern/internal/defender"
	"postern/internal/secret"
	"postern/internal/signin"
	"postern/views"
	"postern/views/components"
)

// The paths of Sign in with Microsoft: the start and the callback are
// public, like the login page.
const (
	microsoftStartPath    = views.MicrosoftStartPath
	microsoftCallbackPath = views.MicrosoftStartPath + "/callback"
	signInLocalPath       = views.SignInPath + "/local"
)

// sessionPending is the session key of a sign-in with Microsoft under way.
const sessionPending = "sso_pending"

// pendingSignIn is what the session keeps between the start and the
// callback: the state, nonce and PKCE verifier, and the page to return to.
type pendingSignIn struct {
	signin.Pending
	Next string `json:"next"`
}

// redirectURI is the callback URL as this request reached the console: the
// value to register on the Entra app.
func (s *Server) redirectURI(c echo.Context) string {
	return s.origin(c) + microsoftCallbackPath
}

// origin is the console's origin as this request reached it: the scheme
// (https behind a trusted proxy that says so) and the Host.
func (s *Server) origin(c echo.Context) string {
	scheme := "http"
	if s.isHTTPS(c.Request()) {
		scheme = "https"
	}
	return scheme + "://" + c.Request().Host
}

// microsoftStart keeps a fresh state, nonce and PKCE verifier in the
// browser's session and sends the browser to Microsoft.
func (s *Server) microsoftStart(c echo.Context) error {
	if _, ok := currentAdmin(c); ok {
		return c.Redirect(http.StatusSeeOther, wantedReturn(c))
	}
	next := wantedReturn(c)
	pend, u, err := s.signin.Begin(c.Request().Context(), s.redirectURI(c))
	if err != nil {
		return s.loginRefused(c, http.StatusServiceUnavailable, err)
	}
	b, err := json.Marshal(pendingSignIn{Pending: pend, Next: next})
	if err != nil {
		return err
	}
	sess := session(c)
	sess.Values[sessionPending] = string(b)
	if err := sess.Save(c.Request(), c.Response()); err != nil {
		return err
	}
	return c.Redirect(http.StatusFound, u)
}

// microsoftCallback takes the pending sign-in out of the session (so that
// it is used once, whatever happens next), lets the service verify what
// Microsoft sent, and signs the admin in on a fresh session.
func (s *Server) microsoftCallback(c echo.Context) error {
	sess := session(c)
	var pend *pendingSignIn
	if v, ok := sess.Values[sessionPending].(string); ok {
		pend = &pendingSignIn{}
		if json.Unmarshal([]byte(v), pend) != nil {
			pend = nil
		}
		delete(sess.Values, sessionPending)
		if err := sess.Save(c.Request(), c.Response()); err != nil {
			return err
		}
	}
	cb := signin.Callback{State: c.QueryParam("state"), Code: c.QueryParam("code"), Error: c.QueryParam("error"),
		RedirectURL: s.redirectURI(c), IP: c.RealIP()}
	var p *signin.Pending
	next := "/"
	if pend != nil {
		p, next = &pend.Pending, returnPath(pend.Next)
	}
	a, err := s.signin.Finish(c.Request().Context(), p, cb)
	if err != nil {
		status := http.StatusUnauthorized
		switch apperr.KindOf(err) {
		case apperr.Forbidden:
			status = http.StatusForbidden
		case apperr.Unavailable: // Microsoft Graph busy or down: try again
			status = http.StatusServiceUnavailable
		}
		return s.loginRefused(c, status, err)
	}
	if err := s.startSession(c, &a, viaMicrosoft); err != nil {
		return err
	}
	return redirect(c, next)
}

// loginRefused shows the sign-in page with err's message (never its cause).
func (s *Server) loginRefused(c echo.Context, status int, err error) error {
	msg := apperr.MessageOf(err)
	if apperr.KindOf(err) == apperr.Internal {
		s.logger(c).Error("sign in with Microsoft", "err", err)
		msg = "Sign in with Microsoft failed on Postern's side. Try again; the server log has the cause."
	}
	return render(c, status, views.Login(s.loginPage(c, "", msg)))
}

// signInSettings shows Settings → Sign-in.
func (s *Server) signInSettings(c echo.Context) error {
	return s.signInPage(c, http.StatusOK, nil, "")
}

func (s *Server) signInPage(c echo.Context, status int, form *signin.Input, localErr string, errs ...map[string]string) error {
	ctx := c.Request().Context()
	st, err := s.signin.Settings(ctx)
	if err != nil {
		return err
	}
	p := views.SignInPage{Chrome: s.chrome(c, "Sign-in", "sign-in"), Configured: st.Configured, TenantID: st.TenantID,
		ClientID: st.ClientID, SecretSet: st.SecretSet, Cloud: st.Cloud, AutoProvision: st.AutoProvision, Version: st.Version,
		ConfiguredBy: st.ConfiguredBy, UpdatedAt: st.UpdatedAt, RedirectURI: s.redirectURI(c), LocalSignIn: st.LocalSignIn,
		LocalError: localErr}
	for _, o := range defender.Clouds {
		p.Clouds = append(p.Clouds, views.Option{Value: o.Value, Label: o.Label})
	}
	for _, r := range actor.AdminRoles {
		p.Roles = append(p.Roles, views.SignInRole{Role: string(r), Label: r.Label(),
			AppRoles: signin.MappingText(st.RoleMap.AppRoles, r), Groups: signin.MappingText(st.RoleMap.Groups, r)})
	}
	if form != nil { // a refused submit: show what was typed (never the secret)
		p.TenantID, p.ClientID, p.Cloud, p.AutoProvision = form.TenantID, form.ClientID, form.Cloud, form.AutoProvision
		for i, r := range actor.AdminRoles {
			p.Roles[i].AppRoles, p.Roles[i].Groups = form.AppRoles[r], form.Groups[r]
		}
	}
	if len(errs) > 0 {
		p.Errors = errs[0]
	}
	if p.SSOOwner, err = s.ssoOwner(c, st); err != nil {
		return err
	}
	return render(c, status, views.SignIn(p))
}

// ssoOwner reports whether an enabled Owner of the configured tenant has
// signed in with Microsoft (turning passwords off needs one).
func (s *Server) ssoOwner(c echo.Context, st signin.Settings) (bool, error) {
	list, err := s.store.Admins(c.Request().Context())
	for _, a := range list {
		if a.Role == actor.Owner && a.Enabled() && a.SSOSignInAt != nil && a.EntraTenantID == st.TenantID {
			return true, err
		}
	}
	return false, err
}

// signInSave stores Settings → Sign-in through the service.
func (s *Server) signInSave(c echo.Context) error {
	r := c.Request()
	version, _ := strconv.ParseInt(r.PostFormValue(signin.FieldVersion), 10, 64)
	in := signin.Input{TenantID: r.PostFormValue(signin.FieldTenantID), ClientID: r.PostFormValue(signin.FieldClientID),
		ClientSecret: secret.Redacted(r.PostFormValue(signin.FieldClientSecret)), Cloud: r.PostFormValue(signin.FieldCloud),
		AutoProvision: r.PostFormValue(signin.FieldAutoProvision) == "on", Version: version,
		AppRoles: map[actor.Role]string{}, Groups: map[actor.Role]string{}}
	for _, role := range actor.AdminRoles {
		in.AppRoles[role], in.Groups[role] = r.PostFormValue(signin.FieldAppRoles(role)), r.PostFormValue(signin.FieldGroups(role))
	}
	err := s.signin.Save(r.Context(), in)
	if fields := apperr.FieldsOf(err); fields != nil {
		return s.signInPage(c, http.StatusUnprocessableEntity, &in, "", fields)
	}
	if apperr.Is(err, apperr.Conflict) {
		return s.signInPage(c, http.StatusConflict, &in, "", map[string]string{"form": apperr.MessageOf(err)})
	}
	if err != nil {
		return err
	}
	if err := flash(c, components.FlashSuccess, "Sign in with Microsoft saved."); err != nil {
		return err
	}
	return redirect(c, views.SignInPath)
}

// signInLocal turns password sign-in off or on through the service.
func (s *Server) signInLocal(c echo.Context) error {
	enabled := c.Request().PostFormValue("enabled") == "true"
	err := s.signin.SetLocalSignIn(c.Request().Context(), enabled)
	if apperr.Is(err, apperr.Conflict) {
		return s.signInPage(c, http.StatusConflict, nil, apperr.MessageOf(err))
	}
	if err != nil {
		return err
	}
	text := "Password sign-in is off: admins sign in with Microsoft."
	if enabled {
		text = "Password sign-in is on."
	}
	if err := flash(c, components.FlashSuccess, text); err != nil {
		return err
	}
	return redirect(c, views.SignInPath)
}

// passwordsOff refuses the password form while an Owner has turned it off.
func (s *Server) passwordsOff(c echo.Context, email string) (bool, error) {
	on, err := s.signin.LocalSignInAllowed(c.Request().Context())
	if err != nil || on {
		return false, err
	}
	s.auditAs(c, actor.Anonymous, audit.Login, email, audit.Failure, "password sign-in is turned off")
	return true, nil
}
