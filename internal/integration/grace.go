package integration

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"postern/internal/actor"
	"postern/internal/apperr"
	"postern/internal/audit"
	"postern/internal/model"
)

// The outage grace: for how long after the Defender data goes stale (no
// successful sync for 3 intervals) the posture checks keep deciding on the
// last synced data, in whole hours.
const (
	DefaultOutageGraceHours = 4
	MaxOutageGraceHours     = 168 // a week
	DefaultOutageGrace      = DefaultOutageGraceHours * time.Hour
	FieldOutageGrace        = "outage_grace_hours"
	// GraceSet is published when Configure changed only the outage grace.
	GraceSet Change = "outage_grace_set"
)

// parseGrace checks the Manage dialog's "Keep using the last synced data
// for N hours"; empty means the default.
func parseGrace(raw string) (int, string) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return DefaultOutageGraceHours, ""
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 0 || n > MaxOutageGraceHours {
		return 0, fmt.Sprintf("Enter a whole number of hours from 0 to %d (0 treats stale data as unavailable at once).", MaxOutageGraceHours)
	}
	return n, ""
}

// GraceText says a grace in words for the card and the audit log.
func GraceText(hours int) string {
	switch hours {
	case 0:
		return "none (stale data is unavailable at once)"
	case 1:
		return "1 hour"
	}
	return strconv.Itoa(hours) + " hours"
}

// OutageGrace is the stored grace; the default when nothing is configured.
func (s *Service) OutageGrace(ctx context.Context) (time.Duration, error) {
	in, err := s.store.Integration(ctx, Name)
	if apperr.Is(err, apperr.NotFound) {
		return DefaultOutageGrace, nil
	}
	if err != nil {
		return 0, err
	}
	return time.Duration(in.OutageGraceHours) * time.Hour, nil
}

// storeGrace writes hours over cur's grace, with its audit entry.
func (s *Service) storeGrace(ctx context.Context, by actor.Actor, cur model.Integration, hours int) error {
	e := audit.As(by, audit.IntegrationGraceSet, "Microsoft Defender")
	e.Detail = "outage grace " + GraceText(cur.OutageGraceHours) + " → " + GraceText(hours)
	now := s.store.Now()
	return s.store.UpdateIntegration(ctx, Name, func(in *model.Integration) {
		in.OutageGraceHours, in.UpdatedAt = hours, now
	}, e)
}

// sameConnection reports whether cleaned input in (no new secret) names the
// connection cur already stores: tenant, client, secret expiry, cloud and
// region.
func sameConnection(in Input, expires *time.Time, cur model.Integration) bool {
	sameDay := (expires == nil) == (cur.SecretExpiresOn == nil) &&
		(expires == nil || expires.Format(time.DateOnly) == cur.SecretExpiresOn.Format(time.DateOnly))
	return in.ClientSecret == "" && in.TenantID == cur.TenantID && in.ClientID == cur.ClientID &&
		in.Cloud == cur.Cloud && in.Region == cur.Region && sameDay
}
