package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/gorilla/sessions"

	"postern/internal/apperr"
	"postern/internal/model"
)

// Session lifetimes: an idle session ends after IdleTimeout; any session ends
// AbsoluteTimeout after sign-in, however active.
const (
	DefaultIdleTimeout     = 30 * time.Minute
	DefaultAbsoluteTimeout = 12 * time.Hour
	touchEvery             = time.Minute
	// touchWait bounds how long a request waits for the database's writer
	// to record activity (see touch).
	touchWait = time.Second
)

// adminIDKey is the session value holding the signed-in admin's id.
const adminIDKey = "admin_id"

// SessionRows is what SessionStore needs of the database: the session rows.
type SessionRows interface {
	Session(ctx context.Context, idHash []byte) (model.Session, error)
	InsertSession(ctx context.Context, ss model.Session) error
	UpdateSession(ctx context.Context, ss model.Session) error
	TouchSession(ctx context.Context, idHash []byte, at time.Time) error
	DeleteSession(ctx context.Context, idHash []byte) error
}

// SessionStore is a gorilla/sessions Store that keeps sessions in SQLite. The
// cookie carries only a random id; the row is looked up by its SHA-256, so
// sessions can be revoked and expire on the server whatever the browser keeps.
type SessionStore struct {
	db              SessionRows
	now             func() time.Time
	IdleTimeout     time.Duration
	AbsoluteTimeout time.Duration
	// Secure reports whether the request came over HTTPS; it sets the
	// cookie's Secure attribute.
	Secure func(r *http.Request) bool
}

var _ sessions.Store = (*SessionStore)(nil)

// NewSessionStore returns a store with the default timeouts.
func NewSessionStore(db SessionRows, now func() time.Time) *SessionStore {
	if now == nil {
		now = time.Now
	}
	return &SessionStore{
		db: db, now: now,
		IdleTimeout: DefaultIdleTimeout, AbsoluteTimeout: DefaultAbsoluteTimeout,
		Secure: func(r *http.Request) bool { return r.TLS != nil },
	}
}

// Get returns the request's session, cached for the rest of the request.
func (s *SessionStore) Get(r *http.Request, name string) (*sessions.Session, error) {
	return sessions.GetRegistry(r).Get(s, name)
}

// New loads the session named by the cookie, or starts an empty one when the
// cookie is absent, unknown or expired.
func (s *SessionStore) New(r *http.Request, name string) (*sessions.Session, error) {
	sess := sessions.NewSession(s, name)
	sess.Options = &sessions.Options{Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode}
	sess.IsNew = true
	c, err := r.Cookie(name)
	if err != nil || c.Value == "" {
		return sess, nil
	}
	ctx := r.Context()
	row, err := s.db.Session(ctx, hashID(c.Value))
	if apperr.Is(err, apperr.NotFound) {
		return sess, nil
	}
	if err != nil {
		return sess, err
	}
	now := s.now()
	if now.Sub(row.LastSeenAt) > s.IdleTimeout || now.Sub(row.CreatedAt) > s.AbsoluteTimeout {
		return sess, s.db.DeleteSession(ctx, row.IDHash)
	}
	if err := decodeValues(row.Data, sess.Values); err != nil {
		return sess, err
	}
	if row.AdminID != 0 {
		sess.Values[adminIDKey] = row.AdminID
	}
	sess.ID = c.Value
	sess.IsNew = false
	if now.Sub(row.LastSeenAt) >= touchEvery {
		s.touch(ctx, row.IDHash, now)
	}
	return sess, nil
}

// touch records activity on a session, waiting at most touchWait for the
// database's writer. Activity is bookkeeping: a page must not wait behind a
// long write (a sync applying 100,000 devices, the verdict history it
// records) just to note that its admin is still there, nor fail when that
// note cannot be written. A touch that times out or fails is tried again by
// the session's next request; a missed minute cannot end a session that
// idles out after half an hour.
func (s *SessionStore) touch(ctx context.Context, idHash []byte, at time.Time) {
	ctx, cancel := context.WithTimeout(ctx, touchWait)
	defer cancel()
	_ = s.db.TouchSession(ctx, idHash, at)
}

