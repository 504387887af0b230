package web

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"postern/internal/actor"
	"postern/internal/apperr"
	"postern/internal/audit"
	"postern/internal/auth"
	"postern/internal/model"
	"postern/views"
	"postern/views/components"
)

// loginFailed is the one message for an unknown account and a wrong password.
const loginFailed = "Incorrect email or password."

// notices are the fixed messages a redirect to /login may ask for; the query
// string only picks one, so it cannot inject text.
var notices = map[string]views.Flash{
	"signed-out":   {Kind: components.FlashInfo, Text: "You have signed out."},
	"code-expired": {Kind: components.FlashInfo, Text: "The sign-in waited too long for a code. Sign in again."},
}

// loginForm shows the sign-in page, or setup on a fresh install.
func (s *Server) loginForm(c echo.Context) error {
	if _, ok := currentAdmin(c); ok {
		return c.Redirect(http.StatusSeeOther, wantedReturn(c))
	}
	if _, ok, _ := s.pendingAdmin(c); ok {
		return c.Redirect(http.StatusSeeOther, codeStepPath)
	}
	n, err := s.store.AdminCount(c.Request().Context())
	if err != nil {
		return err
	}
	if n == 0 {
		return c.Redirect(http.StatusSeeOther, "/setup")
	}
	return render(c, http.StatusOK, views.Login(s.loginPage(c, "", "")))
}

func (s *Server) loginPage(c echo.Context, email, msg string) views.LoginPage {
	p := views.LoginPage{Chrome: s.chrome(c, "Sign in", ""), Email: email, Error: msg}
	if st, err := s.signin.Settings(c.Request().Context()); err == nil {
		p.Microsoft, p.PasswordsOff = st.Configured, !st.LocalSignIn
	} else {
		s.logger(c).Error("read the sign-in settings", "err", err)
	}
	if next := wantedReturn(c); next != "/" {
		p.Next = next
	}
	if f, ok := notices[c.QueryParam("notice")]; ok && msg == "" {
		p.Flashes = append(p.Flashes, f)
	}
	return p
}

type loginInput struct {
	Email    string `form:"email"`
	Password string `form:"password"`
}

// loginSave checks the password under the rate limit, then starts a fresh
// session (a new id: any id planted before sign-in is dropped).
func (s *Server) loginSave(c echo.Context) error {
	var in loginInput
	if err := c.Bind(&in); err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, "The form could not be read.")
	}
	email := strings.ToLower(strings.TrimSpace(in.Email))
	if len(email) > 254 {
		email = email[:254]
	}
	acctKey, ipKey := "account:"+email, auth.AddressKey(c.RealIP())
	target := email
	if checkEmail(email) != "" {
		target = "(not an email address)" // never store what may be a mistyped password
	}
	if off, err := s.passwordsOff(c, target); off || err != nil {
		if err != nil {
			return err
		}
		return render(c, http.StatusForbidden, views.Login(s.loginPage(c, "", "Password sign-in is turned off. Sign in with Microsoft.")))
	}
	ok, wait, err := s.limiter.Attempt(c.Request().Context(), acctKey, ipKey)
	if err != nil {
		s.logger(c).Error("sign-in limiter", "err", err)
		return render(c, http.StatusServiceUnavailable, views.Login(s.loginPage(c, in.Email, apperr.MessageOf(err))))
	}
	if !ok {
		s.auditAs(c, actor.Anonymous, audit.LoginRateLimited, target, audit.Denied, "too many failed sign-ins")
		c.Response().Header().Set("Retry-After", fmt.Sprint(int(math.Ceil(wait.Seconds()))))
		msg := fmt.Sprintf("Too many failed sign-ins. Wait %s and try again.", minutes(wait))
		return render(c, http.StatusTooManyRequests, views.Login(s.loginPage(c, in.Email, msg)))
	}
	a, err := s.authenticate(c, email, in.Password)
	if err != nil {
		if !errors.Is(err, auth.ErrMismatch) && !apperr.Is(err, apperr.NotFound) {
			s.refund(c, acctKey, ipKey)
			return err
		}
		s.auditAs(c, actor.Anonymous, audit.Login, target, audit.Failure, "incorrect email or password")
		return render(c, http.StatusUnauthorized, views.Login(s.loginPage(c, in.Email, loginFailed)))
	}
	s.refund(c, ipKey)
	s.resetLimit(c, acctKey)
	next := wantedReturn(c) // read before the new session drops the old values
	if a.MFAEnabled() {
		// Nothing is reachable until the code: the session names the
		// admin as pending only.
		if err := s.startCodeStep(c, &a, next); err != nil {
			return err
		}
		s.record(c, audit.As(actor.Actor{Email: a.Email, Role: a.Role}, audit.LoginPassword, a.Email), audit.Success,
			"password correct; two-factor code asked")
		return redirect(c, codeStepPath)
	}
	if err := s.signIn(c, &a, ""); err != nil {
		return err
	}
	return redirect(c, next)
}

// signIn ends a local sign-in (a password, with a code or a passkey when
// the admin has one): a fresh session for a, the audit entry, whose detail
// names the factors, and the admin's last sign-in.
func (s *Server) signIn(c echo.Context, a *model.Admin, detail string) error {
	if err := s.startSession(c, a, ""); err != nil {
		return err
	}
	s.audit(c, audit.Login, a.Email, audit.Success, detail)
	if err := s.store.RecordSignIn(c.Request().Context(), a.ID); err != nil {
		s.logger(c).Error("record sign-in", "err", err)
	}
	return nil
}

