package policy

import (
	"context"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"postern/internal/actor"
	"postern/internal/apperr"
	"postern/internal/audit"
	"postern/internal/model"
)

// Exception limits.
const (
	MaxExceptionReason = 500 // characters
	MaxExceptionDays   = 366
)

// ExceptionInput is the Add exception form as an admin sends it.
type ExceptionInput struct {
	DeviceID string
	// CheckID is the id of the check the device may fail; "0" (or
	// anything but an id) means every check.
	CheckID   string
	Reason    string
	ExpiresOn string // a date such as 2027-01-31; the exception lasts through its end, UTC
}

// CreateException lets a device pass one check or all of them until the
// end of in.ExpiresOn, for in.Reason. An unknown device is NotFound; an
// input with problems (no reason or one too long, a date that is missing,
// not a date, not after today or over a year away, a check that no longer
// exists) is refused with apperr.Fields. Both are audited as failures.
func (s *Service) CreateException(ctx context.Context, in ExceptionInput) (model.Exception, error) {
	a, err := audit.Allowed(ctx, s.store, s.log, actor.Editor, audit.ExceptionCreated, in.DeviceID)
	if err != nil {
		return model.Exception{}, err
	}
	e := audit.As(a, audit.ExceptionCreated, in.DeviceID)
	d, err := s.store.Device(ctx, in.DeviceID)
	if err != nil {
		return model.Exception{}, s.refuseIfNotFound(ctx, e, err)
	}
	x, problems := s.exception(in)
	if len(problems) > 0 {
		return model.Exception{}, s.refuse(ctx, e, apperr.Fields(problems))
	}
	x.CreatedBy = a.Email
	e.Detail = "until " + x.ExpiresAt.Format(time.DateOnly) + ": " + x.Reason
	x, err = s.store.CreateException(ctx, x, e)
	if err != nil {
		return x, err
	}
	s.reload(ctx, ExceptionCause(model.CauseExceptionCreated, d, a.Email))
	return x, nil
}

// exception checks in against the checks in force and today's date.
func (s *Service) exception(in ExceptionInput) (model.Exception, map[string]string) {
	problems := map[string]string{}
	x := model.Exception{DeviceID: in.DeviceID, Reason: strings.TrimSpace(in.Reason)}
	if id, err := strconv.ParseInt(in.CheckID, 10, 64); err == nil && id > 0 {
		known := false
		for _, ch := range s.engine.Checks() {
			known = known || ch.ID == id
		}
		if !known {
			problems["check_id"] = "That check no longer exists."
		}
		x.CheckID = id
	}
	switch {
	case x.Reason == "":
		problems["reason"] = "Say why this device may pass, e.g. the ticket of the fix under way."
	case utf8.RuneCountInString(x.Reason) > MaxExceptionReason || !utf8.ValidString(x.Reason):
		problems["reason"] = "Use at most 500 characters."
	}
	expires := strings.TrimSpace(in.ExpiresOn)
	today := s.engine.now().UTC().Truncate(24 * time.Hour)
	day, err := time.Parse(time.DateOnly, expires)
	switch {
	case expires == "":
		problems["expires_on"] = "Choose when the exception ends."
	case err != nil:
		problems["expires_on"] = "Use a date such as 2027-01-31."
	case !day.After(today):
		problems["expires_on"] = "Choose a date after today."
	case day.After(today.AddDate(0, 0, MaxExceptionDays)):
		problems["expires_on"] = "An exception can last at most one year."
	default:
		x.ExpiresAt = day.Add(24*time.Hour - time.Second) // through the end of that day, UTC
	}
	return x, problems
}
