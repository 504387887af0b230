package signin

import (
	"context"
	"strings"

	"postern/internal/actor"
	"postern/internal/apperr"
	"postern/internal/audit"
	"postern/internal/auth"
	"postern/internal/model"
)

// FieldObjectID is the admin form's field for an Entra object id.
const FieldObjectID = "entra_object_id"

// AddAdmin creates, for an Owner, an admin who signs in with Microsoft as
// the user oid of the configured tenant: no password, role until their
// first sign-in applies the mapped one. It is how someone gets in while
// auto-provisioning is off. Bad input is refused field by field, audited.
func (s *Service) AddAdmin(ctx context.Context, email, oid string, role actor.Role) (model.Admin, error) {
	email, oid = strings.ToLower(strings.TrimSpace(email)), strings.ToLower(strings.TrimSpace(oid))
	a, err := audit.Allowed(ctx, s.store, s.log, actor.Owner, audit.AdminCreated, email)
	if err != nil {
		return model.Admin{}, err
	}
	e := audit.As(a, audit.AdminCreated, email)
	problems := map[string]string{}
	if msg := auth.CheckEmail(email); msg != "" {
		problems["email"] = msg
	}
	if !role.Valid() {
		problems["role"] = "Choose Owner, Editor or Auditor."
	}
	if !IsGUID(oid) {
		problems[FieldObjectID] = "The Object ID is a GUID, from the user's profile in the Microsoft Entra admin center."
	}
	p, err := s.store.SignInProvider(ctx)
	if apperr.Is(err, apperr.NotFound) {
		problems[FieldObjectID] = "Configure Sign in with Microsoft first (Settings → Sign-in)."
	} else if err != nil {
		return model.Admin{}, err
	}
	if len(problems) > 0 {
		return model.Admin{}, audit.RecordRefusal(ctx, s.store, s.log, e, apperr.Fields(problems))
	}
	e.Detail = "role " + string(role) + "; signs in with Microsoft as oid " + oid
	created, err := s.store.CreateEntraAdmin(ctx, email, "", p.TenantID, oid, role, e)
	if apperr.Is(err, apperr.Conflict) {
		msg := apperr.MessageOf(err)
		field := "email"
		if _, err := s.store.AdminByEntra(ctx, p.TenantID, oid); err == nil {
			field, msg = FieldObjectID, "This Microsoft account is an admin already."
		}
		taken := apperr.Fields(map[string]string{field: msg})
		taken.Err = err
		return model.Admin{}, audit.RecordRefusal(ctx, s.store, s.log, e, taken)
	}
	return created, err
}
