package web

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"postern/views"
)

// The pages below show their empty states until the features that fill them
// land; each still goes through the same chrome, auth and headers.

func (s *Server) postureChecks(c echo.Context) error {
	return render(c, http.StatusOK, views.PostureChecks(views.PostureChecksPage{Chrome: s.chrome(c, "Device Posture Checks", "posture-checks")}))
}
