package web

import (
	"errors"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"postern/internal/apperr"
	"postern/views"
)

// statusOf maps an error to its HTTP status: the one place that does.
func statusOf(err error) int {
	var he *echo.HTTPError
	if errors.As(err, &he) {
		return he.Code
	}
	switch apperr.KindOf(err) {
	case apperr.NotFound:
		return http.StatusNotFound
	case apperr.Invalid:
		return http.StatusUnprocessableEntity
	case apperr.Conflict:
		return http.StatusConflict
	case apperr.Unauthorized:
		return http.StatusUnauthorized
	case apperr.Forbidden:
		return http.StatusForbidden
	case apperr.Unavailable:
		return http.StatusServiceUnavailable
	default:
		return http.StatusInternalServerError
	}
}

// handleError is Echo's HTTPErrorHandler. It logs internal errors with the
// request id and renders a page (or a bare status for htmx) that never shows
// err.Error().
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	status := statusOf(err)
	if status >= 500 {
		s.logger(c).Error("request failed", "status", status, "err", err)
	}
	heading, message := errorText(err, status)
	if c.Request().Method == http.MethodHead {
		c.NoContent(status)
		return
	}
	if c.Request().Header.Get("HX-Request") == "true" {
		c.String(status, message)
		return
	}
	if strings.HasPrefix(c.Request().URL.Path, "/api/") { // machines read JSON
		c.JSON(status, map[string]string{"error": orText(message, heading)})
		return
	}
	ch := s.chrome(c, heading, "")
	page := views.ErrorPage{Chrome: ch, Status: status, Heading: heading, Message: message, RequestID: requestIDOf(c)}
	if rerr := render(c, status, views.Error(page)); rerr != nil {
		s.logger(c).Error("render error page", "err", rerr)
		c.String(status, message)
	}
}

// errorText picks what the admin reads: our own safe messages only.
func errorText(err error, status int) (heading, message string) {
	var he *echo.HTTPError
	if errors.As(err, &he) {
		if m, ok := he.Message.(string); ok && he.Internal == nil && status < 500 && status != http.StatusNotFound {
			message = m
		}
	} else if apperr.KindOf(err) != apperr.Internal {
		message = apperr.MessageOf(err)
	}
	switch status {
	case http.StatusNotFound:
		return "Page not found", "There is nothing at this address. It may have moved, or the link may be mistyped."
	case http.StatusForbidden:
		return "Request refused", orText(message, "This request is not allowed.")
	case http.StatusRequestEntityTooLarge:
		return "Request too large", "The request was larger than Postern accepts."
	case http.StatusMethodNotAllowed:
		return "Not allowed", "This address does not accept that kind of request."
	}
	if status >= 500 {
		return "Something went wrong", apperr.MessageOf(err)
	}
	return "Request failed", orText(message, http.StatusText(status))
}

func orText(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
