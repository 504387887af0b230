package web

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"postern/views"
	"postern/views/components"
)

const syncRunsPerPage = 50

// syncRuns lists the sync history, newest first.
func (s *Server) syncRuns(c echo.Context) error {
	pg := components.Pager{Page: components.ParsePage(c.QueryParam("page")), PerPage: syncRunsPerPage}
	runs, total, err := s.store.SyncRuns(c.Request().Context(), pg.PerPage, pg.Offset())
	if err != nil {
		return err
	}
	pg.Total = total
	rows := make([]views.SyncRunRow, len(runs))
	for i, r := range runs {
		rows[i] = views.SyncRunRow{ID: r.ID, Trigger: r.Trigger, StartedAt: r.StartedAt, FinishedAt: r.FinishedAt,
			Outcome: r.Outcome, Pages: r.Pages, Seen: r.Seen, Added: r.Added, Changed: r.Changed, Removed: r.Removed,
			ThrottledWaits: r.ThrottledWaits, Error: r.Error, ErrorCode: r.ErrorCode}
	}
	p := views.SyncRunsPage{Chrome: s.chrome(c, "Sync runs", "sync-runs"), Rows: rows, Pager: pg}
	return render(c, http.StatusOK, views.SyncRuns(p))
}
