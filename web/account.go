package web

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/boombuler/barcode/qr"
	"github.com/labstack/echo/v4"

	"postern/internal/apperr"
	"postern/internal/auth"
	"postern/internal/secret"
	"postern/views"
	"postern/views/components"
)

// Your account: every admin's own two-factor authentication.
const (
	accountPath    = "/account"
	accountMFAPath = "/account/mfa"
	requireMFAPath = adminsPath + "/require-mfa"
)

// accountRoutes are one's own account page and its two-factor forms.
func (s *Server) accountRoutes(app *echo.Group) {
	app.GET(accountPath, s.account)
	app.GET(accountMFAPath, s.accountMFAPending)
	app.POST(accountMFAPath, s.accountMFABegin)
	app.POST(accountMFAPath+"/confirm", s.accountMFAConfirm)
	app.POST(accountMFAPath+"/disable", s.accountMFADisable)
	app.POST(accountMFAPath+"/recovery-codes", s.accountRecoveryCodes)
	s.passkeyRoutes(app)
}

// enrolmentRoutes are what an admin without two-factor may use while it
// is required: the account page, enrolment and sign-out.
var enrolmentRoutes = map[string]bool{
	"GET " + accountPath: true, "GET " + accountMFAPath: true, "POST " + accountMFAPath: true,
	"POST " + accountMFAPath + "/confirm": true, "POST /logout": true,
	"POST " + accountPasskeysPath + "/options": true, "POST " + accountPasskeysPath: true,
}

// requireEnrolment sends an admin without two-factor to their account page
// while an Owner requires it of every local account: they can do nothing
// else until enrolled. A session signed in with Microsoft is not held:
// its second factor is Entra ID's, which Postern cannot see in a v2.0 id
// token (docs/admins.md#two-factor-and-sign-in-with-microsoft). The
// same account signing in with a password (break-glass) is held.
func (s *Server) requireEnrolment(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		a, _ := currentAdmin(c)
		if a.MFAEnabled() || signedInWithMicrosoft(c) || enrolmentRoutes[c.Request().Method+" "+c.Path()] {
			return next(c)
		}
		required, err := s.mfa.Required(c.Request().Context())
		if err != nil {
			return err
		}
		if !required {
			return next(c)
		}
		if c.Request().Header.Get("HX-Request") == "true" {
			c.Response().Header().Set("HX-Redirect", accountPath)
			return c.NoContent(http.StatusForbidden)
		}
		return c.Redirect(http.StatusSeeOther, accountPath)
	}
}

func (s *Server) accountPage(c echo.Context, status int, p views.AccountPage) error {
	ctx := c.Request().Context()
	me, _ := currentAdmin(c)
	p.Chrome = s.chrome(c, "Your account", "account")
	p.Email, p.Role = me.Email, me.Role.Label()
	p.MFAEnabledAt = me.MFAEnabledAt
	st, err := s.store.AdminMFA(ctx, me.ID)
	if err != nil {
		return err
	}
	p.MFAOn, p.RecoveryLeft = st.Enabled, st.RecoveryLeft
	if p.MFAOn && p.MFAEnabledAt == nil { // enrolled by this very request
		now := s.now()
		p.MFAEnabledAt = &now
	}
	if p.Required, err = s.mfa.Required(ctx); err != nil {
		return err
	}
	if p.Passkeys, err = s.passkeysView(c, me, p.Passkeys); err != nil {
		return err
	}
	p.ViaMicrosoft = signedInWithMicrosoft(c)
	return render(c, status, views.Account(p))
}

// account shows one's own account and its two-factor state.
func (s *Server) account(c echo.Context) error {
	return s.accountPage(c, http.StatusOK, views.AccountPage{})
}

// accountMFABegin starts enrolment (a new secret, pending) and shows it.
func (s *Server) accountMFABegin(c echo.Context) error {
	en, err := s.mfa.Begin(c.Request().Context())
	if apperr.Is(err, apperr.Conflict) {
		return s.accountFlash(c, components.FlashError, apperr.MessageOf(err))
	}
	if err != nil {
		return err
	}
	return s.accountPage(c, http.StatusOK, views.AccountPage{Enrolment: enrolmentView(en, "")})
}

// accountMFAPending shows the enrolment in progress again (a reload).
func (s *Server) accountMFAPending(c echo.Context) error {
	en, err := s.mfa.Pending(c.Request().Context())
	if apperr.Is(err, apperr.Conflict) {
		return c.Redirect(http.StatusSeeOther, accountPath)
	}
	if err != nil {
		return err
	}
	return s.accountPage(c, http.StatusOK, views.AccountPage{Enrolment: enrolmentView(en, "")})
}

// accountMFAConfirm completes enrolment with a code of the new secret and
// shows the recovery codes, in this answer only.
func (s *Server) accountMFAConfirm(c echo.Context) error {
	ctx := c.Request().Context()
	codes, err := s.mfa.Confirm(ctx, c.Request().PostFormValue("code"))
	if apperr.Is(err, apperr.Invalid) {
		en, perr := s.mfa.Pending(ctx)
		if perr != nil {
			return perr
		}
		return s.accountPage(c, http.StatusUnprocessableEntity, views.AccountPage{
			Enrolment: enrolmentView(en, "That code did not match. Enter the six-digit code your app shows now.")})
	}
	if apperr.Is(err, apperr.Conflict) {
		return s.accountFlash(c, components.FlashError, apperr.MessageOf(err))
	}
	if err != nil {
		return err
	}
	me, _ := currentAdmin(c)
	if fresh, err := s.store.Admin(ctx, me.ID); err == nil {
		s.setActor(c, &fresh)
	}
	return s.accountPage(c, http.StatusOK, views.AccountPage{RecoveryCodes: reveal(codes), Enrolled: true})
}

