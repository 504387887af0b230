package web

import (
	"net/http"
	"strings"
	"time"

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

// maxFilterText bounds the free-text filters.
const maxFilterText = 100

func filterText(c echo.Context, name string) string {
	v := strings.TrimSpace(c.QueryParam(name))
	if len(v) > maxFilterText {
		v = v[:maxFilterText]
	}
	return v
}

// auditFilter reads the audit log's filters, keeping only values they
// offer; the dates are whole UTC days, "to" included.
func auditFilter(c echo.Context) (audit.Filter, views.AuditQuery) {
	q := views.AuditQuery{Action: filterText(c, "action"), Actor: filterText(c, "actor"), Target: filterText(c, "target")}
	switch o := c.QueryParam("outcome"); o {
	case audit.Success, audit.Failure, audit.Denied:
		q.Outcome = o
	}
	for _, cat := range audit.Categories {
		if c.QueryParam("category") == cat.Key {
			q.Category = cat.Key
		}
	}
	f := audit.Filter{Action: &q.Action, Actor: &q.Actor, Outcome: &q.Outcome, Target: q.Target, Category: q.Category}
	if d, err := time.Parse(time.DateOnly, c.QueryParam("from")); err == nil {
		q.From, f.Since = d.Format(time.DateOnly), d
	}
	if d, err := time.Parse(time.DateOnly, c.QueryParam("to")); err == nil {
		q.To, f.Until = d.Format(time.DateOnly), d.AddDate(0, 0, 1)
	}
	return f, q
}

// auditList shows the audit log, newest first, filtered and paged.
func (s *Server) auditList(c echo.Context) error {
	f, q := auditFilter(c)
	pg := components.Pager{Page: components.ParsePage(c.QueryParam("page")), PerPage: auditPerPage}
	f.Limit, f.Offset = pg.PerPage, pg.Offset()
	entries, total, err := s.store.AuditEntries(c.Request().Context(), f)
	if err != nil {
		return err
	}
	pg.Total = total
	var summaries []int64
	for _, e := range entries {
		if e.Action == audit.VerdictsChanged {
			summaries = append(summaries, e.ID)
		}
	}
	causes, err := s.store.CausesOfAudit(c.Request().Context(), summaries)
	if err != nil {
		return err
	}
	rows := make([]views.AuditRow, len(entries))
	snap := s.fleet.Load()
	for i, e := range entries {
		rows[i] = views.AuditRow{At: e.At, Actor: e.Actor, ActorRole: e.ActorRole.Label(), SourceIP: e.SourceIP, Action: e.Action,
			Category: audit.CategoryOf(e.Action), Target: e.Target, Outcome: e.Outcome, Detail: e.Detail}
		if d, ok := snap.ByID(e.Target); ok && d.Host != "" {
			rows[i].Host, rows[i].TargetHref = d.Host, deviceURL(d.ID)
		}
		if id, ok := causes[e.ID]; ok {
			rows[i].ChangesHref = views.AccessChangesURL(views.ChangesQuery{Cause: id})
		}
	}
	p := views.AuditPage{Chrome: s.chrome(c, "Audit log", "audit"), Rows: rows, Pager: pg, Query: q}
	return render(c, http.StatusOK, views.Audit(p))
}

// auditCSV exports every entry matching the filters, devices named by
// host name with their id.
func (s *Server) auditCSV(c echo.Context) error {
	f, _ := auditFilter(c)
	entries, _, err := s.store.AuditEntries(c.Request().Context(), f)
	if err != nil {
		return err
	}
	snap := s.fleet.Load()
	for i, e := range entries {
		if d, ok := snap.ByID(e.Target); ok && d.Host != "" {
			entries[i].Target = d.Host + " (" + e.Target + ")"
		}
	}
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, "text/csv; charset=utf-8")
	h.Set(echo.HeaderContentDisposition, `attachment; filename="postern-audit-`+s.now().Format("20060102-150405")+`.csv"`)
	c.Response().WriteHeader(http.StatusOK)
	return audit.WriteCSV(c.Response(), entries)
}
