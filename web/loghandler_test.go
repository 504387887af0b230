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

// The request line and a handler's own lines name the request id exactly
// once, the id the response carries, with the production logger.
func TestRequestLinesCarryTheIDOnce(t *testing.T) {
	env := newEnv(t)
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := noFollow.Get(env.http.URL + "/login")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	id := res.Header.Get(echo.HeaderXRequestID)
	var line string
	for l := range strings.SplitSeq(env.logs.String(), "\n") {
		if strings.Contains(l, "msg=request ") && strings.Contains(l, "path=/login") {
			line = l
		}
	}
	if id == "" || line == "" {
		t.Fatalf("id %q; no request line for /login in:\n%s", id, env.logs.String())
	}
	if n := strings.Count(line, "request_id="); n != 1 || !strings.Contains(line, "request_id="+id) {
		t.Errorf("request line has request_id %d times, want once with %s: %s", n, id, line)
	}

	// A handler's logger: bound to its request, whatever context it gets.
	var out bytes.Buffer
	s := &Server{log: slog.New(LogHandler(slog.NewTextHandler(&out, nil)))}
	e := echo.New()
	e.Use(s.requestID)
	e.GET("/", func(c echo.Context) error {
		s.logger(c).Info("plain")
		s.logger(c).InfoContext(c.Request().Context(), "with context")
		s.logger(c).With("k", "v").Info("with attrs")
		return c.NoContent(http.StatusNoContent)
	})
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	id = rec.Header().Get(echo.HeaderXRequestID)
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("lines %q", lines)
	}
	for _, l := range lines {
		if strings.Count(l, "request_id=") != 1 || !strings.Contains(l, "request_id="+id) {
			t.Errorf("want request_id=%s once: %s", id, l)
		}
	}
}
