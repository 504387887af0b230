package policy

import (
	"context"
	"slices"
	"strconv"

	"postern/internal/actor"
	"postern/internal/apperr"
	"postern/internal/audit"
	"postern/internal/model"
	"postern/internal/posture"
)

// SwitchChecks makes the switches (check id → SwitchMonitor or
// SwitchAllow) the Disable dialog offers, on Microsoft Defender checks,
// in order of id: each is saved with its own audit entry, then the engine
// reloads once. Only Defender checks can be switched this way; an
// unknown switch is Invalid. Switches made before a failure stay made.
func (s *Service) SwitchChecks(ctx context.Context, switches map[int64]string) ([]model.PostureCheck, error) {
	a, err := actor.Admin(ctx)
	if err != nil {
		return nil, err
	}
	ids := make([]int64, 0, len(switches))
	for id, sw := range switches {
		if !Switched(sw) {
			return nil, apperr.New(apperr.Invalid, "Choose Monitor only or Allow for each check you switch.")
		}
		ids = append(ids, id)
	}
	slices.Sort(ids)
	var done []model.PostureCheck
	defer func() {
		switch len(done) {
		case 0:
		case 1:
			s.reload(ctx, CheckCause(model.CauseCheckUpdated, done[0], a.Email))
		default:
			s.reload(ctx, model.Cause{Kind: model.CauseCheckUpdated, Actor: a.Email,
				Label: strconv.Itoa(len(done)) + " posture checks switched before disabling Microsoft Defender by " + a.Email})
		}
	}()
	for _, id := range ids {
		c, err := s.store.PostureCheck(ctx, id)
		if err != nil {
			return done, err
		}
		if c.DataSource != posture.SourceDefender {
			return done, apperr.New(apperr.Invalid, "Only checks that use Microsoft Defender are switched before Disable.")
		}
		e := audit.As(a, audit.CheckUpdated, c.Name)
		switch switches[id] {
		case SwitchMonitor:
			e.Detail = "mode " + c.Mode + " → " + posture.ModeMonitor + ", before disabling Microsoft Defender"
			c.Mode = posture.ModeMonitor
		case SwitchAllow:
			e.Detail = "when data is unavailable: " + c.WhenUnavailable + " → " + posture.UnavailableAllow + ", before disabling Microsoft Defender"
			c.WhenUnavailable = posture.UnavailableAllow
		}
		saved, err := s.store.SavePostureCheck(ctx, c, a.Email, e)
		if err != nil {
			return done, err
		}
		done = append(done, saved)
	}
	return done, nil
}
