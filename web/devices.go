package web

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"postern/views"
)

// devices is the synced inventory. (Being rebuilt: list, filters, detail.)
func (s *Server) devices(c echo.Context) error {
	return render(c, http.StatusOK, views.Devices(views.DevicesPage{Chrome: s.chrome(c, "Devices", "devices")}))
}

func (s *Server) deviceDetail(c echo.Context) error { return echo.NewHTTPError(http.StatusNotFound) }

func (s *Server) deviceRecheck(c echo.Context) error { return echo.NewHTTPError(http.StatusNotFound) }
