package store_test

import (
	"context"
	"testing"
	"time"

	"postern/internal/audit"
	"postern/internal/model"
	"postern/internal/replica"
	"postern/internal/testkit/pgtest"
)

// On PostgreSQL a write that changes what replicas serve from memory
// notifies the others when it commits, naming the kind and the replica;
// a write that fails notifies nobody.
func TestWritesNotifyTheOtherReplicas(t *testing.T) {
	url := pgtest.DatabaseURL(t)
	s := openURL(t, url, "a")
	got := make(chan model.Change, 16)
	ready := make(chan struct{})
	l := replica.NewListener(replica.ListenerOptions{URL: url, Name: "b",
		OnChange: func(_ context.Context, ch model.Change) { got <- ch }})
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx, ready) }()
	defer func() { stop(); <-done }()
	<-ready

	next := func(want string) {
		t.Helper()
		select {
		case ch := <-got:
			if ch.Kind != want || ch.Replica != "a" {
				t.Fatalf("notification %+v, want %s from a", ch, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no %s notification", want)
		}
	}
	e := audit.Entry{Actor: "admin@example.com", Action: audit.CheckCreated, Outcome: audit.Success}
	check := model.PostureCheck{Name: "Onboarded", DataSource: "defender", Mode: "enforce", Enabled: true,
		WhenUnavailable: "deny", Spec: `{"conditions":[{"kind":"onboarded"}]}`}
	if _, err := s.SavePostureCheck(ctx, check, "admin@example.com", e); err != nil {
		t.Fatal(err)
	}
	next(model.ChangePolicy)
	// The same name again is a conflict: rolled back, so nobody is told.
	if _, err := s.SavePostureCheck(ctx, check, "admin@example.com", e); err == nil {
		t.Fatal("a second check of the same name was saved")
	}
	tok := model.APIToken{Name: "gateway", Prefix: "pst_aaaa", Hash: []byte("h"), CreatedBy: "admin@example.com"}
	if _, err := s.CreateAPIToken(ctx, tok, e); err != nil {
		t.Fatal(err)
	}
	next(model.ChangeTokens)
	if err := s.Notify(ctx, model.ChangeSyncRequested); err != nil {
		t.Fatal(err)
	}
	next(model.ChangeSyncRequested)
	select {
	case ch := <-got:
		t.Fatalf("unexpected notification %+v", ch)
	case <-time.After(200 * time.Millisecond):
	}
}
