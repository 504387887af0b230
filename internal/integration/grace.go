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
	// GraceSet is published after SetOutageGrace.
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

// SetOutageGrace stores the outage grace alone, with its audit entry. It
// asks nothing of Microsoft: the grace is Postern's own setting, and an
// admin may need to lengthen it in the middle of an outage.
func (s *Service) SetOutageGrace(ctx context.Context, raw string) error {
	by, err := actor.Admin(ctx)
	if err != nil {
		return err
	}
	hours, problem := parseGrace(raw)
	if problem != "" {
		return Problems{FieldOutageGrace: problem}
	}
	cur, err := s.store.Integration(ctx, Name)
	if err != nil {
		return err
	}
	if cur.OutageGraceHours == hours {
		return nil
	}
	e := audit.As(by, audit.IntegrationGraceSet, "Microsoft Defender")
	e.Detail = "outage grace " + GraceText(cur.OutageGraceHours) + " → " + GraceText(hours)
	now := s.store.Now()
	err = s.store.UpdateIntegration(ctx, Name, func(in *model.Integration) {
		in.OutageGraceHours, in.UpdatedAt = hours, now
	}, e)
	if err != nil {
		return err
	}
	s.publish(ctx, GraceSet)
	return nil
}