// Save writes the session and its cookie. MaxAge < 0 revokes it: the row is
// deleted and the cookie expired.
func (s *SessionStore) Save(r *http.Request, w http.ResponseWriter, sess *sessions.Session) error {
	ctx := r.Context()
	if sess.Options != nil && sess.Options.MaxAge < 0 {
		if sess.ID != "" {
			if err := s.db.DeleteSession(ctx, hashID(sess.ID)); err != nil {
				return err
			}
		}
		http.SetCookie(w, s.cookie(r, sess.Name(), "", -1))
		return nil
	}
	if sess.ID == "" {
		id, err := newID()
		if err != nil {
			return err
		}
		sess.ID = id
		sess.IsNew = true
	}
	err := s.write(ctx, sess)
	if apperr.Is(err, apperr.NotFound) {
		// Revoked while this request ran: do not bring it back.
		http.SetCookie(w, s.cookie(r, sess.Name(), "", -1))
		return nil
	}
	if err != nil {
		return err
	}
	http.SetCookie(w, s.cookie(r, sess.Name(), sess.ID, 0))
	return nil
}

// Rotate gives the session a fresh id and deletes the old row, so an id
// planted before sign-in is useless afterwards.
func (s *SessionStore) Rotate(r *http.Request, w http.ResponseWriter, sess *sessions.Session) error {
	if sess.ID != "" {
		if err := s.db.DeleteSession(r.Context(), hashID(sess.ID)); err != nil {
			return err
		}
	}
	sess.ID = ""
	sess.IsNew = true
	return s.Save(r, w, sess)
}

// write inserts a new session or updates a loaded one. A loaded session is
// only ever updated, so a concurrent revocation cannot be undone by a late
// save.
func (s *SessionStore) write(ctx context.Context, sess *sessions.Session) error {
	data, adminID, err := encodeValues(sess.Values)
	if err != nil {
		return err
	}
	now := s.now()
	row := model.Session{IDHash: hashID(sess.ID), AdminID: adminID, Data: data, CreatedAt: now, LastSeenAt: now}
	if sess.IsNew {
		if err := s.db.InsertSession(ctx, row); err != nil {
			return err
		}
		sess.IsNew = false
		return nil
	}
	return s.db.UpdateSession(ctx, row)
}

// cookie builds the session cookie with every attribute set explicitly: the
// library defaults (SameSite=None, no HttpOnly) are unsafe.
func (s *SessionStore) cookie(r *http.Request, name, value string, maxAge int) *http.Cookie {
	c := &http.Cookie{
		Name: name, Value: value, Path: "/", HttpOnly: true,
		Secure: s.Secure(r), SameSite: http.SameSiteLaxMode, MaxAge: maxAge,
	}
	if maxAge < 0 {
		c.Expires = time.Unix(1, 0)
	}
	return c
}

// AdminID returns the signed-in admin of sess, or 0.
func AdminID(sess *sessions.Session) int64 {
	id, _ := sess.Values[adminIDKey].(int64)
	return id
}

// SetAdminID marks sess as signed in as admin id.
func SetAdminID(sess *sessions.Session, id int64) { sess.Values[adminIDKey] = id }

func hashID(id string) []byte {
	h := sha256.Sum256([]byte(id))
	return h[:]
}

func newID() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("auth: session id: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// encodeValues stores everything but the admin id as JSON. Keys must be
// strings; flashes are lists of strings.
func encodeValues(v map[any]any) (string, int64, error) {
	out := make(map[string]any, len(v))
	var adminID int64
	for k, val := range v {
		ks, ok := k.(string)
		if !ok {
			return "", 0, fmt.Errorf("auth: session key %v is not a string", k)
		}
		if ks == adminIDKey {
			adminID, _ = val.(int64)
			continue
		}
		out[ks] = val
	}
	b, err := json.Marshal(out)
	return string(b), adminID, err
}

func decodeValues(data string, into map[any]any) error {
	var m map[string]any
	if err := json.Unmarshal([]byte(data), &m); err != nil {
		return fmt.Errorf("auth: decode session: %w", err)
	}
	for k, v := range m {
		into[k] = v
	}
	return nil
}
