package web

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"postern/internal/model"
	"postern/views"
	"postern/views/components"
)

const (
	accessDecisionsPerPage = 50
	// deviceDecisionsShown is how many recent decisions a device's page
	// lists.
	deviceDecisionsShown = 5
)

// accessDecisions lists the enforcement API's recorded decisions, newest
// first, filtered and paged (docs/decision-log.md).
func (s *Server) accessDecisions(c echo.Context) error {
	ctx := c.Request().Context()
	q, f := decisionsQuery(c)
	pg := components.Pager{Page: q.Page, PerPage: accessDecisionsPerPage}
	f.Limit, f.Offset = pg.PerPage, pg.Offset()
	ds, total, err := s.store.Decisions(ctx, f)
	if err != nil {
		return err
	}
	pg.Total = total
	tokens, err := s.tokenOptions(ctx)
	if err != nil {
		return err
	}
	p := views.AccessDecisionsPage{Chrome: s.chrome(c, "Access decisions", "access-decisions"), Query: q, Pager: pg,
		Checks: s.checkOptions(), Tokens: tokens, Rows: decisionRows(ds), Retention: s.decisionDays}
	return render(c, http.StatusOK, views.AccessDecisions(p))
}

// decisionsQuery reads the filters; the dates are whole UTC days, "to"
// included.
func decisionsQuery(c echo.Context) (views.DecisionsQuery, model.DecisionFilter) {
	var q views.DecisionsQuery
	var f model.DecisionFilter
	q.Page = components.ParsePage(c.QueryParam("page"))
	q.Device, f.DeviceID = filterText(c, "device"), filterText(c, "device")
	q.Host, f.Hostname = filterText(c, "host"), filterText(c, "host")
	if id, err := strconv.ParseInt(c.QueryParam("check"), 10, 64); err == nil && id > 0 {
		q.Check, f.CheckID = strconv.FormatInt(id, 10), id
	}
	if r := c.QueryParam("result"); slices.Contains(model.DecisionResults, r) {
		q.Result, f.Result = r, r
	}
	if id, err := strconv.ParseInt(c.QueryParam("token"), 10, 64); err == nil && id > 0 {
		q.Token, f.TokenID = strconv.FormatInt(id, 10), id
	}
	if d, err := time.Parse(time.DateOnly, c.QueryParam("from")); err == nil {
		q.From, f.Since = d.Format(time.DateOnly), d
	}
	if d, err := time.Parse(time.DateOnly, c.QueryParam("to")); err == nil {
		q.To, f.Until = d.Format(time.DateOnly), d.AddDate(0, 0, 1)
	}
	return q, f
}

// tokenOptions are the API tokens, revoked ones too (their decisions are
// still in the log), for the token filter.
func (s *Server) tokenOptions(ctx context.Context) ([]components.FilterOption, error) {
	ts, err := s.store.APITokens(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]components.FilterOption, 0, len(ts))
	for _, t := range ts {
		label := t.Name
		if t.RevokedAt != nil {
			label += " (revoked)"
		}
		out = append(out, components.FilterOption{Value: strconv.FormatInt(t.ID, 10), Label: label})
	}
	return out, nil
}

func decisionRows(ds []model.Decision) []views.DecisionRow {
	rows := make([]views.DecisionRow, len(ds))
	for i, d := range ds {
		rows[i] = views.DecisionRow{At: d.At, DeviceID: d.DeviceID, Host: d.Hostname, MatchedBy: d.MatchedBy, MatchedKey: d.MatchedKey,
			Result: d.Result, Checks: d.Checks, Token: d.TokenName, Source: d.Source}
	}
	return rows
}

// deviceDecisions fills the device page's recent decisions.
func (s *Server) deviceDecisions(ctx context.Context, p *views.DeviceDetailPage) error {
	ds, total, err := s.store.Decisions(ctx, model.DecisionFilter{DeviceID: p.ID, Limit: deviceDecisionsShown})
	if err != nil {
		return err
	}
	p.ShowDecisions, p.Decisions, p.DecisionsTotal = true, decisionRows(ds), total
	return nil
}
