package web

import (
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"postern/internal/audit"
	"postern/internal/defender/vocab"
	"postern/internal/model"
)

// exportPage is how many devices the export reads at a time.
const exportPage = 1000

// deviceCSVHeader is the first row of the Devices export. New columns go
// at the end, so that readers by column index keep working: kind is
// Onboarded or Discovered, as the Devices page tells them apart.
var deviceCSVHeader = []string{"host_name", "device_id", "health_status", "risk_score", "exposure_level",
	"onboarding_status", "antivirus_status", "os_platform", "os_version", "last_seen_utc", "tags", "removed_utc", "verdict", "kind"}

// devicesCSV exports every device the list's filters match, in its sort
// order, with the audit export's defence against formula injection.
func (s *Server) devicesCSV(c echo.Context) error {
	ctx := c.Request().Context()
	facets, err := s.store.DeviceFilterValues(ctx)
	if err != nil {
		return err
	}
	q := deviceQuery(c, facets)
	f := deviceFilter(q)
	f.Limit, f.Offset = exportPage, 0
	dv := s.policy.DeviceVerdicts()
	if q.Verdict != "" && !dv.Current {
		c.Response().Header().Set("Retry-After", "5")
		return echo.NewHTTPError(http.StatusServiceUnavailable, "The verdicts are recalculating…: export this list again in a few seconds.")
	}
	f.Within = verdictSet(dv, q.Verdict)
	// The first page is read before the header is sent, so a failing store
	// still gets the error page.
	list, _, err := s.store.DevicePage(ctx, f)
	if err != nil {
		return err
	}
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, "text/csv; charset=utf-8")
	h.Set(echo.HeaderContentDisposition, `attachment; filename="postern-devices-`+s.now().UTC().Format("20060102-150405")+`.csv"`)
	c.Response().WriteHeader(http.StatusOK)
	t, err := audit.NewTableCSV(c.Response(), deviceCSVHeader)
	for err == nil && len(list) > 0 {
		for i := range list {
			row := append(deviceCSVRow(&list[i]), verdictCSV(dv, list[i].ID), vocab.KindLabel(list[i].OnboardingStatus))
			if err = t.Write(row); err != nil {
				return err
			}
		}
		if len(list) < exportPage {
			break
		}
		f.Offset += exportPage
		list, _, err = s.store.DevicePage(ctx, f)
	}
	if err != nil {
		s.logger(c).Error("export devices", "err", err)
		return nil // the header is sent: the truncated file is all we can do
	}
	return t.Close()
}

func deviceCSVRow(d *model.Device) []string {
	when := func(t *time.Time) string {
		if t == nil {
			return ""
		}
		return t.UTC().Format(time.RFC3339)
	}
	return []string{d.Host, d.ID, vocab.Health.Label(d.HealthStatus), vocab.Risk.Label(deref(d.RiskScore)),
		vocab.Exposure.Label(deref(d.ExposureLevel)), vocab.Onboarding.Label(d.OnboardingStatus),
		vocab.Antivirus.Label(deref(d.AVStatus)), vocab.Platform.Label(d.OSPlatform),
		osVersion(d.OSVersion, d.OSBuild), when(d.LastSeen), strings.Join(d.Tags, "; "), when(d.RemovedAt)}
}
