package web

import (
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"postern/internal/apperr"
	"postern/internal/webhook"
	"postern/internal/webhook/events"
	"postern/views"
	"postern/views/components"
)

// deliveriesShown is how many recent attempts an endpoint's page lists.
const deliveriesShown = 50

func webhookRow(ep webhook.Endpoint) views.WebhookRow {
	return views.WebhookRow{ID: ep.ID, URL: ep.Display(), Events: ep.EventTypes, Enabled: ep.Enabled, CreatedAt: ep.CreatedAt,
		CreatedBy: ep.CreatedBy, RotatedAt: ep.RotatedAt, Pending: ep.Pending}
}

func (s *Server) webhooksPage(c echo.Context, status int, p views.WebhooksPage) error {
	eps, err := s.webhooks.Endpoints(c.Request().Context())
	if err != nil {
		return err
	}
	p.Chrome = s.chrome(c, "Webhooks", "webhooks")
	for _, t := range events.Types {
		p.EventTypes = append(p.EventTypes, views.WebhookEventType{Name: t, Label: events.TypeLabels[t]})
	}
	for _, ep := range eps {
		p.Endpoints = append(p.Endpoints, webhookRow(ep))
	}
	return render(c, status, views.Webhooks(p))
}

// webhooksList lists the endpoints with the form that adds one.
func (s *Server) webhooksList(c echo.Context) error {
	return s.webhooksPage(c, http.StatusOK, views.WebhooksPage{})
}

// webhookCreate adds an endpoint and shows its secret once, in this answer only.
func (s *Server) webhookCreate(c echo.Context) error {
	form, err := c.FormParams()
	if err != nil {
		return echo.NewHTTPError(http.StatusBadRequest)
	}
	url, chosen := form.Get(webhook.FieldURL), form[webhook.FieldEvents]
	ep, sec, err := s.webhooks.Create(c.Request().Context(), url, chosen)
	if fields := apperr.FieldsOf(err); fields != nil {
		return s.webhooksPage(c, http.StatusUnprocessableEntity, views.WebhooksPage{URL: url, Chosen: chosen, Errors: fields})
	}
	if err != nil {
		return err
	}
	return s.webhooksPage(c, http.StatusOK, views.WebhooksPage{NewSecret: sec.Reveal(), NewFor: webhookRow(ep)})
}

func (s *Server) webhookPage(c echo.Context, newSecret string) error {
	ctx := c.Request().Context()
	ep, err := s.webhooks.Endpoint(ctx, c.Param("id"))
	if err != nil {
		return err
	}
	ds, err := s.webhooks.Deliveries(ctx, ep.ID, deliveriesShown)
	if err != nil {
		return err
	}
	p := views.WebhookPage{Chrome: s.chrome(c, "Webhook endpoint", "webhooks"), Endpoint: webhookRow(ep), NewSecret: newSecret}
	for _, d := range ds {
		p.Deliveries = append(p.Deliveries, views.WebhookDeliveryRow{OutboxID: d.OutboxID, EventID: d.EventID, EventType: d.EventType,
			At: d.At, Attempt: d.Attempt, Code: d.Code, Latency: d.Latency, Error: d.Error, OK: d.OK, Status: d.Status})
	}
	return render(c, http.StatusOK, views.Webhook(p))
}

// webhookShow is one endpoint with its recent deliveries.
func (s *Server) webhookShow(c echo.Context) error { return s.webhookPage(c, "") }

// webhookRotate gives the endpoint a new secret and shows it once.
func (s *Server) webhookRotate(c echo.Context) error {
	sec, err := s.webhooks.Rotate(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	return s.webhookPage(c, sec.Reveal())
}

func (s *Server) webhookEnable(c echo.Context) error  { return s.webhookSetEnabled(c, true) }
func (s *Server) webhookDisable(c echo.Context) error { return s.webhookSetEnabled(c, false) }

func (s *Server) webhookSetEnabled(c echo.Context, on bool) error {
	id := c.Param("id")
	if err := s.webhooks.SetEnabled(c.Request().Context(), id, on); err != nil {
		return err
	}
	msg := "The endpoint is disabled: no new events are queued for it."
	if on {
		msg = "The endpoint is enabled: events waiting for it are sent now."
	}
	if err := flash(c, components.FlashSuccess, msg); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/settings/webhooks/"+id)
}

// webhookDelete removes the endpoint.
func (s *Server) webhookDelete(c echo.Context) error {
	if err := s.webhooks.Delete(c.Request().Context(), c.Param("id")); err != nil {
		return err
	}
	if err := flash(c, components.FlashSuccess, "The endpoint is deleted with its waiting events."); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/settings/webhooks")
}

// webhookRedeliver sends one event again, with the same id and body.
func (s *Server) webhookRedeliver(c echo.Context) error {
	id := c.Param("id")
	oid, err := strconv.ParseInt(c.Param("oid"), 10, 64)
	if err != nil {
		return echo.NewHTTPError(http.StatusNotFound)
	}
	if err := s.webhooks.Redeliver(c.Request().Context(), id, oid); err != nil {
		return err
	}
	if err := flash(c, components.FlashSuccess, "The event is queued to be sent again, with the same webhook-id."); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/settings/webhooks/"+id)
}
