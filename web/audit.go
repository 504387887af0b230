package web

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"postern/internal/actor"
	"postern/internal/audit"
	"postern/views"
	"postern/views/components"
)

const auditPerPage = 50

// audit records an action by the request's actor (Anonymous before
// sign-in) from the client's address. A failure to record is logged,
// never shown.
func (s *Server) audit(c echo.Context, action, target, outcome, detail string) {
	s.record(c, audit.By(c.Request().Context(), action, target), outcome, detail)
}

// auditAs records an action by someone other than the request's actor,
// such as the admin an anonymous request just created.
func (s *Server) auditAs(c echo.Context, who, action, target, outcome, detail string) {
	s.record(c, audit.As(actor.Actor{Email: who}, action, target), outcome, detail)
}

func (s *Server) record(c echo.Context, e audit.Entry, outcome, detail string) {
	e.Outcome, e.Detail = outcome, detail
	if e.SourceIP == "" {
		e.SourceIP = c.RealIP()
	}
	if err := s.store.AppendAudit(c.Request().Context(), e); err != nil {
		s.logger(c).Error("append audit entry", "action", e.Action, "err", err)
	}
}

func auditFilter(c echo.Context) (audit.Filter, string, string) {
	action := strings.TrimSpace(c.QueryParam("action"))
	outcome := c.QueryParam("outcome")
	switch outcome {
	case audit.Success, audit.Failure, audit.Denied:
	default:
		outcome = ""
	}
	if len(action) > 100 {
		action = action[:100]
	}
	return audit.Filter{Action: &action, Outcome: &outcome}, action, outcome
}

// auditList shows the audit log, newest first, filtered and paged.
func (s *Server) auditList(c echo.Context) error {
	f, action, outcome := auditFilter(c)
	pg := components.Pager{Page: components.ParsePage(c.QueryParam("page")), PerPage: auditPerPage}
	f.Limit, f.Offset = pg.PerPage, pg.Offset()
	entries, total, err := s.store.AuditEntries(c.Request().Context(), f)
	if err != nil {
		return err
	}
	pg.Total = total
	rows := make([]views.AuditRow, len(entries))
	for i, e := range entries {
		rows[i] = views.AuditRow{At: e.At, Actor: e.Actor, SourceIP: e.SourceIP, Action: e.Action,
			Target: e.Target, Outcome: e.Outcome, Detail: e.Detail}
	}
	p := views.AuditPage{Chrome: s.chrome(c, "Audit log", "audit"), Rows: rows, Pager: pg,
		Action: action, Outcome: outcome}
	return render(c, http.StatusOK, views.Audit(p))
}

// auditCSV exports every entry matching the filters.
func (s *Server) auditCSV(c echo.Context) error {
	f, _, _ := auditFilter(c)
	entries, _, err := s.store.AuditEntries(c.Request().Context(), f)
	if err != nil {
		return err
	}
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, "text/csv; charset=utf-8")
	h.Set(echo.HeaderContentDisposition, `attachment; filename="postern-audit-`+s.now().Format("20060102-150405")+`.csv"`)
	c.Response().WriteHeader(http.StatusOK)
	return audit.WriteCSV(c.Response(), entries)
}
