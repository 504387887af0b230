package web

import (
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"postern/internal/model"
	"postern/internal/posture"
	"postern/views"
	"postern/views/components"
)

const accessChangesPerPage = 50

// accessChanges lists verdict changes across devices, newest first: the
// posture events the audit log sums up once per cause.
func (s *Server) accessChanges(c echo.Context) error {
	ctx := c.Request().Context()
	q, f := s.accessChangesQuery(c)
	pg := components.Pager{Page: q.Page, PerPage: accessChangesPerPage}
	f.Limit, f.Offset = pg.PerPage, pg.Offset()
	entries, total, err := s.store.HistoryPage(ctx, f)
	if err != nil {
		return err
	}
	pg.Total = total
	p := views.AccessChangesPage{Chrome: s.chrome(c, "Access changes", "access-changes"), Query: q, Pager: pg,
		Checks: s.checkOptions(), Rows: s.changeRows(entries)}
	if f.CauseID != 0 {
		cause, err := s.store.Cause(ctx, f.CauseID)
		if err != nil {
			return err
		}
		p.Cause = views.CauseLink{Label: cause.Label, Href: causeHref(cause)}
	}
	if d, ok := s.fleet.Load().ByID(q.Device); ok {
		p.Host = d.Host
	}
	return render(c, http.StatusOK, views.AccessChanges(p))
}

// accessChangesQuery reads the filters, keeping only values the filters
// offer.
func (s *Server) accessChangesQuery(c echo.Context) (views.ChangesQuery, model.HistoryFilter) {
	var q views.ChangesQuery
	var f model.HistoryFilter
	q.Page = components.ParsePage(c.QueryParam("page"))
	if v := c.QueryParam("check"); v == views.OverallCheck {
		q.Check, f.CheckID = v, new(int64)
	} else if id, err := strconv.ParseInt(v, 10, 64); err == nil && id > 0 {
		q.Check, f.CheckID = v, &id
	}
	if from, to, ok := strings.Cut(c.QueryParam("change"), views.ChangeSep); ok && isResult(from) && isResult(to) {
		q.Change, f.From, f.To = from+views.ChangeSep+to, from, to
	}
	if k := c.QueryParam("kind"); slices.Contains(model.CauseKinds, k) {
		q.Kind, f.CauseKind = k, k
	}
	if id, err := strconv.ParseInt(c.QueryParam("cause"), 10, 64); err == nil && id > 0 {
		q.Cause, f.CauseID = id, id
	}
	if d := filterText(c, "device"); d != "" {
		q.Device, f.DeviceID = d, d
	}
	return q, f
}

func isResult(r string) bool {
	return r == string(posture.Pass) || r == string(posture.Fail) || r == string(posture.Unknown)
}

// checkOptions are the checks in force, for filters.
func (s *Server) checkOptions() []components.FilterOption {
	var out []components.FilterOption
	for _, ch := range s.policy.Checks() {
		out = append(out, components.FilterOption{Value: strconv.FormatInt(ch.ID, 10), Label: ch.Name})
	}
	return out
}

// changeRows shows history entries with their device's host name and a
// link to their cause.
func (s *Server) changeRows(entries []model.HistoryEntry) []views.ChangeRow {
	snap := s.fleet.Load()
	rows := make([]views.ChangeRow, len(entries))
	for i, h := range entries {
		host := ""
		if d, ok := snap.ByID(h.DeviceID); ok {
			host = d.Host
		}
		rows[i] = views.ChangeRow{At: h.At, DeviceID: h.DeviceID, Host: host, Check: h.CheckName, Overall: h.CheckID == 0,
			From: h.From, To: h.To, Signal: h.Signal, Reasons: h.Reasons,
			Cause: views.CauseLink{Label: h.Cause.Label, Href: causeHref(h.Cause)}}
	}
	return rows
}

// causeHref links a cause to what it names: the sync runs, the check, the
// device's exceptions, the integration. "" when there is nothing to open.
func causeHref(c model.Cause) string {
	switch c.Kind {
	case model.CauseSyncRun:
		return "/sync-runs"
	case model.CauseCheckCreated, model.CauseCheckUpdated:
		return "/zero-trust/posture-checks/" + c.Ref
	case model.CauseExceptionCreated, model.CauseExceptionRevoked, model.CauseExceptionExpired:
		return deviceURL(c.Ref) + "#exceptions"
	case model.CauseIntegrationEnabled, model.CauseIntegrationDisabled, model.CauseDataStale, model.CauseOutageGraceEnded:
		return "/settings/integrations"
	}
	return ""
}
