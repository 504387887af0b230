package web

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
)

// cleanURL sends a GET whose URL ends in a bare "?" (what a browser asks
// for when a GET form without fields, such as a dialog button without
// JavaScript, is submitted) to the same path without it.
func cleanURL(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		if r.Method == http.MethodGet && r.URL.RawQuery == "" && strings.HasSuffix(r.RequestURI, "?") {
			return c.Redirect(http.StatusSeeOther, r.URL.EscapedPath())
		}
		return next(c)
	}
}
