package web

import (
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"postern/views"
)

const syncRunsPerPage = 50

// syncRuns lists the sync history, newest first.
func (s *Server) syncRuns(c echo.Context) error {
	page, _ := strconv.Atoi(c.QueryParam("page"))
	page = max(page, 1)
	runs, total, err := s.store.SyncRuns(c.Request().Context(), syncRunsPerPage, (page-1)*syncRunsPerPage)
	if err != nil {
		return err
	}
	rows := make([]views.SyncRunRow, len(runs))
	for i, r := range runs {
		rows[i] = views.SyncRunRow{ID: r.ID, Trigger: r.Trigger, StartedAt: r.StartedAt, FinishedAt: r.FinishedAt,
			Outcome: r.Outcome, Pages: r.Pages, Seen: r.Seen, Added: r.Added, Changed: r.Changed, Removed: r.Removed,
			ThrottledWaits: r.ThrottledWaits, Error: r.Error, ErrorCode: r.ErrorCode}
	}
	p := views.SyncRunsPage{Chrome: s.chrome(c, "Sync runs", "integrations"), Rows: rows, Total: total, Page: page, PerPage: syncRunsPerPage}
	return render(c, http.StatusOK, views.SyncRuns(p))
}
