package policy

import (
	"context"
	"encoding/json"
	"log/slog"
	"time"

	"postern/internal/actor"
	"postern/internal/audit"
	"postern/internal/model"
	"postern/internal/posture"
)

// Store is what Service needs of the database: each write is one
// transaction together with its audit entry.
type Store interface {
	Device(ctx context.Context, id string) (model.Device, error)
	PostureCheck(ctx context.Context, id int64) (model.PostureCheck, error)
	SavePostureCheck(ctx context.Context, c model.PostureCheck, by string, e audit.Entry) (model.PostureCheck, error)
	DeletePostureCheck(ctx context.Context, id int64, e audit.Entry) (model.PostureCheck, error)
	CreateException(ctx context.Context, x model.Exception, e audit.Entry) (model.Exception, error)
	RevokeException(ctx context.Context, deviceID string, id int64, by string, e audit.Entry) error
}

// Service changes posture checks and exceptions. Each method authorizes
// the actor in ctx, writes one transaction with its audit entry, and then
// makes the engine (and so the enforcement API) follow at once.
type Service struct {
	store  Store
	engine *Engine
	log    *slog.Logger
}

// NewService returns the service over st that reloads e after each change.
func NewService(st Store, e *Engine, log *slog.Logger) *Service {
	return &Service{store: st, engine: e, log: log}
}

// CheckInput is a check as an admin saves it; ID 0 creates one.
type CheckInput struct {
	ID              int64
	Name            string
	Description     string
	Source          string
	Mode            string
	WhenUnavailable string
	Enabled         bool
	Spec            posture.Spec
}

// SaveCheck creates or updates a check. A name in use by another check is
// a Conflict.
func (s *Service) SaveCheck(ctx context.Context, in CheckInput) (model.PostureCheck, error) {
	a, err := actor.Admin(ctx)
	if err != nil {
		return model.PostureCheck{}, err
	}
	spec, err := json.Marshal(in.Spec)
	if err != nil {
		return model.PostureCheck{}, err
	}
	next := model.PostureCheck{ID: in.ID, Name: in.Name, Description: in.Description,
		DataSource: in.Source, Mode: in.Mode, Enabled: in.Enabled, WhenUnavailable: in.WhenUnavailable, Spec: string(spec)}
	action, kind := audit.CheckCreated, model.CauseCheckCreated
	e := audit.As(a, action, in.Name)
	if in.ID != 0 {
		// The detail says what changed, before → after, from the stored check.
		before, err := s.store.PostureCheck(ctx, in.ID)
		if err != nil {
			return model.PostureCheck{}, err
		}
		e.Action, kind = audit.CheckUpdated, model.CauseCheckUpdated
		e.Detail = CheckDiff(before, next)
	} else {
		e.Detail = CheckSummary(next)
	}
	c, err := s.store.SavePostureCheck(ctx, next, a.Email, e)
	if err != nil {
		return c, err
	}
	s.reload(ctx, CheckCause(kind, c, a.Email))
	return c, nil
}

// DeleteCheck removes a check and its exceptions; its history stays.
func (s *Service) DeleteCheck(ctx context.Context, id int64) (model.PostureCheck, error) {
	a, err := actor.Admin(ctx)
	if err != nil {
		return model.PostureCheck{}, err
	}
	c, err := s.store.DeletePostureCheck(ctx, id, audit.As(a, audit.CheckDeleted, ""))
	if err != nil {
		return c, err
	}
	s.reload(ctx, CheckCause(model.CauseCheckDeleted, c, a.Email))
	return c, nil
}

// CreateException lets a device pass one check (CheckID) or all of them
// (CheckID 0) until x.ExpiresAt, for x.Reason. The device must be known.
func (s *Service) CreateException(ctx context.Context, x model.Exception) (model.Exception, error) {
	a, err := actor.Admin(ctx)
	if err != nil {
		return x, err
	}
	d, err := s.store.Device(ctx, x.DeviceID)
	if err != nil {
		return x, err
	}
	x.CreatedBy = a.Email
	e := audit.As(a, audit.ExceptionCreated, x.DeviceID)
	e.Detail = "until " + x.ExpiresAt.Format(time.DateOnly) + ": " + x.Reason
	x, err = s.store.CreateException(ctx, x, e)
	if err != nil {
		return x, err
	}
	s.reload(ctx, ExceptionCause(model.CauseExceptionCreated, d, a.Email))
	return x, nil
}

// RevokeException ends exception id of device deviceID early. An
// exception of another device is NotFound, as is one already revoked.
func (s *Service) RevokeException(ctx context.Context, deviceID string, id int64) error {
	a, err := actor.Admin(ctx)
	if err != nil {
		return err
	}
	if err := s.store.RevokeException(ctx, deviceID, id, a.Email, audit.As(a, audit.ExceptionRevoked, deviceID)); err != nil {
		return err
	}
	d, err := s.store.Device(ctx, deviceID)
	if err != nil {
		d = model.Device{ID: deviceID} // the cause names the id alone
	}
	s.reload(ctx, ExceptionCause(model.CauseExceptionRevoked, d, a.Email))
	return nil
}

// reload makes the enforcement answers follow a change at once, naming
// the change as the cause of the verdicts it moves. A failure is logged:
// the change is committed, and the periodic reload retries.
func (s *Service) reload(ctx context.Context, cause model.Cause) {
	if err := s.engine.ReloadBecause(ctx, cause); err != nil {
		s.log.ErrorContext(ctx, "reload posture policy", "err", err)
	}
}
