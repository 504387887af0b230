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

// exportBatch is how many devices the export reads at a time.
const exportBatch = 1000

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
	dv := s.policy.DeviceVerdicts()
	if q.Verdict != "" && !dv.Current {
		c.Response().Header().Set("Retry-After", "5")
		return echo.NewHTTPError(http.StatusServiceUnavailable, "The verdicts are recalculating…: export this list again in a few seconds.")
	}
	f.Within = verdictSet(dv, q.Verdict)
	// The header is sent with the first batch, so a failing store before
	// it still gets the error page.
	var t *audit.TableCSV
	err = s.store.EachListed(ctx, f, exportBatch, func(list []model.Device) error {
		if t == nil {
			var err error
			if t, err = s.startDevicesCSV(c); err != nil {
				return err
			}
		}
		for i := range list {
			row := append(deviceCSVRow(&list[i]), verdictCSV(dv, list[i].ID), vocab.KindLabel(list[i].OnboardingStatus))
			if err := t.Write(row); err != nil {
				return err
			}
		}
		return nil
	})
	switch {
	case err != nil && t == nil:
		return err
	case err != nil:
		s.logger(c).Error("export devices", "err", err)
		return nil // the header is sent: the truncated file is all we can do
	case t == nil: // nothing matched: the header alone
		if t, err = s.startDevicesCSV(c); err != nil {
			return err
		}
	}
	return t.Close()
}

// startDevicesCSV sends the export's headers and its first row.
func (s *Server) startDevicesCSV(c echo.Context) (*audit.TableCSV, error) {
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, "text/csv; charset=utf-8")
	h.Set(echo.HeaderContentDisposition, `attachment; filename="postern-devices-`+s.now().UTC().Format("20060102-150405")+`.csv"`)
	c.Response().WriteHeader(http.StatusOK)
	return audit.NewTableCSV(c.Response(), deviceCSVHeader)
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