// startSession signs a in on a fresh session (a new id: any id planted
// before sign-in is dropped); via names how (viaMicrosoft, or "" for a
// password, with or without a code).
func (s *Server) startSession(c echo.Context, a *model.Admin, via string) error {
	sess := session(c)
	for k := range sess.Values {
		delete(sess.Values, k)
	}
	auth.SetAdminID(sess, a.ID)
	if via != "" {
		sess.Values[sessionVia] = via
	}
	if err := s.sessions.Rotate(c.Request(), c.Response(), sess); err != nil {
		return err
	}
	s.setActor(c, a)
	return nil
}

// returnPath is where sign-in leads: the page that was asked for when it
// is a path of this site, otherwise the dashboard. Absolute URLs,
// scheme-relative ones (//host, /\host, which browsers read as //host) and
// anything with control characters are refused.
func returnPath(next string) string {
	if next == "" || len(next) > 2048 || next[0] != '/' || strings.HasPrefix(next, "//") ||
		strings.ContainsAny(next, "\\\x00\r\n\t") {
		return "/"
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" ||
		u.Path == "/login" || u.Path == "/logout" || u.Path == "/setup" {
		return "/"
	}
	for _, r := range next {
		if r < 0x20 || r == 0x7f {
			return "/"
		}
	}
	return next
}

// sessionVia is the session key saying how the admin signed in:
// viaMicrosoft for Sign in with Microsoft, absent for a password. Local
// two-factor is asked of password sessions only, whatever the account.
const (
	sessionVia   = "signed_in_with"
	viaMicrosoft = "microsoft"
)

// signedInWithMicrosoft reports whether this session began with Sign in
// with Microsoft, whose second factor is Entra ID's (Conditional Access).
func signedInWithMicrosoft(c echo.Context) bool {
	sess := session(c)
	if sess == nil {
		return false
	}
	v, _ := sess.Values[sessionVia].(string)
	return v == viaMicrosoft
}

// sessionReturn is the session key of the page to return to after sign-in.
const sessionReturn = "return_to"

// rememberReturn keeps the page a signed-out admin asked for (a GET of a
// page) in the session, for sign-in to return to.
func rememberReturn(c echo.Context) {
	r, sess := c.Request(), session(c)
	if sess == nil || r.Method != http.MethodGet || returnPath(r.URL.RequestURI()) == "/" {
		return
	}
	sess.Values[sessionReturn] = r.URL.RequestURI()
	if err := sess.Save(r, c.Response()); err != nil {
		c.Logger().Error(err) // sign-in still works; it returns to the dashboard
	}
}

// wantedReturn is where sign-in should lead: the next parameter (the form
// or the query), else the page remembered in the session, both checked by
// returnPath.
func wantedReturn(c echo.Context) string {
	if next := c.FormValue("next"); next != "" {
		return returnPath(next)
	}
	if sess := session(c); sess != nil {
		if v, ok := sess.Values[sessionReturn].(string); ok {
			return returnPath(v)
		}
	}
	return "/"
}

// authenticate spends the same time whether or not the account exists.
func (s *Server) authenticate(c echo.Context, email, password string) (model.Admin, error) {
	if email == "" || len(password) > auth.MaxPasswordBytes {
		return model.Admin{}, auth.VerifyNothing(password)
	}
	a, err := s.store.AdminByEmail(c.Request().Context(), email)
	if apperr.Is(err, apperr.NotFound) {
		return model.Admin{}, auth.VerifyNothing(password)
	}
	if err != nil {
		return model.Admin{}, err
	}
	if a.PasswordHash == "" { // signs in with Microsoft only
		return model.Admin{}, auth.VerifyNothing(password)
	}
	if err := auth.VerifyPassword(a.PasswordHash, password); err != nil {
		return model.Admin{}, err
	}
	if !a.Enabled() {
		// A disabled account reads as a wrong password: the form does not
		// tell who has an account.
		return model.Admin{}, auth.ErrMismatch
	}
	return a, nil
}

// logout revokes the session on the server, expires the cookie and asks the
// browser to forget what it cached for this origin.
func (s *Server) logout(c echo.Context) error {
	s.audit(c, audit.Logout, "", audit.Success, "")
	sess := session(c)
	sess.Options.MaxAge = -1
	if err := s.sessions.Save(c.Request(), c.Response(), sess); err != nil {
		return err
	}
	c.Response().Header().Set("Clear-Site-Data", `"cache", "cookies", "storage"`)
	return redirect(c, "/login?notice=signed-out")
}

func minutes(d time.Duration) string {
	m := int(math.Ceil(d.Minutes()))
	if m <= 1 {
		return "a minute"
	}
	return fmt.Sprintf("%d minutes", m)
}

// refund takes back the attempts counted against keys; resetLimit forgets
// key's failures. The sign-in they follow has succeeded or failed for
// another reason already: a database that does not answer here is logged
// (the attempts stay counted and leave the window in fifteen minutes).
func (s *Server) refund(c echo.Context, keys ...string) {
	if err := s.limiter.Refund(c.Request().Context(), keys...); err != nil {
		s.logger(c).Error("sign-in limiter: refund", "err", err)
	}
}

func (s *Server) resetLimit(c echo.Context, key string) {
	if err := s.limiter.Reset(c.Request().Context(), key); err != nil {
		s.logger(c).Error("sign-in limiter: reset", "err", err)
	}
}
