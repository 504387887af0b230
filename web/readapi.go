package web

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"postern/internal/model"
)

// The read-only management API (docs/api.md#read-api), for tokens with
// the read scope: what the device page and the posture checks page show,
// in JSON, without secrets.
const (
	readDevicePath = "/api/v1/devices/:id"
	readChecksPath = "/api/v1/posture-checks"
)

// DeviceAnswer is GET /api/v1/devices/{id}: the device's signals as last
// synced and its current verdicts.
type DeviceAnswer struct {
	Device DeviceSignals `json:"device"`
	// Allowed is the verdict the enforcement API gives the device now.
	Allowed     bool          `json:"allowed"`
	Checks      []DeviceCheck `json:"checks"`
	EvaluatedAt string        `json:"evaluated_at"`
}

// DeviceSignals are a device's posture signals; an absent signal is null.
type DeviceSignals struct {
	DefenderMachineID string   `json:"defender_machine_id"`
	Hostname          string   `json:"hostname"`
	AADDeviceID       *string  `json:"aad_device_id"`
	OSPlatform        string   `json:"os_platform"`
	OSVersion         *string  `json:"os_version"`
	OSBuild           *int64   `json:"os_build"`
	HealthStatus      string   `json:"health_status"`
	RiskScore         *string  `json:"risk_score"`
	ExposureLevel     *string  `json:"exposure_level"`
	OnboardingStatus  string   `json:"onboarding_status"`
	AVStatus          *string  `json:"av_status"`
	EntraJoined       bool     `json:"entra_joined"`
	DeviceValue       *string  `json:"device_value"`
	DeviceGroup       *string  `json:"device_group"`
	SensorVersion     *string  `json:"sensor_version"`
	Tags              []string `json:"tags"`
	Excluded          bool     `json:"excluded"`
	FirstSeen         *string  `json:"first_seen"`
	LastSeen          *string  `json:"last_seen"`
	SyncedAt          string   `json:"synced_at"`
	RemovedAt         *string  `json:"removed_at"`
}

// DeviceCheck is one check's current verdict for the device, as the
// evaluate answer's checks, and whether an exception made it pass.
type DeviceCheck struct {
	EvaluatedItem
	Excepted bool `json:"excepted"`
}

// readDevice answers GET /api/v1/devices/{id}: 404 for an unknown device.
func (s *Server) readDevice(c echo.Context) error {
	id, ok := deviceParam(c)
	if !ok {
		return echo.NewHTTPError(http.StatusNotFound)
	}
	d, err := s.store.Device(c.Request().Context(), id)
	if err != nil {
		return err
	}
	now := s.now()
	a := DeviceAnswer{Device: deviceSignals(d), Checks: []DeviceCheck{}, EvaluatedAt: now.UTC().Format(time.RFC3339)}
	if fd, ok := s.fleet.Load().ByID(id); ok {
		dec := s.policy.DeviceDecision(fd)
		a.Allowed = dec.Allowed
		for _, r := range dec.Checks {
			a.Checks = append(a.Checks, DeviceCheck{EvaluatedItem: evaluatedItem(r), Excepted: r.Excepted})
		}
	}
	return c.JSON(http.StatusOK, a)
}

func deviceSignals(d model.Device) DeviceSignals {
	tags := d.Tags
	if tags == nil {
		tags = []string{}
	}
	return DeviceSignals{DefenderMachineID: d.ID, Hostname: d.Host, AADDeviceID: d.AADDeviceID, OSPlatform: d.OSPlatform,
		OSVersion: d.OSVersion, OSBuild: d.OSBuild, HealthStatus: d.HealthStatus, RiskScore: d.RiskScore,
		ExposureLevel: d.ExposureLevel, OnboardingStatus: d.OnboardingStatus, AVStatus: d.AVStatus, EntraJoined: d.IsAADJoined,
		DeviceValue: d.DeviceValue, DeviceGroup: d.RBACGroup, SensorVersion: d.AgentVersion, Tags: tags, Excluded: d.IsExcluded,
		FirstSeen: apiTime(d.FirstSeen), LastSeen: apiTime(d.LastSeen), SyncedAt: d.ChangedAt.UTC().Format(time.RFC3339),
		RemovedAt: apiTime(d.RemovedAt)}
}

// apiTime is t in the API's format, RFC 3339 UTC; nil stays nil.
func apiTime(t *time.Time) *string {
	if t == nil {
		return nil
	}
	v := t.UTC().Format(time.RFC3339)
	return &v
}

// ChecksAnswer is GET /api/v1/posture-checks.
type ChecksAnswer struct {
	Checks []CheckAnswer `json:"checks"`
}

// CheckAnswer is one posture check: its conditions are the editor's, by
// their stored names (docs/api.md#read-api).
type CheckAnswer struct {
	ID              int64           `json:"id"`
	Name            string          `json:"name"`
	Description     string          `json:"description"`
	Source          string          `json:"source"`
	Mode            string          `json:"mode"`
	Enabled         bool            `json:"enabled"`
	WhenUnavailable string          `json:"when_unavailable"`
	Conditions      json.RawMessage `json:"conditions"`
	UpdatedAt       string          `json:"updated_at"`
}

// readChecks answers GET /api/v1/posture-checks: every check, enabled or
// not.
func (s *Server) readChecks(c echo.Context) error {
	checks, err := s.store.PostureChecks(c.Request().Context())
	if err != nil {
		return err
	}
	a := ChecksAnswer{Checks: make([]CheckAnswer, 0, len(checks))}
	for _, ch := range checks {
		cond := json.RawMessage(ch.Spec)
		if !json.Valid(cond) {
			cond = json.RawMessage("{}")
		}
		a.Checks = append(a.Checks, CheckAnswer{ID: ch.ID, Name: ch.Name, Description: ch.Description, Source: ch.DataSource,
			Mode: ch.Mode, Enabled: ch.Enabled,
			WhenUnavailable: ch.WhenUnavailable, Conditions: cond,
			UpdatedAt: ch.UpdatedAt.UTC().Format(time.RFC3339)})
	}
	return c.JSON(http.StatusOK, a)
}
