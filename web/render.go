package web

import (
	"bytes"
	"net/http"
	"strings"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"postern/views"
)

// render writes a component with status. It renders into a buffer first so
// that a template error becomes a clean 500, not half a page.
func render(c echo.Context, status int, comp templ.Component) error {
	var buf bytes.Buffer
	if err := comp.Render(c.Request().Context(), &buf); err != nil {
		return err
	}
	return c.HTMLBlob(status, buf.Bytes())
}

// chrome fills the frame every page needs and consumes pending flashes.
func (s *Server) chrome(c echo.Context, title, nav string) views.Chrome {
	ch := views.Chrome{Title: title, Nav: nav, CSRF: csrfToken(c), Now: s.now()}
	if a, ok := currentAdmin(c); ok {
		ch.Admin, ch.Role = a.Email, a.Role.Label()
		ch.Can = func(method, path string) bool { return can(a.Role, method, path) }
		ch.Outage = s.outage()
	}
	if sess := session(c); sess != nil && !sess.IsNew {
		if fs := sess.Flashes(); len(fs) > 0 {
			for _, f := range fs {
				if str, ok := f.(string); ok {
					kind, text, _ := strings.Cut(str, "|")
					ch.Flashes = append(ch.Flashes, views.Flash{Kind: kind, Text: text})
				}
			}
			if err := sess.Save(c.Request(), c.Response()); err != nil {
				s.logger(c).Error("save session after reading flashes", "err", err)
			}
		}
	}
	return ch
}

// flash queues a message for the next page this admin sees.
func flash(c echo.Context, kind, text string) error {
	sess := session(c)
	if sess == nil {
		return nil
	}
	sess.AddFlash(kind + "|" + text)
	return sess.Save(c.Request(), c.Response())
}

// redirect sends the browser on after a successful POST; htmx requests get
// HX-Redirect so the whole page changes, not a fragment.
func redirect(c echo.Context, to string) error {
	if c.Request().Header.Get("HX-Request") == "true" {
		c.Response().Header().Set("HX-Redirect", to)
		return c.NoContent(http.StatusNoContent)
	}
	return c.Redirect(http.StatusSeeOther, to)
}
