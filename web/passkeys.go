package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"postern/internal/actor"
	"postern/internal/apperr"
	"postern/internal/audit"
	"postern/internal/auth"
	"postern/internal/model"
	"postern/views"
	"postern/views/components"
)

// Passkeys: adding one on the account page and using one at the sign-in's
// second step. Each ceremony is two requests from static/js/passkeys.js:
// the options (the challenge, kept server-side in the session) and the
// browser's answer (JSON), which takes the ceremony out of the session, so
// a challenge is answered once.
const (
	accountPasskeysPath = accountPath + "/passkeys"
	loginPasskeyPath    = "/login/passkey"

	sessionPasskey = "passkey_ceremony" // an auth.PasskeyCeremony, as JSON text

	// passkeyBodyMax bounds the browser's answer: a credential with its
	// attestation is a few kilobytes.
	passkeyBodyMax = 64 << 10
)

// passkeyRoutes are one's own passkeys (signed in).
func (s *Server) passkeyRoutes(app *echo.Group) {
	app.POST(accountPasskeysPath+"/options", s.passkeyAddOptions)
	app.POST(accountPasskeysPath, s.passkeyAdd)
	app.POST(accountPasskeysPath+"/:id/remove", s.passkeyRemove)
}

// rp is the relying party of this request: the console as the browser
// reached it, as redirectURI derives it.
func (s *Server) rp(c echo.Context) (auth.RP, error) {
	return auth.RPFor(c.Request().Host, s.isHTTPS(c.Request()))
}

// keepCeremony stores cer in the browser's (server-side) session.
func (s *Server) keepCeremony(c echo.Context, cer auth.PasskeyCeremony) error {
	b, err := json.Marshal(cer)
	if err != nil {
		return err
	}
	sess := session(c)
	sess.Values[sessionPasskey] = string(b)
	return sess.Save(c.Request(), c.Response())
}

// takeCeremony takes the ceremony out of the session, saved at once: a
// second answer to the same challenge finds none.
func (s *Server) takeCeremony(c echo.Context) (auth.PasskeyCeremony, bool, error) {
	var cer auth.PasskeyCeremony
	sess := session(c)
	raw, ok := sess.Values[sessionPasskey].(string)
	if !ok {
		return cer, false, nil
	}
	delete(sess.Values, sessionPasskey)
	if err := sess.Save(c.Request(), c.Response()); err != nil {
		return cer, false, err
	}
	return cer, json.Unmarshal([]byte(raw), &cer) == nil, nil
}

// passkeyJSON is the answer static/js/passkeys.js reads: where to go, or
// the message to show.
type passkeyJSON struct {
	Error    string `json:"error,omitempty"`
	Redirect string `json:"redirect,omitempty"`
}

func passkeyRefused(c echo.Context, status int, msg string) error {
	return c.JSON(status, passkeyJSON{Error: msg})
}

// wantsJSON tells the script's requests from a form posted without
// JavaScript, which cannot hold a ceremony.
func wantsJSON(c echo.Context) bool {
	return strings.HasPrefix(c.Request().Header.Get(echo.HeaderContentType), echo.MIMEApplicationJSON)
}

const passkeyNeedsScript = "Passkeys need JavaScript in your browser: turn it on for this site and try again."

// passkeyAddOptions starts adding a passkey named by the form's name.
func (s *Server) passkeyAddOptions(c echo.Context) error {
	rp, err := s.rp(c)
	if err != nil {
		return passkeyRefused(c, http.StatusConflict, apperr.MessageOf(err))
	}
	opts, cer, err := s.passkeys.BeginAdd(c.Request().Context(), rp, c.Request().PostFormValue("name"))
	if f := apperr.FieldsOf(err); f != nil {
		return passkeyRefused(c, http.StatusUnprocessableEntity, f["name"])
	}
	if apperr.Is(err, apperr.Conflict) {
		return passkeyRefused(c, http.StatusConflict, apperr.MessageOf(err))
	}
	if err != nil {
		return err
	}
	if err := s.keepCeremony(c, cer); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, opts)
}

