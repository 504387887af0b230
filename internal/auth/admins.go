package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"net/mail"
	"strconv"
	"strings"

	"postern/internal/actor"
	"postern/internal/apperr"
	"postern/internal/audit"
	"postern/internal/model"
)

// AdminStore is what Admins needs of the database. Each write takes the
// audit entry it commits with; the last-Owner rule is the store's, checked
// inside the write transaction.
type AdminStore interface {
	AppendAudit(ctx context.Context, e audit.Entry) error
	CreateAdmin(ctx context.Context, email, passwordHash string, role actor.Role, e audit.Entry) (model.Admin, error)
	SetAdminRole(ctx context.Context, id int64, role actor.Role, e audit.Entry) (model.Admin, error)
	SetAdminDisabled(ctx context.Context, id int64, disabled bool, e audit.Entry) (model.Admin, error)
	DeleteAdmin(ctx context.Context, id int64, e audit.Entry) (model.Admin, error)
	Admin(ctx context.Context, id int64) (model.Admin, error)
	AdminSessions(ctx context.Context, adminID int64) ([]model.Session, error)
	EndAdminSessions(ctx context.Context, adminID int64, idHashes [][]byte, e audit.Entry) (int, error)
}

// Admins owns every change of an admin account: only an Owner may make
// one, and each is audited with the actor and the actor's role.
type Admins struct {
	store AdminStore
	log   *slog.Logger
}

// NewAdmins returns the admin service.
func NewAdmins(st AdminStore, log *slog.Logger) *Admins { return &Admins{store: st, log: log} }

// Create makes an admin with role and returns the initial password, made
// here (20 random characters) and shown to the Owner once: only its hash
// is stored. The Owner hands it over; the admin can sign in at once.
// A bad email or role is refused with apperr.Fields; an email in use
// with a Conflict on "email".
func (s *Admins) Create(ctx context.Context, email string, role actor.Role) (string, model.Admin, error) {
	a, err := audit.Allowed(ctx, s.store, s.log, actor.Owner, audit.AdminCreated, email)
	if err != nil {
		return "", model.Admin{}, err
	}
	e := audit.As(a, audit.AdminCreated, email)
	problems := map[string]string{}
	if msg := CheckEmail(email); msg != "" {
		problems["email"] = msg
	}
	if !role.Valid() {
		problems["role"] = "Choose Owner, Editor or Auditor."
	}
	if len(problems) > 0 {
		return "", model.Admin{}, audit.RecordRefusal(ctx, s.store, s.log, e, apperr.Fields(problems))
	}
	password := InitialPassword()
	hash, err := HashPassword(password)
	if err != nil {
		return "", model.Admin{}, err
	}
	e.Detail = "role " + string(role)
	created, err := s.store.CreateAdmin(ctx, email, hash, role, e)
	if apperr.Is(err, apperr.Conflict) {
		taken := apperr.Fields(map[string]string{"email": "An admin with this email already exists."})
		taken.Err = err
		return "", created, audit.RecordRefusal(ctx, s.store, s.log, e, taken)
	}
	return password, created, err
}

// SetRole gives admin id role. Demoting the last enabled Owner is refused
// (a Conflict, audited as a failure).
func (s *Admins) SetRole(ctx context.Context, id int64, role actor.Role) (model.Admin, error) {
	a, err := audit.Allowed(ctx, s.store, s.log, actor.Owner, audit.AdminRoleChanged, strconv.FormatInt(id, 10))
	if err != nil {
		return model.Admin{}, err
	}
	e := audit.As(a, audit.AdminRoleChanged, strconv.FormatInt(id, 10))
	if !role.Valid() {
		return model.Admin{}, audit.RecordRefusal(ctx, s.store, s.log, e, apperr.Fields(map[string]string{"role": "Choose Owner, Editor or Auditor."}))
	}
	e.Detail = "role " + string(role)
	return s.refused(ctx, e)(s.store.SetAdminRole(ctx, id, role, e))
}

// SetDisabled disables (and ends the sessions of) or enables admin id.
// Disabling the last enabled Owner, or oneself, is refused.
func (s *Admins) SetDisabled(ctx context.Context, id int64, disabled bool) (model.Admin, error) {
	action := audit.AdminEnabled
	if disabled {
		action = audit.AdminDisabled
	}
	a, err := audit.Allowed(ctx, s.store, s.log, actor.Owner, action, strconv.FormatInt(id, 10))
	if err != nil {
		return model.Admin{}, err
	}
	e := audit.As(a, action, strconv.FormatInt(id, 10))
	if disabled && id == a.ID {
		return model.Admin{}, audit.RecordRefusal(ctx, s.store, s.log, e, errSelf)
	}
	return s.refused(ctx, e)(s.store.SetAdminDisabled(ctx, id, disabled, e))
}

