package secret

import (
	"fmt"
	"log/slog"
)

// redactedText is what a Redacted shows in place of its content.
const redactedText = "[redacted]"

// Redacted carries a secret, such as a client secret, through structs,
// logs and JSON without showing it: every formatting path prints
// [redacted]. Only Reveal returns the content, so each real use is visible
// in review.
//
// Two gaps are Go's, not ours: fmt cannot call methods on unexported
// struct fields, so %v on a struct holding a Redacted in an unexported
// field prints the raw string; and encoding/json writes string-typed map
// keys as they are. Keep such fields exported (or give the struct its own
// String method), and never use a secret as a map key.
type Redacted string

// Reveal returns the secret itself, for the few places that must send it.
func (r Redacted) Reveal() string { return string(r) }

// String keeps %v and %s from showing the secret.
func (Redacted) String() string { return redactedText }

// GoString keeps %#v from showing the secret.
func (Redacted) GoString() string { return redactedText }

// Format covers every other verb (%d, %x, %q, ...): without it fmt would
// print the raw string in its bad-verb message.
func (Redacted) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(redactedText)) }

// LogValue keeps slog handlers from showing the secret.
func (Redacted) LogValue() slog.Value { return slog.StringValue(redactedText) }

// MarshalText keeps text encoders from showing the secret.
func (Redacted) MarshalText() ([]byte, error) { return []byte(redactedText), nil }

// MarshalJSON keeps encoding/json from showing the secret.
func (Redacted) MarshalJSON() ([]byte, error) { return []byte(`"` + redactedText + `"`), nil }
