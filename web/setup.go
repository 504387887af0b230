package web

import (
	"net/http"
	"net/mail"
	"strings"

	"github.com/labstack/echo/v4"

	"postern/internal/apperr"
	"postern/internal/audit"
	"postern/internal/auth"
	"postern/views"
	"postern/views/components"
)

// setupForm is the first-run page; it exists only while no admin does.
func (s *Server) setupForm(c echo.Context) error {
	if err := s.setupOpen(c); err != nil {
		return err
	}
	return render(c, http.StatusOK, views.Setup(views.SetupPage{Chrome: s.chrome(c, "Create the first admin account", "")}))
}

func (s *Server) setupOpen(c echo.Context) error {
	n, err := s.store.AdminCount(c.Request().Context())
	if err != nil {
		return err
	}
	if n > 0 {
		return echo.NewHTTPError(http.StatusNotFound)
	}
	return nil
}

// setupInput is the first-admin form.
type setupInput struct {
	Email    string `form:"email"`
	Password string `form:"password"`
	Confirm  string `form:"confirm"`
}

// Validate returns field → message for every problem.
func (in *setupInput) Validate() map[string]string {
	errs := map[string]string{}
	in.Email = strings.TrimSpace(in.Email)
	if msg := checkEmail(in.Email); msg != "" {
		errs["email"] = msg
	}
	if msg := auth.CheckPasswordPolicy(in.Password); msg != "" {
		errs["password"] = msg
	} else if in.Confirm != in.Password {
		errs["confirm"] = "The two passwords do not match."
	}
	return errs
}

func checkEmail(email string) string {
	if email == "" {
		return "Enter the email address you will sign in with."
	}
	a, err := mail.ParseAddress(email)
	if err != nil || a.Address != email || len(email) > 254 {
		return "Enter an email address such as admin@example.com."
	}
	return ""
}

// setupSave creates the first admin and signs them in.
func (s *Server) setupSave(c echo.Context) error {
	if err := s.setupOpen(c); err != nil {
		return err
	}
	var in setupInput
	if err := c.Bind(&in); err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, "The form could not be read.")
	}
	if errs := in.Validate(); len(errs) > 0 {
		p := views.SetupPage{Chrome: s.chrome(c, "Create the first admin account", ""), Email: in.Email, Errors: errs}
		return render(c, http.StatusUnprocessableEntity, views.Setup(p))
	}
	hash, err := auth.HashPassword(in.Password)
	if err != nil {
		return err
	}
	a, err := s.store.CreateFirstAdmin(c.Request().Context(), in.Email, hash)
	if apperr.Is(err, apperr.Conflict) {
		return echo.NewHTTPError(http.StatusNotFound)
	}
	if err != nil {
		return err
	}
	s.auditAs(c, a.Email, audit.AdminCreated, a.Email, audit.Success, "first admin account created at setup")
	s.logger(c).Info("first admin created", "admin", a.Email)
	// The new admin is signed in at once.
	if err := s.signIn(c, &a, "signed in at setup"); err != nil {
		return err
	}
	if err := flash(c, components.FlashSuccess, "Admin account created. You are signed in as "+a.Email+"."); err != nil {
		return err
	}
	return redirect(c, "/")
}
