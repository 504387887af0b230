package policy

import (
	"context"
	"encoding/json"
	"log/slog"
	"maps"
	"strconv"

	"postern/internal/actor"
	"postern/internal/apperr"
	"postern/internal/audit"
	"postern/internal/model"
	"postern/internal/posture"
)

// Store is what Service needs of the database: each write is one
// transaction together with its audit entry; a refused change is recorded
// on its own with AppendAudit.
type Store interface {
	AppendAudit(ctx context.Context, e audit.Entry) error
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
	// Problems are what the form's parser found wrong, by field; the
	// service refuses the input with them and its own.
	Problems map[string]string
}

// Messages of the fields SaveCheck refuses itself.
const (
	msgDefenderDisabled = "Microsoft Defender is disabled. Enable it in Settings → Integrations, or choose Device report."
	msgCheckNameTaken   = "Another check already has this name."
)

// SaveCheck creates or updates a check. An input with problems (the
// parser's, a Defender check while Defender is disabled, a name in use by
// another check) is refused with apperr.Fields and audited as a failure.
func (s *Service) SaveCheck(ctx context.Context, in CheckInput) (model.PostureCheck, error) {
	a, err := audit.Allowed(ctx, s.store, s.log, actor.Editor, audit.CheckUpdated, in.Name)
	if err != nil {
		return model.PostureCheck{}, err
	}
	e := audit.As(a, audit.CheckCreated, in.Name)
	var before model.PostureCheck
	if in.ID != 0 {
		e.Action = audit.CheckUpdated
		if before, err = s.store.PostureCheck(ctx, in.ID); err != nil {
			return model.PostureCheck{}, s.refuseIfNotFound(ctx, e, err)
		}
	}
	problems := map[string]string{}
	maps.Copy(problems, in.Problems)
	// While Defender is disabled a check that uses it stays editable; none
	// may start using it.
	if in.Source == posture.SourceDefender && !s.engine.DefenderEnabled() && before.DataSource != posture.SourceDefender {
		problems["source"] = msgDefenderDisabled
	}
	if len(problems) > 0 {
		return model.PostureCheck{}, s.refuse(ctx, e, apperr.Fields(problems))
	}
	spec, err := json.Marshal(in.Spec)
	if err != nil {
		return model.PostureCheck{}, err
	}
	next := model.PostureCheck{ID: in.ID, Name: in.Name, Description: in.Description,
		DataSource: in.Source, Mode: in.Mode, Enabled: in.Enabled, WhenUnavailable: in.WhenUnavailable, Spec: string(spec)}
	kind := model.CauseCheckCreated
	if in.ID != 0 {
		// The detail says what changed, before → after, from the stored check.
		kind = model.CauseCheckUpdated
		e.Detail = CheckDiff(before, next)
	} else {
		e.Detail = CheckSummary(next)
	}
	c, err := s.store.SavePostureCheck(ctx, next, a.Email, e)
	if apperr.Is(err, apperr.Conflict) {
		taken := apperr.Fields(map[string]string{"name": msgCheckNameTaken})
		taken.Err = err
		return c, s.refuse(ctx, e, taken)
	}
	if err != nil {
		return c, s.refuseIfNotFound(ctx, e, err)
	}
	s.reload(ctx, CheckCause(kind, c, a.Email))
	return c, nil
}

// DeleteCheck removes a check and its exceptions; its history stays. An
// unknown check is NotFound, audited as a failure.
func (s *Service) DeleteCheck(ctx context.Context, id int64) (model.PostureCheck, error) {
	a, err := audit.Allowed(ctx, s.store, s.log, actor.Editor, audit.CheckDeleted, strconv.FormatInt(id, 10))
	if err != nil {
		return model.PostureCheck{}, err
	}
	c, err := s.store.DeletePostureCheck(ctx, id, audit.As(a, audit.CheckDeleted, ""))
	if err != nil {
		return c, s.refuseIfNotFound(ctx, audit.As(a, audit.CheckDeleted, strconv.FormatInt(id, 10)), err)
	}
	s.reload(ctx, CheckCause(model.CauseCheckDeleted, c, a.Email))
	return c, nil
}

// RevokeException ends exception id of device deviceID early. An
// exception of another device is NotFound, as is one already revoked; both
// are audited as failures.
func (s *Service) RevokeException(ctx context.Context, deviceID string, id int64) error {
	a, err := audit.Allowed(ctx, s.store, s.log, actor.Editor, audit.ExceptionRevoked, deviceID)
	if err != nil {
		return err
	}
	e := audit.As(a, audit.ExceptionRevoked, deviceID)
	if err := s.store.RevokeException(ctx, deviceID, id, a.Email, e); err != nil {
		return s.refuseIfNotFound(ctx, e, err)
	}
	d, err := s.store.Device(ctx, deviceID)
	if err != nil {
		d = model.Device{ID: deviceID} // the cause names the id alone
	}
	s.reload(ctx, ExceptionCause(model.CauseExceptionRevoked, d, a.Email))
	return nil
}

// refuse records err, the refusal of e's change, in the audit log and
// returns it.
func (s *Service) refuse(ctx context.Context, e audit.Entry, err error) error {
	return audit.RecordRefusal(ctx, s.store, s.log, e, err)
}

// refuseIfNotFound audits err as a refusal when it is NotFound (the change
// named something that is not there) and returns it in any case.
func (s *Service) refuseIfNotFound(ctx context.Context, e audit.Entry, err error) error {
	if apperr.Is(err, apperr.NotFound) {
		return s.refuse(ctx, e, err)
	}
	return err
}

// reload makes the enforcement answers follow a change at once, naming
// the change as the cause of the verdicts it moves. A failure is logged:
// the change is committed, and the periodic reload retries.
func (s *Service) reload(ctx context.Context, cause model.Cause) {
	if err := s.engine.ReloadBecause(ctx, cause); err != nil {
		s.log.ErrorContext(ctx, "reload posture policy", "err", err)
	}
}