// passkeyAdd checks the browser's new credential and stores it.
func (s *Server) passkeyAdd(c echo.Context) error {
	if !wantsJSON(c) {
		return s.accountPage(c, http.StatusUnprocessableEntity, views.AccountPage{
			Passkeys: &views.PasskeysView{Name: c.Request().PostFormValue("name"), AddError: passkeyNeedsScript}})
	}
	body, err := io.ReadAll(io.LimitReader(c.Request().Body, passkeyBodyMax))
	if err != nil {
		return err
	}
	cer, ok, err := s.takeCeremony(c)
	if err != nil {
		return err
	}
	if !ok {
		return passkeyRefused(c, http.StatusBadRequest, "This passkey request has expired or was already used. Start again.")
	}
	rp, err := s.rp(c)
	if err != nil {
		return passkeyRefused(c, http.StatusConflict, apperr.MessageOf(err))
	}
	pk, err := s.passkeys.FinishAdd(c.Request().Context(), rp, cer, body)
	if apperr.Is(err, apperr.Invalid) || apperr.Is(err, apperr.Conflict) {
		return passkeyRefused(c, http.StatusUnprocessableEntity, apperr.MessageOf(err))
	}
	if err != nil {
		return err
	}
	if err := flash(c, components.FlashSuccess, "Passkey “"+pk.Name+"” added. Postern offers it after your password when you sign in."); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, passkeyJSON{Redirect: accountPath})
}

// passkeyRemove removes one of one's passkeys, confirmed by the password,
// under the login limiter.
func (s *Server) passkeyRemove(c echo.Context) error {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		return echo.NewHTTPError(http.StatusNotFound)
	}
	me, _ := currentAdmin(c)
	key := auth.SecondFactorKey(me.ID)
	ok, wait, err := s.limiter.Attempt(c.Request().Context(), key)
	if err != nil {
		return err
	}
	if !ok {
		return s.accountPage(c, http.StatusTooManyRequests, views.AccountPage{
			Passkeys: &views.PasskeysView{RemoveID: id, RemoveError: "Too many failed attempts. Wait " + minutes(wait) + " and try again."}})
	}
	pk, err := s.passkeys.Remove(c.Request().Context(), id, c.Request().PostFormValue("password"))
	if apperr.Is(err, apperr.Invalid) {
		return s.accountPage(c, http.StatusUnprocessableEntity, views.AccountPage{
			Passkeys: &views.PasskeysView{RemoveID: id, RemoveError: apperr.MessageOf(err)}})
	}
	s.refund(c, key)
	if apperr.Is(err, apperr.NotFound) || apperr.Is(err, apperr.Conflict) {
		return s.accountFlash(c, components.FlashError, apperr.MessageOf(err))
	}
	if err != nil {
		return err
	}
	s.resetLimit(c, key)
	return s.accountFlash(c, components.FlashSuccess, "Passkey “"+pk.Name+"” removed. It no longer signs you in.")
}

// passkeysView is the Passkeys section for me at this request's address;
// in carries what a refused form keeps (the name typed, the errors).
func (s *Server) passkeysView(c echo.Context, me model.Admin, in *views.PasskeysView) (*views.PasskeysView, error) {
	if me.EntraObjectID != "" {
		return nil, nil
	}
	v := &views.PasskeysView{}
	if in != nil {
		v = in
	}
	list, err := s.passkeys.List(c.Request().Context())
	if err != nil {
		return nil, err
	}
	rp, rpErr := s.rp(c)
	if rpErr != nil {
		v.HostProblem = apperr.MessageOf(rpErr)
	}
	for _, p := range list {
		r := views.PasskeyRow{ID: p.ID, Name: p.Name, CreatedAt: p.CreatedAt, LastUsedAt: p.LastUsedAt, CloneWarning: p.CloneWarning}
		if rpErr == nil && p.RPID != rp.ID {
			r.Elsewhere = p.RPID
		}
		if p.ID == v.RemoveID {
			r.RemoveError = v.RemoveError
		}
		v.Rows = append(v.Rows, r)
	}
	return v, nil
}

