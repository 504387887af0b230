package web

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
)

// A line logged anywhere with the request's context carries its id, the one
// the response names; a line without it carries none.
func TestLogHandlerAddsTheRequestID(t *testing.T) {
	var out bytes.Buffer
	log := slog.New(LogHandler(slog.NewTextHandler(&out, nil))).With("component", "integration")
	s := &Server{log: log}
	e := echo.New()
	e.Use(s.requestID)
	e.GET("/", func(c echo.Context) error {
		log.InfoContext(c.Request().Context(), "inside the request")
		return c.NoContent(http.StatusNoContent)
	})
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	log.InfoContext(context.Background(), "outside any request")

	id := rec.Header().Get(echo.HeaderXRequestID)
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if id == "" || len(lines) != 2 {
		t.Fatalf("id %q, lines %q", id, lines)
	}
	if !strings.Contains(lines[0], "request_id="+id) || !strings.Contains(lines[0], "component=integration") {
		t.Errorf("the request's line lacks its id or the logger's attributes: %s", lines[0])
	}
	if strings.Contains(lines[1], "request_id") {
		t.Errorf("a line outside any request has a request id: %s", lines[1])
	}
}