// Delete removes admin id and ends their sessions. Deleting the last
// enabled Owner, or oneself, is refused.
func (s *Admins) Delete(ctx context.Context, id int64) (model.Admin, error) {
	a, err := audit.Allowed(ctx, s.store, s.log, actor.Owner, audit.AdminDeleted, strconv.FormatInt(id, 10))
	if err != nil {
		return model.Admin{}, err
	}
	e := audit.As(a, audit.AdminDeleted, strconv.FormatInt(id, 10))
	if id == a.ID {
		return model.Admin{}, audit.RecordRefusal(ctx, s.store, s.log, e, errSelf)
	}
	return s.refused(ctx, e)(s.store.DeleteAdmin(ctx, id, e))
}

// SessionRef names a session in URLs and pages without its id or the
// id's hash: the first 16 hex digits of a SHA-256 of the stored hash.
func SessionRef(ss model.Session) string {
	sum := sha256.Sum256(ss.IDHash)
	return hex.EncodeToString(sum[:8])
}

// Sessions lists admin id's sessions for an Owner.
func (s *Admins) Sessions(ctx context.Context, id int64) (model.Admin, []model.Session, error) {
	if _, err := actor.Admin(ctx); err != nil {
		return model.Admin{}, nil, err
	}
	a, err := s.store.Admin(ctx, id)
	if err != nil {
		return a, nil, err
	}
	ss, err := s.store.AdminSessions(ctx, id)
	return a, ss, err
}

// EndSessions ends admin id's session named ref (SessionRef), or all of
// them when ref is "". A ref that is not one of that admin's sessions
// (another admin's, or gone) is NotFound, audited as a failure, and ends
// nothing.
func (s *Admins) EndSessions(ctx context.Context, id int64, ref string) (int, error) {
	who, err := audit.Allowed(ctx, s.store, s.log, actor.Owner, audit.SessionsEnded, strconv.FormatInt(id, 10))
	if err != nil {
		return 0, err
	}
	e := audit.As(who, audit.SessionsEnded, strconv.FormatInt(id, 10))
	a, err := s.store.Admin(ctx, id)
	if err != nil {
		return 0, audit.RecordRefusal(ctx, s.store, s.log, e, err)
	}
	e.Target = a.Email
	var hashes [][]byte
	e.Detail = "all sessions"
	if ref != "" {
		ss, err := s.store.AdminSessions(ctx, id)
		if err != nil {
			return 0, err
		}
		for _, x := range ss {
			if SessionRef(x) == ref {
				hashes = append(hashes, x.IDHash)
			}
		}
		if len(hashes) == 0 {
			return 0, audit.RecordRefusal(ctx, s.store, s.log, e, apperr.New(apperr.NotFound, "That session has already ended, or is not this admin's."))
		}
		e.Detail = "session " + ref
	}
	return s.store.EndAdminSessions(ctx, id, hashes, e)
}

var errSelf = apperr.New(apperr.Conflict, "You cannot disable or delete your own account. Ask another Owner.")

// refused audits a Conflict or NotFound from the store as a refusal of e.
func (s *Admins) refused(ctx context.Context, e audit.Entry) func(model.Admin, error) (model.Admin, error) {
	return func(a model.Admin, err error) (model.Admin, error) {
		if apperr.Is(err, apperr.Conflict) || apperr.Is(err, apperr.NotFound) {
			return a, audit.RecordRefusal(ctx, s.store, s.log, e, err)
		}
		return a, err
	}
}

// CheckEmail says what is wrong with an admin's email, or "".
func CheckEmail(email string) string {
	if email == "" {
		return "Enter the email address the admin will sign in with."
	}
	a, err := mail.ParseAddress(email)
	if err != nil || a.Address != email || len(email) > 254 {
		return "Enter an email address such as admin@example.com."
	}
	return ""
}

// InitialPassword returns a new admin's first password: crypto/rand's
// Text (26 base32 characters, 130 bits), grouped by dashes for reading.
func InitialPassword() string {
	t := rand.Text()
	var b strings.Builder
	for i := 0; i < len(t); i += 5 {
		if i > 0 {
			b.WriteByte('-')
		}
		b.WriteString(t[i:min(i+5, len(t))])
	}
	return b.String()
}