// loginPasskeyOptions starts the check of a passkey at the code step.
func (s *Server) loginPasskeyOptions(c echo.Context) error {
	a, ok, expired := s.pendingAdmin(c)
	if !ok {
		return s.passkeyStepGone(c, expired)
	}
	rp, err := s.rp(c)
	if err != nil {
		return passkeyRefused(c, http.StatusConflict, apperr.MessageOf(err))
	}
	opts, cer, err := s.passkeys.BeginSignIn(c.Request().Context(), rp, a)
	if apperr.Is(err, apperr.Conflict) {
		return passkeyRefused(c, http.StatusConflict, apperr.MessageOf(err))
	}
	if err != nil {
		return err
	}
	if err := s.keepCeremony(c, cer); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, opts)
}

// passkeyStepGone answers the script when there is no sign-in waiting.
func (s *Server) passkeyStepGone(c echo.Context, expired bool) error {
	to := "/login"
	if expired {
		to = "/login?notice=code-expired"
	}
	if !wantsJSON(c) && !strings.Contains(c.Request().Header.Get(echo.HeaderAccept), echo.MIMEApplicationJSON) {
		return s.codeStepGone(c, expired)
	}
	return c.JSON(http.StatusUnauthorized, passkeyJSON{Error: "Your sign-in expired. Sign in again.", Redirect: to})
}

// loginPasskey checks the passkey's answer under the login limiter (the
// code's count: a passkey buys no fresh guesses), then signs the admin in
// on a fresh session.
func (s *Server) loginPasskey(c echo.Context) error {
	a, ok, expired := s.pendingAdmin(c)
	if !ok {
		return s.passkeyStepGone(c, expired)
	}
	if !wantsJSON(c) {
		return render(c, http.StatusUnprocessableEntity, views.LoginCode(s.codePage(c, a, passkeyNeedsScript)))
	}
	codeKey, ipKey := auth.SecondFactorKey(a.ID), auth.AddressKey(c.RealIP())
	ok, wait, err := s.limiter.Attempt(c.Request().Context(), codeKey, ipKey)
	if err != nil {
		s.logger(c).Error("sign-in limiter", "err", err)
		return passkeyRefused(c, http.StatusServiceUnavailable, apperr.MessageOf(err))
	}
	if !ok {
		s.auditAs(c, actor.Anonymous, audit.LoginRateLimited, a.Email, audit.Denied, "too many failed two-factor attempts")
		c.Response().Header().Set("Retry-After", fmt.Sprint(int(math.Ceil(wait.Seconds()))))
		return passkeyRefused(c, http.StatusTooManyRequests, "Too many failed attempts. Wait "+minutes(wait)+" and try again.")
	}
	body, err := io.ReadAll(io.LimitReader(c.Request().Body, passkeyBodyMax))
	if err != nil {
		return err
	}
	cer, _, err := s.takeCeremony(c)
	if err != nil {
		return err
	}
	pk, err := s.finishPasskeySignIn(c, a, cer, body)
	if err != nil {
		if !errors.Is(err, auth.ErrPasskeyRefused) && !apperr.Is(err, apperr.Invalid) && !apperr.Is(err, apperr.Conflict) {
			s.refund(c, codeKey, ipKey)
			return err
		}
		s.record(c, audit.As(actor.Actor{Email: a.Email, Role: a.Role}, audit.LoginPasskey, a.Email), audit.Failure,
			"passkey refused: "+apperr.MessageOf(err))
		return passkeyRefused(c, http.StatusUnauthorized, apperr.MessageOf(err))
	}
	s.refund(c, ipKey)
	s.resetLimit(c, codeKey)
	next := wantedReturn(c)
	if err := s.signIn(c, &a, "password and passkey “"+pk.Name+"”"); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, passkeyJSON{Redirect: next})
}

func (s *Server) finishPasskeySignIn(c echo.Context, a model.Admin, cer auth.PasskeyCeremony, body []byte) (model.Passkey, error) {
	rp, err := s.rp(c)
	if err != nil {
		return model.Passkey{}, err
	}
	return s.passkeys.FinishSignIn(c.Request().Context(), rp, a, cer, body)
}
