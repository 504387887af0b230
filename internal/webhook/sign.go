// Package webhook delivers signed events to the receivers an admin adds
// (Settings → Webhooks). The store writes each event to an outbox in the
// transaction of the change that caused it (internal/webhook/events);
// Service owns every change to an endpoint, each audited in its
// transaction; Worker delivers the outbox, signed as the Standard Webhooks
// specification says, retrying with exponential backoff and jitter for up
// to a day, off every path a request or a sync waits on.
package webhook

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"time"

	"postern/internal/secret"
)

// secretPrefix starts every signing secret, as Standard Webhooks writes them.
const secretPrefix = "whsec_"

// newSecret returns a new signing secret: whsec_ and 32 random bytes in
// standard base64.
func newSecret() secret.Redacted {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return secret.Redacted(secretPrefix + base64.StdEncoding.EncodeToString(b[:]))
}

// secretKey is the HMAC key of a whsec_ secret: the bytes its base64 holds.
func secretKey(s string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(s, secretPrefix))
	if err != nil || len(key) == 0 {
		return nil, errors.New("webhook: the stored signing secret is not whsec_ and base64")
	}
	return key, nil
}

// Sign returns the webhook-signature header of a message: "v1," and the
// base64 HMAC-SHA256, keyed with the secret's bytes, of
// "<id>.<timestamp>.<body>".
func Sign(key []byte, id string, ts time.Time, body []byte) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + strconv.FormatInt(ts.Unix(), 10) + "."))
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}
