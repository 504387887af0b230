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
	action := audit.CheckCreated
	if in.ID != 0 {
		action = audit.CheckUpdated
	}
	e := audit.As(a, action, in.Name)
	e.Detail = posture.SourceLabel(in.Source) + ", " + in.Mode + ", when data is unavailable: " + in.WhenUnavailable + "; " + string(spec)
	c, err := s.store.SavePostureCheck(ctx, model.PostureCheck{ID: in.ID, Name: in.Name, Description: in.Description,
		DataSource: in.Source, Mode: in.Mode, Enabled: in.Enabled, WhenUnavailable: in.WhenUnavailable, Spec: string(spec)}, a.Email, e)
	if err != nil {
		return c, err
	}
	s.reload(ctx)
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
	s.reload(ctx)
	return c, nil
}

// CreateException lets a device pass one check (CheckID) or all of them
// (CheckID 0) until x.ExpiresAt, for x.Reason. The device must be known.
func (s *Service) CreateException(ctx context.Context, x model.Exception) (model.Exception, error) {
	a, err := actor.Admin(ctx)
	if err != nil {
		return x, err
	}
	if _, err := s.store.Device(ctx, x.DeviceID); err != nil {
		return x, err
	}
	x.CreatedBy = a.Email
	e := audit.As(a, audit.ExceptionCreated, x.DeviceID)
	e.Detail = "until " + x.ExpiresAt.Format(time.DateOnly) + ": " + x.Reason
	x, err = s.store.CreateException(ctx, x, e)
	if err != nil {
		return x, err
	}
	s.reload(ctx)
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
	s.reload(ctx)
	return nil
}

// reload makes the enforcement answers follow a change at once. A failure
// is logged: the change is committed, and the periodic reload retries.
func (s *Service) reload(ctx context.Context) {
	if err := s.engine.Reload(ctx); err != nil {
		s.log.ErrorContext(ctx, "reload posture policy", "err", err)
	}
}
