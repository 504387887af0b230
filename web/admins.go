package web

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"postern/internal/actor"
	"postern/internal/apperr"
	"postern/internal/auth"
	"postern/internal/signin"
	"postern/views"
	"postern/views/components"
)

const adminsPath = "/settings/admins"

func (s *Server) adminsPage(c echo.Context, status int, p views.AdminsPage) error {
	list, err := s.store.Admins(c.Request().Context())
	if err != nil {
		return err
	}
	p.Chrome = s.chrome(c, "Admins", "admins")
	if st, err := s.signin.Settings(c.Request().Context()); err == nil {
		p.Microsoft = st.Configured
	} else {
		return err
	}
	me, _ := currentAdmin(c)
	for _, a := range list {
		p.Admins = append(p.Admins, views.AdminRow{ID: a.ID, Email: a.Email, Role: string(a.Role), RoleLabel: a.Role.Label(),
			Enabled: a.Enabled(), CreatedAt: a.CreatedAt, LastSignInAt: a.LastSignInAt, You: a.ID == me.ID,
			Microsoft: a.EntraObjectID != "", MFA: a.MFAEnabled()})
	}
	if p.MFARequired, err = s.mfa.Required(c.Request().Context()); err != nil {
		return err
	}
	for _, r := range actor.AdminRoles {
		p.Roles = append(p.Roles, views.RoleOption{Value: string(r), Label: r.Label()})
	}
	return render(c, status, views.Admins(p))
}

// admins lists the admin accounts.
func (s *Server) adminsList(c echo.Context) error {
	return s.adminsPage(c, http.StatusOK, views.AdminsPage{})
}

// adminCreate makes an admin and shows the initial password once, in this
// answer only.
func (s *Server) adminCreate(c echo.Context) error {
	email := strings.TrimSpace(c.Request().PostFormValue("email"))
	role := actor.Role(c.Request().PostFormValue("role"))
	if oid := strings.TrimSpace(c.Request().PostFormValue(signin.FieldObjectID)); oid != "" {
		return s.adminCreateMicrosoft(c, email, oid, role)
	}
	password, a, err := s.admins.Create(c.Request().Context(), email, role)
	if fields := apperr.FieldsOf(err); fields != nil {
		return s.adminsPage(c, http.StatusUnprocessableEntity, views.AdminsPage{Email: email, Role: string(role),
			EmailError: fields["email"], RoleError: fields["role"]})
	}
	if err != nil {
		return err
	}
	return s.adminsPage(c, http.StatusOK, views.AdminsPage{NewEmail: a.Email, NewPassword: password})
}

// adminCreateMicrosoft makes an admin who signs in with Microsoft as the
// Entra user oid: no password to show.
func (s *Server) adminCreateMicrosoft(c echo.Context, email, oid string, role actor.Role) error {
	a, err := s.signin.AddAdmin(c.Request().Context(), email, oid, role)
	if fields := apperr.FieldsOf(err); fields != nil {
		return s.adminsPage(c, http.StatusUnprocessableEntity, views.AdminsPage{Email: email, Role: string(role), EntraOID: oid,
			EmailError: fields["email"], RoleError: fields["role"], EntraOIDError: fields[signin.FieldObjectID]})
	}
	if err != nil {
		return err
	}
	if err := flash(c, components.FlashSuccess, "Admin "+a.Email+" created: they sign in with Microsoft."); err != nil {
		return err
	}
	return redirect(c, adminsPath)
}

func adminID(c echo.Context) (int64, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		return 0, echo.NewHTTPError(http.StatusNotFound)
	}
	return id, nil
}

// adminRole changes an admin's role.
func (s *Server) adminRole(c echo.Context) error {
	id, err := adminID(c)
	if err != nil {
		return err
	}
	a, err := s.admins.SetRole(c.Request().Context(), id, actor.Role(c.Request().PostFormValue("role")))
	if err != nil {
		return s.adminRefused(c, err)
	}
	return s.adminDone(c, a.Email+" is now "+a.Role.Label()+".")
}

// adminDisable disables an admin and ends their sessions.
func (s *Server) adminDisable(c echo.Context) error { return s.adminSetDisabled(c, true) }

// adminEnable lets a disabled admin sign in again.
func (s *Server) adminEnable(c echo.Context) error { return s.adminSetDisabled(c, false) }

func (s *Server) adminSetDisabled(c echo.Context, disabled bool) error {
	id, err := adminID(c)
	if err != nil {
		return err
	}
	a, err := s.admins.SetDisabled(c.Request().Context(), id, disabled)
	if err != nil {
		return s.adminRefused(c, err)
	}
	if disabled {
		return s.adminDone(c, a.Email+" is disabled and signed out everywhere.")
	}
	return s.adminDone(c, a.Email+" can sign in again.")
}

// adminDelete deletes an admin and ends their sessions.
func (s *Server) adminDelete(c echo.Context) error {
	id, err := adminID(c)
	if err != nil {
		return err
	}
	a, err := s.admins.Delete(c.Request().Context(), id)
	if err != nil {
		return s.adminRefused(c, err)
	}
	return s.adminDone(c, a.Email+" is deleted and signed out everywhere.")
}

// adminRefused shows a refusal the Owner can act on (the last Owner, their
// own account, a bad role) as a flash on the list; anything else is the
// error handler's.
func (s *Server) adminRefused(c echo.Context, err error) error {
	if !apperr.Is(err, apperr.Conflict) && !apperr.Is(err, apperr.Invalid) {
		return err
	}
	msg := apperr.MessageOf(err)
	if f := apperr.FieldsOf(err); f != nil {
		msg = f["role"]
	}
	if err := flash(c, components.FlashError, msg); err != nil {
		return err
	}
	return redirect(c, adminsPath)
}

func (s *Server) adminDone(c echo.Context, msg string) error {
	if err := flash(c, components.FlashSuccess, msg); err != nil {
		return err
	}
	return redirect(c, adminsPath)
}

// adminSessions lists one admin's sessions.
func (s *Server) adminSessions(c echo.Context) error {
	id, err := adminID(c)
	if err != nil {
		return err
	}
	a, list, err := s.admins.Sessions(c.Request().Context(), id)
	if err != nil {
		return err
	}
	p := views.AdminSessionsPage{Chrome: s.chrome(c, "Sessions of "+a.Email, "admins"), AdminID: a.ID, Email: a.Email}
	for _, ss := range list {
		p.Sessions = append(p.Sessions, views.SessionRow{Ref: auth.SessionRef(ss), CreatedAt: ss.CreatedAt, LastSeenAt: ss.LastSeenAt})
	}
	return render(c, http.StatusOK, views.AdminSessions(p))
}

// adminSessionEnd ends one session of the admin in the URL; a session of
// another admin is NotFound and ends nothing.
func (s *Server) adminSessionEnd(c echo.Context) error { return s.endSessions(c, c.Param("sid")) }

// adminSessionsEnd ends every session of the admin in the URL.
func (s *Server) adminSessionsEnd(c echo.Context) error { return s.endSessions(c, "") }

func (s *Server) endSessions(c echo.Context, ref string) error {
	id, err := adminID(c)
	if err != nil {
		return err
	}
	n, err := s.admins.EndSessions(c.Request().Context(), id, ref)
	if err != nil {
		return err
	}
	if err := flash(c, components.FlashSuccess, strconv.Itoa(n)+" session(s) ended."); err != nil {
		return err
	}
	return redirect(c, adminsPath+"/"+strconv.FormatInt(id, 10)+"/sessions")
}
