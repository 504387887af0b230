// Package apperr is the one application error type. Every layer wraps
// low-level failures into an *Error with a Kind and a message that is safe to
// show an admin; the web layer maps kinds to HTTP status codes in one place.
package apperr

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Kind classifies an error for the caller; it decides the HTTP status.
type Kind int

const (
	Internal Kind = iota
	NotFound
	Invalid
	Conflict
	Unauthorized
	// Forbidden: the actor is known but may not do this.
	Forbidden
	Unavailable
)

func (k Kind) String() string {
	switch k {
	case NotFound:
		return "not found"
	case Invalid:
		return "invalid"
	case Conflict:
		return "conflict"
	case Unauthorized:
		return "unauthorized"
	case Forbidden:
		return "forbidden"
	case Unavailable:
		return "unavailable"
	default:
		return "internal"
	}
}

// Error carries a safe message for people and the underlying cause for logs.
type Error struct {
	Kind    Kind
	Message string // safe to show in the console
	Err     error  // cause, logged, never shown
	// Fields holds, for an Invalid input refused field by field, one
	// message per field (by its form name), each safe to show.
	Fields map[string]string
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %v", e.Message, e.Err)
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// New returns an error of the given kind with a message safe to display.
func New(kind Kind, format string, args ...any) *Error {
	return &Error{Kind: kind, Message: fmt.Sprintf(format, args...)}
}

// Wrap attaches a kind and safe message to a cause.
func Wrap(err error, kind Kind, format string, args ...any) *Error {
	return &Error{Kind: kind, Message: fmt.Sprintf(format, args...), Err: err}
}

// Fields returns an Invalid error that refuses the fields named in fields,
// each with its message; its own message is a summary naming them.
func Fields(fields map[string]string) *Error {
	return &Error{Kind: Invalid, Message: "Correct these fields: " + strings.Join(FieldNames(fields), ", ") + ".", Fields: fields}
}

// FieldsOf returns the per-field messages of the first *Error in err's
// chain, or nil when err refuses no field in particular.
func FieldsOf(err error) map[string]string {
	var e *Error
	if errors.As(err, &e) {
		return e.Fields
	}
	return nil
}

// FieldNames lists the fields of fields in order.
func FieldNames(fields map[string]string) []string {
	return slices.Sorted(maps.Keys(fields))
}

// KindOf reports the kind of the first *Error in err's chain, or Internal.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return Internal
}

// MessageOf returns the safe message of err, or a generic one for errors
// that carry none, so internal details never reach a page.
func MessageOf(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Message != "" {
		return e.Message
	}
	return "Something went wrong on our side. Try again; if it keeps happening, check the server log."
}

// Is reports whether err is an *Error of kind k.
func Is(err error, k Kind) bool {
	var e *Error
	return errors.As(err, &e) && e.Kind == k
}
