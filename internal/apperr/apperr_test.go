package apperr_test

import (
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"testing"

	"postern/internal/apperr"
)

func TestKindOfMessageOfIsThroughWrapping(t *testing.T) {
	cause := errors.New("UNIQUE constraint failed: admins.email")
	base := apperr.Wrap(cause, apperr.Conflict, "%s already exists.", "Admin")
	wrapped := fmt.Errorf("store: create admin: %w", base)
	twice := fmt.Errorf("web: setup: %w", wrapped)
	joined := errors.Join(errors.New("other"), wrapped)

	for _, tc := range []struct {
		name string
		err  error
	}{
		{"direct", base},
		{"wrapped once", wrapped},
		{"wrapped twice", twice},
		{"joined", joined},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := apperr.KindOf(tc.err); got != apperr.Conflict {
				t.Errorf("KindOf = %v, want conflict", got)
			}
			if got := apperr.MessageOf(tc.err); got != "Admin already exists." {
				t.Errorf("MessageOf = %q, want %q", got, "Admin already exists.")
			}
			if !apperr.Is(tc.err, apperr.Conflict) {
				t.Error("Is(Conflict) = false, want true")
			}
			if apperr.Is(tc.err, apperr.NotFound) {
				t.Error("Is(NotFound) = true, want false")
			}
			if !errors.Is(tc.err, cause) {
				t.Error("errors.Is(err, cause) = false: the cause must stay reachable for logs")
			}
		})
	}
}

func TestOuterErrorWins(t *testing.T) {
	inner := apperr.Wrap(sql.ErrNoRows, apperr.NotFound, "Device was not found.")
	outer := apperr.Wrap(fmt.Errorf("sync: %w", inner), apperr.Unavailable, "Defender is unreachable.")
	if got := apperr.KindOf(outer); got != apperr.Unavailable {
		t.Errorf("KindOf = %v, want the outermost kind unavailable", got)
	}
	if got := apperr.MessageOf(outer); got != "Defender is unreachable." {
		t.Errorf("MessageOf = %q, want the outermost message", got)
	}
	if !apperr.Is(outer, apperr.Unavailable) {
		t.Error("Is(Unavailable) = false")
	}
	if !errors.Is(outer, sql.ErrNoRows) {
		t.Error("errors.Is(outer, sql.ErrNoRows) = false")
	}
}

func TestPlainErrorsAreInternalAndHidden(t *testing.T) {
	const secret = "dial tcp 10.0.0.5:5432: password=hunter2"
	for _, tc := range []struct {
		name string
		err  error
	}{
		{"plain", errors.New(secret)},
		{"wrapped plain", fmt.Errorf("store: %w", errors.New(secret))},
		{"apperr without message", &apperr.Error{Kind: apperr.Invalid, Err: errors.New(secret)}},
		{"nil", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msg := apperr.MessageOf(tc.err)
			if msg == "" {
				t.Error("MessageOf = \"\", want the generic message")
			}
			if strings.Contains(msg, "hunter2") || strings.Contains(msg, "10.0.0.5") || strings.Contains(msg, "dial tcp") {
				t.Errorf("MessageOf = %q, leaks the error text", msg)
			}
			if msg != apperr.MessageOf(errors.New("anything else")) {
				t.Errorf("MessageOf = %q, want the same generic message for every plain error", msg)
			}
		})
	}
	if got := apperr.KindOf(errors.New(secret)); got != apperr.Internal {
		t.Errorf("KindOf(plain) = %v, want internal", got)
	}
	if got := apperr.KindOf(nil); got != apperr.Internal {
		t.Errorf("KindOf(nil) = %v, want internal", got)
	}
	if apperr.Is(nil, apperr.Internal) {
		t.Error("Is(nil, Internal) = true, want false")
	}
	if apperr.Is(errors.New(secret), apperr.Internal) {
		t.Error("Is(plain, Internal) = true, want false (only *Error values have a kind)")
	}
}

func TestNewAndWrap(t *testing.T) {
	e := apperr.New(apperr.Invalid, "Field %q is %s.", "name", "required")
	if e.Kind != apperr.Invalid || e.Message != `Field "name" is required.` || e.Err != nil {
		t.Errorf("New = %+v", e)
	}
	if e.Error() != `Field "name" is required.` {
		t.Errorf("Error() = %q", e.Error())
	}
	if e.Unwrap() != nil {
		t.Errorf("Unwrap() = %v, want nil", e.Unwrap())
	}
	cause := errors.New("cause")
	w := apperr.Wrap(cause, apperr.Unauthorized, "Sign in again.")
	if w.Error() != "Sign in again.: cause" {
		t.Errorf("Error() = %q, want message and cause for logs", w.Error())
	}
	if w.Unwrap() != cause {
		t.Errorf("Unwrap() = %v, want the cause", w.Unwrap())
	}
	// A message with a percent sign and no args is not a format problem
	// for callers that pass user-facing text.
	if got := apperr.New(apperr.Invalid, "%s", "100% done").Message; got != "100% done" {
		t.Errorf("Message = %q", got)
	}
}

func TestKindString(t *testing.T) {
	for k, want := range map[apperr.Kind]string{
		apperr.Internal: "internal", apperr.NotFound: "not found", apperr.Invalid: "invalid",
		apperr.Conflict: "conflict", apperr.Unauthorized: "unauthorized", apperr.Forbidden: "forbidden", apperr.Unavailable: "unavailable",
		apperr.Kind(99): "internal",
	} {
		if got := k.String(); got != want {
			t.Errorf("Kind(%d).String() = %q, want %q", int(k), got, want)
		}
	}
}

// Fields makes an Invalid error whose per-field messages come back through
// wrapping; its message names the fields; errors without fields have none.
func TestFieldsThroughWrapping(t *testing.T) {
	fields := map[string]string{"reason": "Say why.", "expires_on": "Choose a date after today."}
	err := fmt.Errorf("policy: %w", apperr.Fields(fields))
	if !apperr.Is(err, apperr.Invalid) {
		t.Errorf("KindOf = %v, want invalid", apperr.KindOf(err))
	}
	got := apperr.FieldsOf(err)
	if len(got) != 2 || got["reason"] != "Say why." || got["expires_on"] != "Choose a date after today." {
		t.Errorf("FieldsOf = %v, want %v", got, fields)
	}
	if msg := apperr.MessageOf(err); msg != "Correct these fields: expires_on, reason." {
		t.Errorf("MessageOf = %q", msg)
	}
	for _, other := range []error{apperr.New(apperr.Invalid, "x"), errors.New("plain"), nil} {
		if got := apperr.FieldsOf(other); got != nil {
			t.Errorf("FieldsOf(%v) = %v, want nil", other, got)
		}
	}
}
