package web

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
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

// The sign-in's second step. After a correct password, an admin with
// two-factor on holds a session that names them only as pending: it
// carries no admin id (loadSession finds nobody signed in), so every
// console route sends it to sign in, and only the code step and its
// cancel answer it. It lasts codeStepTimeout.
const (
	codeStepPath    = "/login/code"
	codeCancelPath  = "/login/cancel"
	codeStepTimeout = 5 * time.Minute

	sessionPendingAdmin = "mfa_pending_admin" // the admin's id, as text
	sessionPendingSince = "mfa_pending_since" // Unix seconds, as text
)

// codeFailed is the one message for a wrong, used or expired code.
const codeFailed = "That code did not work. Enter the current code from your authenticator app, or one of your recovery codes."

// startCodeStep turns the session into a pending one for a, on a fresh id.
func (s *Server) startCodeStep(c echo.Context, a *model.Admin, next string) error {
	sess := session(c)
	for k := range sess.Values {
		delete(sess.Values, k)
	}
	sess.Values[sessionPendingAdmin] = strconv.FormatInt(a.ID, 10)
	sess.Values[sessionPendingSince] = strconv.FormatInt(s.now().Unix(), 10)
	if next != "/" {
		sess.Values[sessionReturn] = next
	}
	return s.sessions.Rotate(c.Request(), c.Response(), sess)
}

// pendingAdmin is the admin the session waits for a code from, if any,
// still enabled and with two-factor on, within codeStepTimeout. expired
// is true when there was one whose time ran out.
func (s *Server) pendingAdmin(c echo.Context) (a model.Admin, ok, expired bool) {
	sess := session(c)
	if sess == nil {
		return a, false, false
	}
	idText, _ := sess.Values[sessionPendingAdmin].(string)
	sinceText, _ := sess.Values[sessionPendingSince].(string)
	id, err1 := strconv.ParseInt(idText, 10, 64)
	since, err2 := strconv.ParseInt(sinceText, 10, 64)
	if err1 != nil || err2 != nil || id == 0 {
		return a, false, false
	}
	if age := s.now().Sub(time.Unix(since, 0)); age < 0 || age > codeStepTimeout {
		return a, false, true
	}
	a, err := s.store.Admin(c.Request().Context(), id)
	if err != nil || !a.Enabled() || !a.Role.Valid() || !a.MFAEnabled() {
		return model.Admin{}, false, false
	}
	return a, true, false
}

// endPending drops the session (a pending one: nothing else is in it).
func (s *Server) endPending(c echo.Context) error {
	sess := session(c)
	sess.Options.MaxAge = -1
	return s.sessions.Save(c.Request(), c.Response(), sess)
}

// codePage is the second step for a: the code form when they have an
// authenticator app, "Use a passkey" when they have a passkey.
func (s *Server) codePage(c echo.Context, a model.Admin, msg string) views.LoginCodePage {
	title := "Enter your two-factor code"
	if !a.TOTPEnabled() {
		title = "Use your passkey"
	}
	return views.LoginCodePage{Chrome: s.chrome(c, title, ""), Error: msg, TOTP: a.TOTPEnabled(), Passkey: a.Passkeys > 0}
}

// codeStepForm asks for the code; without a pending sign-in it sends the
// browser to sign in.
func (s *Server) codeStepForm(c echo.Context) error {
	if _, ok := currentAdmin(c); ok {
		return c.Redirect(http.StatusSeeOther, "/")
	}
	a, ok, expired := s.pendingAdmin(c)
	if !ok {
		return s.codeStepGone(c, expired)
	}
	return render(c, http.StatusOK, views.LoginCode(s.codePage(c, a, "")))
}

func (s *Server) codeStepGone(c echo.Context, expired bool) error {
	if session(c) != nil && !session(c).IsNew {
		if err := s.endPending(c); err != nil {
			return err
		}
	}
	if expired {
		return redirect(c, "/login?notice=code-expired")
	}
	return redirect(c, "/login")
}

// codeStepSave checks the code under the login limiter (per admin and per
// address; the password's success does not reset the admin's count, so a
// known password buys no fresh guesses), then signs the admin in on a
// fresh session.
func (s *Server) codeStepSave(c echo.Context) error {
	a, ok, expired := s.pendingAdmin(c)
	if !ok {
		return s.codeStepGone(c, expired)
	}
	codeKey, ipKey := auth.SecondFactorKey(a.ID), auth.AddressKey(c.RealIP())
	ok, wait, err := s.limiter.Attempt(c.Request().Context(), codeKey, ipKey)
	if err != nil {
		s.logger(c).Error("sign-in limiter", "err", err)
		return render(c, http.StatusServiceUnavailable, views.LoginCode(s.codePage(c, a, apperr.MessageOf(err))))
	}
	if !ok {
		s.auditAs(c, actor.Anonymous, audit.LoginRateLimited, a.Email, audit.Denied, "too many failed two-factor codes")
		c.Response().Header().Set("Retry-After", fmt.Sprint(int(math.Ceil(wait.Seconds()))))
		msg := fmt.Sprintf("Too many failed codes. Wait %s and try again.", minutes(wait))
		return render(c, http.StatusTooManyRequests, views.LoginCode(s.codePage(c, a, msg)))
	}
	v, err := s.mfa.Verify(c.Request().Context(), a, c.Request().PostFormValue("code"))
	if err != nil {
		if !errors.Is(err, auth.ErrCodeRefused) {
			s.refund(c, codeKey, ipKey)
			return err
		}
		s.record(c, audit.As(actor.Actor{Email: a.Email, Role: a.Role}, audit.LoginCode, a.Email), audit.Failure, "two-factor code refused")
		return render(c, http.StatusUnauthorized, views.LoginCode(s.codePage(c, a, codeFailed)))
	}
	s.refund(c, ipKey)
	s.resetLimit(c, codeKey)
	next := wantedReturn(c)
	detail := "password and two-factor code"
	if v.Recovery {
		detail = "password and a recovery code"
	}
	if err := s.signIn(c, &a, detail); err != nil {
		return err
	}
	if v.Recovery {
		msg := "You signed in with a recovery code; it no longer works. " + strconv.Itoa(v.RecoveryLeft) + " left. Make new ones on your account page if you are running low."
		if err := flash(c, components.FlashWarning, msg); err != nil {
			return err
		}
	}
	return redirect(c, next)
}

// codeStepCancel ends a pending sign-in: the sign-out of the code step.
func (s *Server) codeStepCancel(c echo.Context) error {
	if sess := session(c); sess != nil && !sess.IsNew {
		if err := s.endPending(c); err != nil {
			return err
		}
	}
	return redirect(c, "/login")
}
