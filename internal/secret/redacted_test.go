package secret

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

const sentinel = "sentinel-Zk93-client-secret"

// credential is how later code carries a client secret.
type credential struct {
	ClientID     string
	ClientSecret Redacted
}

func TestRedactedFmt(t *testing.T) {
	r := Redacted(sentinel)
	c := credential{ClientID: "app", ClientSecret: r}
	verbs := []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%10.3s"}
	for _, verb := range verbs {
		for _, arg := range []any{r, &r, c, &c, []Redacted{r}, map[string]Redacted{"k": r}} {
			got := fmt.Sprintf(verb, arg)
			if strings.Contains(got, sentinel) || strings.Contains(got, fmt.Sprintf("%x", sentinel)) {
				t.Errorf("Sprintf(%q, %T) = %q, shows the secret", verb, arg, got)
			}
		}
	}
	if got := fmt.Sprint(r); got != "[redacted]" {
		t.Errorf("Sprint = %q, want [redacted]", got)
	}
	if got := fmt.Errorf("save: %v", r).Error(); got != "save: [redacted]" {
		t.Errorf("error text = %q, want %q", got, "save: [redacted]")
	}
}

func TestRedactedSlog(t *testing.T) {
	r := Redacted(sentinel)
	c := credential{ClientID: "app", ClientSecret: r}
	var buf bytes.Buffer
	handlers := []slog.Handler{slog.NewTextHandler(&buf, nil), slog.NewJSONHandler(&buf, nil)}
	for _, h := range handlers {
		log := slog.New(h)
		log.Info("saved", "secret", r, "cred", c, "ptr", &c)
		log.Info("saved", slog.Any("secret", r), slog.Group("g", "secret", r))
		log.With("secret", r).Error("failed", "err", fmt.Errorf("bad %v", r))
	}
	out := buf.String()
	if strings.Contains(out, sentinel) {
		t.Errorf("log output shows the secret:\n%s", out)
	}
	if !strings.Contains(out, "secret=[redacted]") || !strings.Contains(out, `"secret":"[redacted]"`) {
		t.Errorf("log output lacks the [redacted] placeholder:\n%s", out)
	}
}

func TestRedactedJSON(t *testing.T) {
	r := Redacted(sentinel)
	values := []any{r, &r, credential{ClientSecret: r}, map[string]Redacted{"k": r}, []Redacted{r}}
	for _, v := range values {
		data, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("json.Marshal(%T): %v", v, err)
		}
		if strings.Contains(string(data), sentinel) || !strings.Contains(string(data), "[redacted]") {
			t.Errorf("json.Marshal(%T) = %s, want [redacted] only", v, data)
		}
	}
	text, err := r.MarshalText()
	if err != nil || string(text) != "[redacted]" {
		t.Errorf("MarshalText = %q, %v; want [redacted]", text, err)
	}
}

func TestRedactedReveal(t *testing.T) {
	if got := Redacted(sentinel).Reveal(); got != sentinel {
		t.Errorf("Reveal = %q, want %q", got, sentinel)
	}
}
