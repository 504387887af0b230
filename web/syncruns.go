package web

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"postern/internal/apperr"
	"postern/internal/model"
	"postern/internal/syncer"
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
		rows[i] = syncRunRow(r)
	}
	p := views.SyncRunsPage{Chrome: s.chrome(c, "Sync runs", "sync-runs"), Rows: rows, Pager: pg}
	return render(c, http.StatusOK, views.SyncRuns(p))
}

// runDevicesShown is how many devices of each kind a run's page lists.
const runDevicesShown = 200

// syncRun shows one run and what it changed: the devices it added,
// changed and removed.
func (s *Server) syncRun(c echo.Context) error {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id < 1 {
		return echo.NewHTTPError(http.StatusNotFound)
	}
	ctx := c.Request().Context()
	run, err := s.store.SyncRun(ctx, id)
	if err != nil {
		return err
	}
	ch, err := s.store.RunDevices(ctx, run, runDevicesShown)
	if err != nil {
		return err
	}
	row := func(d model.Device) views.RunDevice {
		return views.RunDevice{ID: d.ID, Href: deviceURL(d.ID), Host: d.Host, Platform: d.OSPlatform}
	}
	p := views.SyncRunPage{Chrome: s.chrome(c, "Sync run #"+strconv.FormatInt(id, 10), "sync-runs"),
		Run: syncRunRow(run), Limit: runDevicesShown}
	if run.Held() {
		last, err := s.store.LastRun(ctx, run.Integration, model.RunSuccess, model.RunHeld)
		if err != nil {
			return err
		}
		p.Held = heldRun(run, last.ID == run.ID)
	}
	for _, d := range ch.Added {
		p.Added = append(p.Added, row(d))
	}
	for _, d := range ch.Changed {
		p.Changed = append(p.Changed, row(d))
	}
	for _, d := range ch.Removed {
		p.Removed = append(p.Removed, row(d))
	}
	return render(c, http.StatusOK, views.SyncRun(p))
}

func syncRunRow(r model.SyncRun) views.SyncRunRow {
	if r.Outcome == model.RunHeld {
		// The Outcome badge says Held: the note need not say it again.
		r.Error = syncer.HeldReason(r.Error)
	}
	return views.SyncRunRow{ID: r.ID, Trigger: r.Trigger, StartedAt: r.StartedAt, FinishedAt: r.FinishedAt,
		Outcome: r.Outcome, Pages: r.Pages, Seen: r.Seen, Added: r.Added, Changed: r.Changed, Removed: r.Removed,
		ThrottledWaits: r.ThrottledWaits, Error: r.Error, ErrorCode: r.ErrorCode, Unreadable: r.Unreadable, Note: r.Note,
		Missing: r.Missing, Active: r.Active, AcceptedBy: r.AcceptedBy, AcceptedAt: r.AcceptedAt}
}

// heldRun is what the card and the run's page show of a held run; latest
// says whether it is the last listing, which alone may be accepted.
func heldRun(r model.SyncRun, latest bool) *views.HeldRun {
	if !r.Held() {
		return nil
	}
	return &views.HeldRun{ID: r.ID, Note: syncer.HeldReason(r.Error), Missing: r.Missing, Active: r.Active, Acceptable: latest}
}

// syncRunAccept accepts a held run's removal (Accept removal on the card
// or the run's page), then shows the run.
func (s *Server) syncRunAccept(c echo.Context) error {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id < 1 {
		return echo.NewHTTPError(http.StatusNotFound)
	}
	run, err := s.syncer.AcceptRemoval(c.Request().Context(), id)
	kind, msg := components.FlashSuccess, fmt.Sprintf("Removal accepted: %s devices marked removed. A sync has started to bring the rest up to date.", views.Count(run.Removed))
	if err != nil {
		if !apperr.Is(err, apperr.Conflict) {
			return err
		}
		kind, msg = components.FlashWarning, apperr.MessageOf(err)
	}
	if err := flash(c, kind, msg); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/sync-runs/"+strconv.FormatInt(id, 10))
}
