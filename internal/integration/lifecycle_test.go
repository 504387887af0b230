package integration_test

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"postern/internal/apperr"
	"postern/internal/audit"
	"postern/internal/defender"
	"postern/internal/emulator"
	"postern/internal/integration"
	"postern/internal/secret"
)

func TestDisableKeepsCredentialsEnableRevalidates(t *testing.T) {
	const sec = "Life8Q~cycle.Sentinel-8642097531_mnbv"
	e := newEnv(t, sec)
	configured := e.configure()
	ctx := context.Background()

	if err := e.svc.Disable(asAdmin()); err != nil {
		t.Fatalf("Disable = %v", err)
	}
	disabled := e.row()
	if disabled.Enabled {
		t.Error("Enabled after Disable = true")
	}
	if disabled.ClientSecret != configured.ClientSecret || disabled.TenantID != configured.TenantID ||
		disabled.ClientID != configured.ClientID || disabled.Cloud != configured.Cloud || disabled.Region != configured.Region {
		t.Errorf("Disable changed the credentials:\nbefore %+v\nafter  %+v", configured, disabled)
	}
	if got := e.auditCount(audit.IntegrationDisabled, "success"); got != 1 {
		t.Errorf("integration.disabled success rows = %d, want 1", got)
	}

	// The secret expired while the integration was off: Enable must notice.
	e.emu.SetFaults(emulator.Faults{ExpiredSecret: true})
	tokens := e.emu.Stats().TokenRequests
	err := e.svc.Enable(asAdmin())
	var de *defender.Error
	if !errors.As(err, &de) {
		t.Fatalf("Enable with an expired secret = %v (%T), want *defender.Error", err, err)
	}
	if de.Reason != defender.SecretExpired || de.Code != "AADSTS7000222" {
		t.Errorf("Enable error = %q %q, want %q AADSTS7000222", de.Reason, de.Code, defender.SecretExpired)
	}
	if got := e.emu.Stats().TokenRequests; got != tokens+1 {
		t.Errorf("TokenRequests = %d, want %d (Enable validates against Microsoft)", got, tokens+1)
	}
	failed := e.row()
	if failed.Enabled {
		t.Error("Enabled = true after a failed Enable")
	}
	if failed.LastError == "" || failed.LastError != de.Text() {
		t.Errorf("LastError = %q, want the error's text %q", failed.LastError, de.Text())
	}
	if failed.LastErrorCode != "AADSTS7000222" {
		t.Errorf("LastErrorCode = %q, want AADSTS7000222", failed.LastErrorCode)
	}
	if failed.LastErrorAt == nil {
		t.Error("LastErrorAt = nil, want the time of the failure")
	}
	if failed.ClientSecret != configured.ClientSecret {
		t.Error("a failed Enable changed the stored secret")
	}
	if got := e.auditCount(audit.IntegrationEnabled, "failure"); got != 1 {
		t.Errorf("integration.enabled failure rows = %d, want 1", got)
	}
	if got := e.auditCount(audit.IntegrationEnabled, "success"); got != 0 {
		t.Errorf("integration.enabled success rows = %d, want 0", got)
	}
	d, err := e.svc.Defender(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if d.Enabled || d.LastErrorCode != "AADSTS7000222" || d.LastError == "" {
		t.Errorf("Defender() = %+v, want disabled with the last error", d)
	}

	// Fixed at Microsoft: Enable succeeds and clears the error.
	e.emu.SetFaults(emulator.Faults{})
	if err := e.svc.Enable(asAdmin()); err != nil {
		t.Fatalf("Enable after the fault cleared = %v", err)
	}
	enabled := e.row()
	if !enabled.Enabled {
		t.Error("Enabled = false after a successful Enable")
	}
	if enabled.LastError != "" || enabled.LastErrorCode != "" || enabled.LastErrorAt != nil {
		t.Errorf("last error = %q/%q/%v after Enable, want cleared", enabled.LastError, enabled.LastErrorCode, enabled.LastErrorAt)
	}
	if enabled.ClientSecret != configured.ClientSecret {
		t.Error("Enable changed the stored secret")
	}
	if got := e.auditCount(audit.IntegrationEnabled, "success"); got != 1 {
		t.Errorf("integration.enabled success rows = %d, want 1", got)
	}
	e.assertAuditHidesSecrets(sec)
}

func TestEnableDisableUnconfigured(t *testing.T) {
	e := newEnv(t, "Unc8Q~none.Sentinel-0000111122_qazw")
	if err := e.svc.Enable(asAdmin()); !apperr.Is(err, apperr.NotFound) {
		t.Errorf("Enable with nothing configured = %v, want NotFound", err)
	}
	if err := e.svc.Disable(asAdmin()); !apperr.Is(err, apperr.NotFound) {
		t.Errorf("Disable with nothing configured = %v, want NotFound", err)
	}
	if got := e.emu.Stats().TokenRequests; got != 0 {
		t.Errorf("TokenRequests = %d, want 0", got)
	}
	if rows := e.rawRows(); len(rows) != 0 {
		t.Errorf("rows = %v, want none", rows)
	}
}

func TestCheckSecrets(t *testing.T) {
	ctx := context.Background()

	t.Run("nothing stored", func(t *testing.T) {
		e := newEnv(t, "Chk8Q~empty.Sentinel-2222333344_edcr")
		if err := e.svc.CheckSecrets(ctx); err != nil {
			t.Errorf("CheckSecrets = %v, want nil", err)
		}
	})

	t.Run("passes with the sealing key", func(t *testing.T) {
		e := newEnv(t, "Chk8Q~ok.Sentinel-4444555566_rfvt")
		e.configure()
		if err := e.svc.CheckSecrets(ctx); err != nil {
			t.Errorf("CheckSecrets = %v, want nil", err)
		}
	})

	t.Run("another master key with the same id", func(t *testing.T) {
		const sec = "Chk8Q~other.Sentinel-6666777788_tgby"
		e := newEnv(t, sec)
		e.configure()
		other, _, err := secret.LoadKeyring("", filepath.Join(t.TempDir(), "master.key"))
		if err != nil {
			t.Fatal(err)
		}
		err = e.service(other).CheckSecrets(ctx)
		if err == nil {
			t.Fatal("CheckSecrets with a different master key = nil, want an error")
		}
		if !errors.Is(err, secret.ErrAuth) {
			t.Errorf("error = %v, want secret.ErrAuth in its chain", err)
		}
		for _, want := range []string{`key id "k1"`, `"defender"`} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not name %s", err, want)
			}
		}
		if strings.Contains(err.Error(), sec) {
			t.Errorf("error %q contains the secret", err)
		}
	})

	t.Run("sealing key missing from the keyring", func(t *testing.T) {
		e := newEnv(t, "Chk8Q~gone.Sentinel-8888999900_yhnu")
		e.configure()
		rotated, newID, err := e.kr.WithNewKey()
		if err != nil {
			t.Fatal(err)
		}
		retired, err := rotated.Without("k1")
		if err != nil {
			t.Fatal(err)
		}
		err = e.service(retired).CheckSecrets(ctx)
		if !errors.Is(err, secret.ErrUnknownKey) {
			t.Fatalf("CheckSecrets with k1 retired = %v, want secret.ErrUnknownKey", err)
		}
		if !strings.Contains(err.Error(), `key id "k1"`) {
			t.Errorf("error %q does not name the missing key k1", err)
		}
		if strings.Contains(err.Error(), `key id "`+newID+`"`) {
			t.Errorf("error %q blames the active key %s", err, newID)
		}
	})

	t.Run("sealed value moved to another row", func(t *testing.T) {
		e := newEnv(t, "Chk8Q~moved.Sentinel-1010101010_ujmi")
		in := e.configure()
		moved := in
		moved.Name = "moved"
		if err := e.st.SaveIntegration(ctx, moved, 0, audit.Entry{Action: "test.row_added", Outcome: audit.Success}); err != nil {
			t.Fatal(err)
		}
		err := e.svc.CheckSecrets(ctx)
		if !errors.Is(err, secret.ErrAuth) {
			t.Fatalf("CheckSecrets with a copied ciphertext = %v, want secret.ErrAuth", err)
		}
		if !strings.Contains(err.Error(), `"moved"`) || !strings.Contains(err.Error(), "message authentication failed") {
			t.Errorf("error %q does not name the row or the authentication failure", err)
		}
	})
}

