package web

import (
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/labstack/echo/v4"

	"postern/internal/apperr"
)

// statusOf is the one place that maps errors to HTTP statuses.
func TestStatusOfEveryKind(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want int
	}{
		{apperr.New(apperr.NotFound, "x"), http.StatusNotFound},
		{apperr.New(apperr.Invalid, "x"), http.StatusUnprocessableEntity},
		{apperr.New(apperr.Conflict, "x"), http.StatusConflict},
		{apperr.New(apperr.Unauthorized, "x"), http.StatusUnauthorized},
		{fmt.Errorf("policy: %w", apperr.New(apperr.Forbidden, "x")), http.StatusForbidden},
		{apperr.New(apperr.Unavailable, "x"), http.StatusServiceUnavailable},
		{apperr.New(apperr.Internal, "x"), http.StatusInternalServerError},
		{errors.New("disk full"), http.StatusInternalServerError},
		{echo.NewHTTPError(http.StatusTeapot), http.StatusTeapot},
	} {
		if got := statusOf(tc.err); got != tc.want {
			t.Errorf("statusOf(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
}