// accountMFADisable turns one's own two-factor off, with a code or the
// password, under the login limiter.
func (s *Server) accountMFADisable(c echo.Context) error {
	me, _ := currentAdmin(c)
	key := auth.SecondFactorKey(me.ID)
	ok, wait, err := s.limiter.Attempt(c.Request().Context(), key)
	if err != nil {
		return err
	}
	if !ok {
		return s.accountPage(c, http.StatusTooManyRequests, views.AccountPage{
			DisableError: "Too many failed attempts. Wait " + minutes(wait) + " and try again."})
	}
	f := c.Request()
	err = s.mfa.Disable(f.Context(), strings.TrimSpace(f.PostFormValue("code")), f.PostFormValue("password"))
	if apperr.Is(err, apperr.Invalid) {
		return s.accountPage(c, http.StatusUnprocessableEntity, views.AccountPage{DisableError: apperr.MessageOf(err)})
	}
	if err != nil {
		s.refund(c, key)
		return err
	}
	s.resetLimit(c, key)
	if me.Passkeys > 0 {
		return s.accountFlash(c, components.FlashSuccess, "Your authenticator app is turned off. You sign in with your password and a passkey.")
	}
	return s.accountFlash(c, components.FlashSuccess, "Two-factor authentication is off. You sign in with your password alone.")
}

// accountRecoveryCodes replaces one's recovery codes and shows the new
// ones, in this answer only.
func (s *Server) accountRecoveryCodes(c echo.Context) error {
	codes, err := s.mfa.NewRecoveryCodes(c.Request().Context())
	if apperr.Is(err, apperr.Conflict) {
		return s.accountFlash(c, components.FlashError, apperr.MessageOf(err))
	}
	if err != nil {
		return err
	}
	return s.accountPage(c, http.StatusOK, views.AccountPage{RecoveryCodes: reveal(codes)})
}

func (s *Server) accountFlash(c echo.Context, kind, msg string) error {
	if err := flash(c, kind, msg); err != nil {
		return err
	}
	return redirect(c, accountPath)
}

// adminMFAReset turns another admin's two-factor off (an Owner).
func (s *Server) adminMFAReset(c echo.Context) error {
	id, err := adminID(c)
	if err != nil {
		return err
	}
	a, err := s.mfa.Reset(c.Request().Context(), id)
	if apperr.Is(err, apperr.NotFound) {
		return echo.NewHTTPError(http.StatusNotFound)
	}
	if err != nil {
		return s.adminRefused(c, err)
	}
	return s.adminDone(c, "Two-factor authentication of "+a.Email+" is reset. They sign in with their password and set it up again.")
}

// requireMFASave turns the requirement for every local account on or off
// (an Owner).
func (s *Server) requireMFASave(c echo.Context) error {
	on := c.Request().PostFormValue("require") == "on"
	if err := s.mfa.SetRequired(c.Request().Context(), on); err != nil {
		return s.adminRefused(c, err)
	}
	if on {
		return s.adminDone(c, "Two-factor authentication is now required: admins without it set it up at their next page.")
	}
	return s.adminDone(c, "Two-factor authentication is no longer required.")
}

func reveal(codes []secret.Redacted) []string {
	out := make([]string, len(codes))
	for i, c := range codes {
		out[i] = c.Reveal()
	}
	return out
}

// enrolmentView is what the page shows of an enrolment in progress: the
// secret grouped by four for typing, and the QR code of its otpauth URL
// drawn as one SVG path (no image, no data: URL).
func enrolmentView(en auth.Enrolment, codeError string) *views.EnrolmentView {
	v := &views.EnrolmentView{CodeError: codeError}
	sec := en.Secret.Reveal()
	for i := 0; i < len(sec); i += 4 {
		v.Secret = append(v.Secret, sec[i:min(i+4, len(sec))])
	}
	v.QRPath, v.QRSize = qrPath(en.URL.Reveal())
	return v
}

// qrQuiet is the blank margin around a QR code, in modules (the standard's
// four).
const qrQuiet = 4

// qrPath draws content as a QR code (error correction M): an SVG path of
// one rectangle per run of dark modules, and the side of its viewBox in
// modules, quiet zone included. "" when it cannot be encoded.
func qrPath(content string) (string, int) {
	code, err := qr.Encode(content, qr.M, qr.Auto)
	if err != nil {
		return "", 0
	}
	b := code.Bounds()
	var d strings.Builder
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; {
			if !dark(code.At(x, y)) {
				x++
				continue
			}
			start := x
			for x < b.Max.X && dark(code.At(x, y)) {
				x++
			}
			d.WriteString("M" + strconv.Itoa(start-b.Min.X+qrQuiet) + " " + strconv.Itoa(y-b.Min.Y+qrQuiet) +
				"h" + strconv.Itoa(x-start) + "v1h-" + strconv.Itoa(x-start) + "z")
		}
	}
	return d.String(), b.Dx() + 2*qrQuiet
}

func dark(c interface{ RGBA() (r, g, b, a uint32) }) bool {
	r, _, _, _ := c.RGBA()
	return r < 0x8000
}
