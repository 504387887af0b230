package web

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"postern/internal/apperr"
	"postern/internal/model"
	"postern/views"
	"postern/views/components"
)

const exceptionsPerPage = 50

// exceptions lists every exception, newest first: the active ones, or all
// of them with their status.
func (s *Server) exceptions(c echo.Context) error {
	ctx := c.Request().Context()
	show := ""
	if c.QueryParam("show") == views.ExceptionsShowAll {
		show = views.ExceptionsShowAll
	}
	now := s.now()
	var f model.ExceptionFilter
	if show == "" {
		f.ActiveAt = now
	}
	pg := components.Pager{Page: components.ParsePage(c.QueryParam("page")), PerPage: exceptionsPerPage}
	list, total, err := s.store.ExceptionPage(ctx, f, pg.PerPage, pg.Offset())
	if err != nil {
		return err
	}
	pg.Total = total
	names := map[int64]string{}
	for _, ch := range s.policy.Checks() {
		names[ch.ID] = ch.Name
	}
	p := views.ExceptionsPage{Chrome: s.chrome(c, "Exceptions", "exceptions"), Show: show, Pager: pg,
		Rows: make([]views.ExceptionListRow, len(list))}
	for i, x := range list {
		check := "All checks"
		if x.CheckID != 0 {
			check = x.CheckName
		}
		p.Rows[i] = views.ExceptionListRow{ID: x.ID, DeviceID: x.DeviceID, Host: x.Host, Check: check, Reason: x.Reason,
			CreatedBy: x.CreatedBy, CreatedAt: x.CreatedAt, ExpiresAt: x.ExpiresAt, Revoked: x.RevokedAt != nil,
			Expired: !x.ExpiresAt.After(now)}
	}
	return render(c, http.StatusOK, views.Exceptions(p))
}

// exceptionsRevoke ends an exception from the Exceptions page, through the
// same service (and audit entry) as the device page's Revoke, and comes
// back to the list it was on.
func (s *Server) exceptionsRevoke(c echo.Context) error {
	eid, err := strconv.ParseInt(c.Param("eid"), 10, 64)
	if err != nil {
		return echo.NewHTTPError(http.StatusNotFound)
	}
	if err := s.checks.RevokeException(c.Request().Context(), c.FormValue("device"), eid); err != nil {
		if apperr.Is(err, apperr.NotFound) {
			return echo.NewHTTPError(http.StatusNotFound)
		}
		return err
	}
	if err := flash(c, components.FlashSuccess, "Exception revoked."); err != nil {
		return err
	}
	back := c.FormValue("back")
	if !strings.HasPrefix(back, "/zero-trust/exceptions") || strings.ContainsAny(back, "\\\r\n") {
		back = "/zero-trust/exceptions"
	}
	return c.Redirect(http.StatusSeeOther, back)
}
