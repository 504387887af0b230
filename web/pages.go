package web

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"postern/views"
)

// The pages below show their empty states until the features that fill them
// land; each still goes through the same chrome, auth and headers.

func (s *Server) dashboard(c echo.Context) error {
	return render(c, http.StatusOK, views.Dashboard(views.DashboardPage{Chrome: s.chrome(c, "Dashboard", "dashboard")}))
}

func (s *Server) apiTokens(c echo.Context) error {
	return render(c, http.StatusOK, views.APITokens(views.APITokensPage{Chrome: s.chrome(c, "API tokens", "api-tokens")}))
}

func (s *Server) postureChecks(c echo.Context) error {
	return render(c, http.StatusOK, views.PostureChecks(views.PostureChecksPage{Chrome: s.chrome(c, "Device Posture Checks", "posture-checks")}))
}

func (s *Server) devices(c echo.Context) error {
	return render(c, http.StatusOK, views.Devices(views.DevicesPage{Chrome: s.chrome(c, "Devices", "devices")}))
}
