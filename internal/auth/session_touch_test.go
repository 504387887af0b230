package auth_test

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"postern/internal/auth"
	"postern/internal/testkit/teststore"
	"postern/store"
)

// A request that is due to record its session's activity while another
// connection holds the database's write lock (as a sync's apply does) is
// still answered with its session: activity is bookkeeping, recorded by a
// later request once the writer is free.
func TestSessionTouchDoesNotWaitForTheWriter(t *testing.T) {
	path := teststore.Path(t)
	clock := newFakeClock()
	db := teststore.OpenAt(t, path, store.Options{Now: clock.Now})
	a, err := db.CreateFirstAdmin(context.Background(), "admin@example.com", "$argon2id$unused")
	if err != nil {
		t.Fatalf("CreateFirstAdmin: %v", err)
	}
	e := &sessionEnv{db: db, clock: clock, ss: auth.NewSessionStore(db, clock.Now), admin: a}
	start := clock.Now()
	c := e.signIn(t)

	// Hold the write lock from a connection of our own, for longer than the
	// store's busy timeout.
	other, err := sql.Open("sqlite", store.DSN(path, true))
	if err != nil {
		t.Fatalf("open a second connection: %v", err)
	}
	defer other.Close()
	writer, err := other.Conn(context.Background())
	if err != nil {
		t.Fatalf("conn: %v", err)
	}
	defer writer.Close()
	if _, err := writer.ExecContext(context.Background(), "BEGIN IMMEDIATE"); err != nil {
		t.Fatalf("BEGIN IMMEDIATE: %v", err)
	}

	// Waiting for the writer would end in the store's busy timeout and fail
	// the request.
	clock.Advance(2 * time.Minute)
	if _, sess := e.get(t, c); sess.IsNew || auth.AdminID(sess) != a.ID {
		t.Errorf("with the writer busy: IsNew %v, admin %d; want the signed-in session", sess.IsNew, auth.AdminID(sess))
	}
	if row, err := e.row(t, c); err != nil || !row.LastSeenAt.Equal(start) {
		t.Fatalf("while the writer was busy: last_seen %v (err %v), want unchanged %v", row.LastSeenAt, err, start)
	}

	// The writer is free again: the next request records the activity.
	if _, err := writer.ExecContext(context.Background(), "ROLLBACK"); err != nil {
		t.Fatalf("ROLLBACK: %v", err)
	}
	clock.Advance(time.Second)
	e.get(t, c)
	if row, err := e.row(t, c); err != nil || !row.LastSeenAt.Equal(clock.Now()) {
		t.Errorf("after the writer was free: last_seen %v (err %v), want %v", row.LastSeenAt, err, clock.Now())
	}
}
