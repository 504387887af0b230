package web

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"postern/internal/apperr"
	"postern/internal/model"
	"postern/internal/policy"
	"postern/views"
	"postern/views/components"
)

// devicePosture builds the posture part of a device's page: verdicts from
// the engine (as the API would answer), exceptions and history.
func (s *Server) devicePosture(c echo.Context, id string) (views.DevicePostureView, error) {
	ctx := c.Request().Context()
	now := s.now()
	v := views.DevicePostureView{DeviceID: id, CSRF: csrfToken(c), Now: now, Allowed: true,
		CanChange: allowedTo(c, http.MethodPost, "/devices/:id/exceptions")}
	names := map[int64]string{}
	for _, ch := range s.policy.Checks() {
		names[ch.ID] = ch.Name
		v.CheckOptions = append(v.CheckOptions, views.Option{Value: strconv.FormatInt(ch.ID, 10), Label: ch.Name})
	}
	if d, ok := s.fleet.Load().ByID(id); ok {
		dec := s.policy.DeviceDecision(d)
		v.Allowed = dec.Allowed
		for _, r := range dec.Checks {
			v.Checks = append(v.Checks, views.PostureRow{CheckID: r.ID, Name: r.Name, Mode: r.Mode, Result: string(r.Result),
				Reasons: r.Reasons, Excepted: r.Excepted})
		}
	}
	exc, err := s.store.Exceptions(ctx, model.ExceptionFilter{DeviceID: id})
	if err != nil {
		return v, err
	}
	v.Exceptions = s.exceptionRows(exc, names, now)
	hist, err := s.store.History(ctx, id, 50)
	if err != nil {
		return v, err
	}
	for _, h := range hist {
		v.History = append(v.History, views.HistoryRow{At: h.At, Check: h.CheckName, From: h.From, To: h.To, Reasons: h.Reasons,
			Signal: h.Signal, Cause: views.CauseLink{Label: h.Cause.Label, Href: causeHref(h.Cause)}})
	}
	return v, nil
}

func (s *Server) exceptionRows(exc []model.Exception, names map[int64]string, now time.Time) []views.ExceptionRow {
	snap := s.fleet.Load()
	rows := make([]views.ExceptionRow, 0, len(exc))
	for _, e := range exc {
		check := "All checks"
		if e.CheckID != 0 {
			check = names[e.CheckID]
		}
		device := e.DeviceID
		if d, ok := snap.ByID(e.DeviceID); ok && d.Host != "" {
			device = d.Host
		}
		rows = append(rows, views.ExceptionRow{ID: e.ID, DeviceID: e.DeviceID, Device: device, Check: check, Reason: e.Reason,
			ExpiresAt: e.ExpiresAt, CreatedBy: e.CreatedBy, CreatedAt: e.CreatedAt, Revoked: e.RevokedAt != nil,
			Expired: !e.ExpiresAt.After(now)})
	}
	return rows
}

// exceptionCreate adds an exception for a device; the service checks the
// form, and a refused one is shown again with its problems.
func (s *Server) exceptionCreate(c echo.Context) error {
	id := c.Param("id")
	r := c.Request()
	form := views.DevicePostureView{FormCheck: r.PostFormValue("check_id"), FormReason: strings.TrimSpace(r.PostFormValue("reason")),
		FormExpires: strings.TrimSpace(r.PostFormValue("expires_on"))}
	x, err := s.checks.CreateException(r.Context(), policy.ExceptionInput{DeviceID: id, CheckID: form.FormCheck,
		Reason: form.FormReason, ExpiresOn: form.FormExpires})
	if fields := apperr.FieldsOf(err); fields != nil {
		return s.renderDevice(c, id, http.StatusUnprocessableEntity, &form, fields)
	}
	if err != nil {
		return err
	}
	if err := flash(c, components.FlashSuccess, "Exception added until "+components.DateTime(x.ExpiresAt)+"."); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, deviceURL(id)+"#exceptions")
}

// exceptionRevoke ends an exception early.
func (s *Server) exceptionRevoke(c echo.Context) error {
	eid, err := strconv.ParseInt(c.Param("eid"), 10, 64)
	if err != nil {
		return echo.NewHTTPError(http.StatusNotFound)
	}
	id := c.Param("id")
	if err := s.checks.RevokeException(c.Request().Context(), id, eid); err != nil {
		if apperr.Is(err, apperr.NotFound) {
			return echo.NewHTTPError(http.StatusNotFound)
		}
		return err
	}
	if err := flash(c, components.FlashSuccess, "Exception revoked."); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, deviceURL(id)+"#exceptions")
}