// addRow stores a second integration whose secret is sealed for its own row.
func addRow(t *testing.T, e *env, kr *secret.Keyring, name, plain string) {
	t.Helper()
	ctx := context.Background()
	in := e.row()
	in.Name = name
	sealed, err := kr.Seal([]byte(plain), secret.Location{Table: "integrations", Column: "client_secret", Row: name})
	if err != nil {
		t.Fatal(err)
	}
	in.ClientSecret = sealed
	if err := e.st.SaveIntegration(ctx, in, 0, audit.Entry{Action: "test.row_added", Outcome: audit.Success}); err != nil {
		t.Fatal(err)
	}
}

func TestResealRotatesEverySecret(t *testing.T) {
	const sec = "Rot8Q~reseal.Sentinel-2020202020_ikol"
	const otherSecret = "Rot8Q~second.Sentinel-3030303030_plok"
	ctx := context.Background()
	e := newEnv(t, sec)
	e.configure()
	addRow(t, e, e.kr, "secondary", otherSecret)
	want := map[string]string{integration.Name: sec, "secondary": otherSecret}

	used, err := e.svc.KeysInUse(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(used, map[string]int{"k1": 2}) {
		t.Errorf("KeysInUse before = %v, want map[k1:2]", used)
	}

	rotated, newID, err := e.kr.WithNewKey()
	if err != nil {
		t.Fatal(err)
	}
	if newID == "k1" {
		t.Fatalf("new key id = %q, want a new one", newID)
	}
	n, err := e.svc.Reseal(asAdmin(), rotated)
	if err != nil {
		t.Fatalf("Reseal = %v", err)
	}
	if n != 2 {
		t.Errorf("Reseal re-encrypted %d secrets, want 2", n)
	}

	ins, err := e.st.Integrations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ins) != 2 {
		t.Fatalf("integrations = %d, want 2", len(ins))
	}
	for _, in := range ins {
		if id, err := secret.KeyID(in.ClientSecret); err != nil || id != newID {
			t.Errorf("%s: key id = %q, %v; want %q", in.Name, id, err, newID)
		}
		if !sealedPattern.MatchString(in.ClientSecret) {
			t.Errorf("%s: client_secret %q does not match %s", in.Name, in.ClientSecret, sealedPattern)
		}
		plain, err := rotated.Open(in.ClientSecret, secret.Location{Table: "integrations", Column: "client_secret", Row: in.Name})
		if err != nil {
			t.Errorf("%s: Open after rotation: %v", in.Name, err)
		} else if string(plain) != want[in.Name] {
			t.Errorf("%s: opens to %q, want %q", in.Name, plain, want[in.Name])
		}
	}

	used, err = e.svc.KeysInUse(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(used, map[string]int{newID: 2}) {
		t.Errorf("KeysInUse after = %v, want only %s:2", used, newID)
	}

	rot := e.audit("key.rotated")
	if len(rot) != 1 {
		t.Fatalf("key.rotated audit rows = %d, want 1", len(rot))
	}
	if rot[0].Outcome != "success" || !strings.Contains(rot[0].Target, newID) || rot[0].Actor != admin.Email {
		t.Errorf("key.rotated row = %+v, want success by %s naming %s", rot[0], admin.Email, newID)
	}
	e.assertAuditHidesSecrets(sec, otherSecret)

	// Start-up check: the new keyring opens everything; the old one, which
	// lacks the new key, names it.
	if err := e.service(rotated).CheckSecrets(ctx); err != nil {
		t.Errorf("CheckSecrets with the rotated keyring = %v, want nil", err)
	}
	if err := e.svc.CheckSecrets(ctx); err == nil || !strings.Contains(err.Error(), `key id "`+newID+`"`) {
		t.Errorf("CheckSecrets with the pre-rotation keyring = %v, want an error naming %s", err, newID)
	}
	// The old key can now be retired and everything still opens.
	retired, err := rotated.Without("k1")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.service(retired).CheckSecrets(ctx); err != nil {
		t.Errorf("CheckSecrets after retiring k1 = %v, want nil", err)
	}
	// And the service on the new keyring still validates with the stored secret.
	in := e.good()
	in.ClientSecret = ""
	if _, err := e.service(retired).Configure(asAdmin(), in); err != nil {
		t.Errorf("Configure keeping the resealed secret = %v, want nil", err)
	}
}

// A secret the keyring cannot open stops the rotation: nothing is rewritten.
func TestResealIsAllOrNothing(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, "Rot8Q~atomic.Sentinel-4040404040_qwas")
	e.configure()
	stranger, _, err := secret.LoadKeyring("", filepath.Join(t.TempDir(), "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	// "zz-orphan" sorts after "defender", so the first row is resealed before the failure.
	addRow(t, e, stranger, "zz-orphan", "Rot8Q~orphan.Sentinel-5050505050")
	before := e.rawRows()

	rotated, _, err := e.kr.WithNewKey()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Reseal(asAdmin(), rotated); err == nil {
		t.Fatal("Reseal with an unopenable secret = nil, want an error")
	}
	if after := e.rawRows(); !slices.Equal(after, before) {
		t.Errorf("rows changed by a failed rotation:\nbefore %v\nafter  %v", before, after)
	}
	if got := e.audit("key.rotated"); len(got) != 0 {
		t.Errorf("key.rotated rows = %+v, want none after a failed rotation", got)
	}
	used, err := e.svc.KeysInUse(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(used, map[string]int{"k1": 2}) {
		t.Errorf("KeysInUse = %v, want map[k1:2]", used)
	}
}

// rotate-key while Postern runs: the key file gains k2 and the secret is
// re-sealed under it. The running service reads the key file again the
// first time it meets k2, and from then on seals under k2 too; one without
// a way to reload fails as before.
func TestRunningServiceLoadsRotatedKey(t *testing.T) {
	const sec = "Rot8Q~running.Sentinel-4040404040_mnbv"
	ctx := context.Background()
	e := newEnv(t, sec)
	path := filepath.Join(t.TempDir(), "master.key")
	if err := secret.WriteKeyring(path, e.kr); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(e.logs, nil))
	reloads := 0
	running := integration.New(e.st, e.kr, log, integration.Options{LoginURL: e.url, APIURL: e.url,
		ReloadKeyring: func() (*secret.Keyring, error) {
			reloads++
			return secret.ReadKeyring("", path)
		}})
	stale := integration.New(e.st, e.kr, log, integration.Options{LoginURL: e.url, APIURL: e.url})
	if _, err := running.Configure(asAdmin(), integration.Input{TenantID: emulator.DemoTenantID, ClientID: emulator.DemoClientID,
		ClientSecret: secret.Redacted(sec)}); err != nil {
		t.Fatal(err)
	}

	// postern rotate-key, from another process.
	rotated, newID, err := e.kr.WithNewKey()
	if err != nil {
		t.Fatal(err)
	}
	if err := secret.WriteKeyring(path, rotated); err != nil {
		t.Fatal(err)
	}
	if _, err := e.service(rotated).Reseal(asAdmin(), rotated); err != nil {
		t.Fatal(err)
	}

	if _, _, err := stale.Client(ctx); !errors.Is(err, secret.ErrUnknownKey) {
		t.Fatalf("a service that cannot reload: Client = %v, want ErrUnknownKey", err)
	}
	for range 2 {
		if _, _, err := running.Client(ctx); err != nil {
			t.Fatalf("after rotate-key: Client = %v", err)
		}
	}
	if reloads != 1 || !strings.Contains(e.logs.String(), "master key reloaded") {
		t.Fatalf("%d reloads, want 1 logged:\n%s", reloads, e.logs.String())
	}
	// A secret saved now is sealed under the new key.
	if _, err := running.Configure(asAdmin(), integration.Input{TenantID: emulator.DemoTenantID, ClientID: emulator.DemoClientID,
		ClientSecret: secret.Redacted(sec)}); err != nil {
		t.Fatal(err)
	}
	in, err := e.st.Integration(ctx, integration.Name)
	if err != nil {
		t.Fatal(err)
	}
	if id, _ := secret.KeyID(in.ClientSecret); id != newID {
		t.Fatalf("saved under %q after the reload, want %q", id, newID)
	}
}
