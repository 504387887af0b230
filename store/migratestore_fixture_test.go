package store_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"postern/internal/actor"
	"postern/internal/audit"
	"postern/internal/model"
	"postern/internal/secret"
	"postern/internal/webhook/events"
	"postern/store"
)

// The populated installation migrate-store's tests copy: every table of the
// schema holds rows, each written through the store's own methods, as a
// running Postern writes them.

// clientSecret is the Defender client secret the fixture seals.
const clientSecret = "defender-client-secret-value"

// fixtureDevices is how many devices the fixture's sync applies.
const fixtureDevices = 40

// emptyInFixture lists the tables the fixture leaves empty, with the
// reason; every other table must hold rows, so that a new table's types
// are copied and verified by TestMigrateStoreCopiesEverything.
var emptyInFixture = map[string]string{
	"audit_prune":  "the pruning transaction's cutoff, removed before it commits: always empty between transactions",
	"sync_leader":  "the sync leader's term, written by the replica elected on PostgreSQL; on SQLite (one process) always empty",
	"replica_keys": "the key ids each replica holds, reported by replicas on PostgreSQL; on SQLite (one process) always empty",
}

func fixtureEntry(action, target string) audit.Entry {
	return audit.Entry{Actor: "owner@example.com", SourceIP: "192.0.2.9", Action: action, Target: target, Outcome: audit.Success}
}

func fixtureDevice(i int, version string) model.Device {
	id := fmt.Sprintf("%040x", i+1)
	first := time.Date(2026, 11, 1, 8, 0, 0, 123456789, time.UTC)
	last := first.Add(time.Duration(i) * time.Minute)
	ptr := func(s string) *string { return &s }
	build := int64(22631 + i%3)
	return model.Device{ID: id, Host: fmt.Sprintf("Laptop-%03d.contoso.com", i), AADDeviceID: ptr(fmt.Sprintf("aad-%03d", i)),
		OSPlatform: []string{"Windows11", "macOS", "Linux"}[i%3], OSVersion: ptr("23H2"), OSBuild: &build, HealthStatus: "Active",
		RiskScore: ptr([]string{"Low", "Medium", "High"}[i%3]), ExposureLevel: ptr("Medium"), OnboardingStatus: "Onboarded",
		AVStatus: ptr("Updated"), IsAADJoined: i%2 == 0, PotentialDuplicate: i%5 == 0, IsExcluded: i%7 == 0, FirstSeen: &first, LastSeen: &last,
		LastIP: ptr("10.0.0.1"), RBACGroup: ptr("Laptops-EU"), Tags: []string{"all", fmt.Sprintf("Group-%d", i%4)},
		AgentVersion: ptr("10.8760.26100.1"), DeviceValue: ptr("Normal"),
		Raw: []byte(`{"id":"` + id + `","v":"` + version + `"}`), ContentHash: []byte(version + id)}
}

// fillEveryTable writes the fixture into s, sealing the secrets with kr.
func fillEveryTable(t *testing.T, s *store.Store, kr *secret.Keyring) {
	ctx := context.Background()
	must := func(err error, what string) {
		t.Helper()
		if err != nil {
			t.Fatalf("fixture: %s: %v", what, err)
		}
	}
	admin, err := s.CreateFirstAdmin(ctx, "Owner@Example.com", "$argon2id$v=19$fixture")
	must(err, "CreateFirstAdmin")
	now := s.Now()
	must(s.InsertSession(ctx, model.Session{IDHash: []byte{0, 1, 2, 0xfe, 0xff}, AdminID: admin.ID, Data: `{"csrf":"x"}`,
		CreatedAt: now, LastSeenAt: now}), "InsertSession")
	must(s.InsertSession(ctx, model.Session{IDHash: []byte("anonymous"), Data: `{}`, CreatedAt: now, LastSeenAt: now}), "InsertSession")
	_, err = s.LoginAttempt(ctx, [][]byte{{0, 0xfe, 0xff}}, 10, now.Add(-time.Minute), now, true)
	must(err, "LoginAttempt")

	sealed, err := kr.Seal([]byte(clientSecret), secret.Location{Table: "integrations", Column: "client_secret", Row: "defender"})
	must(err, "Seal")
	expires := time.Date(2027, 1, 31, 0, 0, 0, 0, time.UTC)
	must(s.SaveIntegration(ctx, model.Integration{Name: "defender", TenantID: "tenant", ClientID: "client", ClientSecret: sealed,
		SecretExpiresOn: &expires, Cloud: "global", Region: "eu", Enabled: true, ConfiguredBy: "owner@example.com",
		ConfiguredAt: now, UpdatedAt: now}, 0, fixtureEntry(audit.IntegrationConfigured, "defender")), "SaveIntegration")
	key, err := kr.Seal([]byte("-----BEGIN PRIVATE KEY-----"), secret.Location{Table: "pending_certificates", Column: "private_key", Row: "defender"})
	must(err, "Seal")
	must(s.SavePendingCertificate(ctx, model.PendingCertificate{Name: "defender", Certificate: "-----BEGIN CERTIFICATE-----",
		PrivateKey: key, CreatedBy: "owner@example.com", CreatedAt: now}, fixtureEntry(audit.CertificateGenerated, "defender")), "SavePendingCertificate")

	// Two-factor: a sealed secret bound to the admin's id, hashed
	// recovery codes (one used), and the requirement setting.
	totp, err := kr.Seal([]byte("JBSWY3DPEHPK3PXP"), secret.Location{Table: "admins", Column: "mfa_secret", Row: strconv.FormatInt(admin.ID, 10)})
	must(err, "Seal")
	must(s.SetMFAPending(ctx, admin.ID, totp), "SetMFAPending")
	must(s.EnableMFA(ctx, admin.ID, totp, 57000000, [][]byte{{0, 1}, {0xff, 0}}, fixtureEntry(audit.MFAEnrolled, "")), "EnableMFA")
	_, err = s.UseRecoveryCode(ctx, admin.ID, []byte{0, 1}, fixtureEntry(audit.MFARecoveryCodeUsed, ""))
	must(err, "UseRecoveryCode")
	must(s.SetSetting(ctx, "require_mfa", "on", fixtureEntry(audit.MFARequired, "")), "SetSetting")
	_, err = s.PasskeyHandle(ctx, admin.ID, []byte{0, 0xff, 7})
	must(err, "PasskeyHandle")
	pk, err := s.AddPasskey(ctx, model.Passkey{AdminID: admin.ID, Name: "YubiKey 5", RPID: "postern.example.com",
		CredentialID: []byte{0, 1, 0xfe}, Credential: []byte(`{"id":"AAH-"}`)}, fixtureEntry(audit.PasskeyAdded, ""))
	must(err, "AddPasskey")
	_, err = s.UsePasskey(ctx, admin.ID, pk.ID, []byte(`{"id":"AAH-","n":1}`), []byte{9, 0})
	must(err, "UsePasskey")

	fillSignIn(t, s, kr, must)
	fillSync(t, s, must)
	fillPosture(t, s, must)
	fillWebhooks(t, s, kr, must)

	tok, err := s.CreateAPIToken(ctx, model.APIToken{Name: "gateway", Prefix: "pst_fixture", Hash: []byte{0xde, 0xad, 0, 0xbe, 0xef},
		CreatedBy: "owner@example.com", IdentitySource: model.IdentityCertificate}, fixtureEntry(audit.APITokenCreated, "gateway"))
	must(err, "CreateAPIToken")
	must(s.TouchAPITokens(ctx, map[int64]time.Time{tok.ID: now}), "TouchAPITokens")
	old, err := s.CreateAPIToken(ctx, model.APIToken{Name: "old", Prefix: "pst_old", Hash: []byte("h"), CreatedBy: "owner@example.com"},
		fixtureEntry(audit.APITokenCreated, "old"))
	must(err, "CreateAPIToken")
	_, err = s.RevokeAPIToken(ctx, old.ID, fixtureEntry(audit.APITokenRevoked, "old"))
	must(err, "RevokeAPIToken")
	var ds []model.Decision
	for i := range 30 {
		ds = append(ds, model.Decision{At: now.Add(time.Duration(i) * time.Second), DeviceID: fixtureDevice(i, "").ID,
			Hostname: fixtureDevice(i, "").Host, MatchedBy: "hostname", MatchedKey: "laptop", Result: model.DecisionDenied,
			Checks:  []model.DecisionCheck{{ID: 1, Name: "Firewall", Mode: "enforce", Result: "fail", Reasons: []string{"off"}}},
			TokenID: tok.ID, Source: "10.1.2.3"})
	}
	// Some decisions' device keys in the device index, the rest recent.
	must(s.AppendDecisions(ctx, ds[:20]), "AppendDecisions")
	_, err = s.IndexDecisions(ctx)
	must(err, "IndexDecisions")
	must(s.AppendDecisions(ctx, ds[20:]), "AppendDecisions")
}

// fillSync applies a sync of fixtureDevices devices, its antivirus report,
// then a run the removal guard holds.
func fillSync(t *testing.T, s *store.Store, must func(error, string)) {
	ctx := context.Background()
	run, err := s.StartRun(ctx, "defender", "manual")
	must(err, "StartRun")
	var page []model.Device
	for i := range fixtureDevices {
		page = append(page, fixtureDevice(i, "v1"))
	}
	must(s.StageDevices(ctx, run.ID, page), "StageDevices")
	run.Outcome, run.Seen, run.Pages = model.RunSuccess, len(page), 1
	run, err = s.FinishRun(ctx, run, fixtureEntry(audit.SyncRun, "defender"))
	must(err, "FinishRun")
	pub := s.Now()
	var av []model.DeviceAV
	for i := range 5 {
		av = append(av, model.DeviceAV{MachineID: page[i].ID, Mode: "0", SignatureVersion: "1.419.1.0", SignatureUpToDate: "True",
			SignaturePublishedAt: &pub, EngineVersion: "1.1", EngineUpToDate: "True", PlatformVersion: "4.18", PlatformUpToDate: "True",
			QuickScanResult: "Completed", FullScanResult: "Completed", RefreshedAt: &pub, Hash: -int64(i) * 1 << 60})
	}
	_, err = s.ApplyAV(ctx, model.AVRun{RunID: run.ID, OK: true, Machines: len(av)}, av)
	must(err, "ApplyAV")

	held, err := s.StartRun(ctx, "defender", "schedule")
	must(err, "StartRun")
	must(s.StageDevices(ctx, held.ID, page[:10]), "StageDevices")
	held.Outcome, held.Seen, held.Pages = model.RunSuccess, 10, 1
	_, err = s.FinishGuardedRun(ctx, held, model.RunGuard{
		Decide: func(model.Removal) model.RemovalVerdict {
			return model.RemovalVerdict{Verdict: model.RemovalHold, Note: "Held: fixture", By: "postern (sync)"}
		},
		Audit: func(model.SyncRun) []audit.Entry { return []audit.Entry{fixtureEntry(audit.SyncRun, "defender")} },
	})
	must(err, "FinishGuardedRun")
}

// fillPosture writes checks, exceptions, verdict history, the baseline and
// a pending cause.
func fillPosture(t *testing.T, s *store.Store, must func(error, string)) {
	ctx := context.Background()
	check, err := s.SavePostureCheck(ctx, model.PostureCheck{Name: "Firewall", Description: "on", DataSource: "defender", Mode: "enforce",
		Enabled: true, WhenUnavailable: "deny", Spec: `{"conditions":[{"kind":"onboarded"}]}`}, "owner@example.com",
		fixtureEntry(audit.CheckCreated, "Firewall"))
	must(err, "SavePostureCheck")
	_, err = s.SavePostureCheck(ctx, model.PostureCheck{Name: "Monitor only", DataSource: "defender", Mode: "monitor",
		WhenUnavailable: "allow", Spec: `{"conditions":[]}`}, "owner@example.com", fixtureEntry(audit.CheckCreated, "Monitor only"))
	must(err, "SavePostureCheck")
	dev := fixtureDevice(3, "").ID
	x, err := s.CreateException(ctx, model.Exception{DeviceID: dev, CheckID: check.ID, Reason: "travel", ExpiresAt: s.Now().Add(time.Hour),
		CreatedBy: "owner@example.com"}, fixtureEntry(audit.ExceptionCreated, dev))
	must(err, "CreateException")
	must(s.RevokeException(ctx, dev, x.ID, "owner@example.com", fixtureEntry(audit.ExceptionRevoked, dev)), "RevokeException")
	_, err = s.CreateException(ctx, model.Exception{DeviceID: dev, Reason: "every check", ExpiresAt: s.Now().Add(24 * time.Hour),
		CreatedBy: "owner@example.com"}, fixtureEntry(audit.ExceptionCreated, dev))
	must(err, "CreateException")
	cause := model.Cause{Kind: model.CauseCheckCreated, Ref: fmt.Sprint(check.ID), Label: "Posture check “Firewall” created", Actor: "owner@example.com", At: s.Now()}
	_, err = s.AppendHistory(ctx, cause, []model.HistoryEntry{
		{DeviceID: dev, CheckID: check.ID, CheckName: "Firewall", At: s.Now(), From: "unknown", To: "fail", Reasons: []string{"Firewall: off"}, Signal: "sync"},
		{DeviceID: dev, At: s.Now(), From: "unknown", To: "pass"},
	}, fixtureEntry(audit.VerdictsChanged, cause.Label))
	must(err, "AppendHistory")
	must(s.RecordVerdicts(ctx, nil, model.VerdictBaseline{At: s.Now(), RunID: 1, Stale: true, Data: []byte{0x1f, 0x8b, 0, 0xff}}, nil), "RecordVerdicts")
	_, err = s.AddPendingCause(ctx, model.PendingCause{Cause: cause, CheckID: check.ID, DeviceID: dev})
	must(err, "AddPendingCause")
}

// fillWebhooks writes an endpoint with a sealed secret, events (one a
// condition event, kept in webhook_emitted) and delivery attempts.
func fillWebhooks(t *testing.T, s *store.Store, kr *secret.Keyring, must func(error, string)) {
	ctx := context.Background()
	sealed, err := kr.Seal([]byte("whsec_fixture"), secret.Location{Table: "webhook_endpoints", Column: "secret", Row: "ep_fixture"})
	must(err, "Seal")
	_, err = s.CreateWebhookEndpoint(ctx, model.WebhookEndpoint{ID: "ep_fixture", URL: "https://hooks.example.com/postern",
		EventTypes: []string{events.SyncFailed, events.IntegrationDataStale}, Secret: sealed, Enabled: true, CreatedBy: "owner@example.com"},
		fixtureEntry(audit.WebhookCreated, "ep_fixture"))
	must(err, "CreateWebhookEndpoint")
	must(s.EmitWebhookEvents(ctx, []model.WebhookEvent{
		{ID: "msg_1", Type: events.SyncFailed, Body: []byte(`{"type":"sync.failed"}`)},
		{ID: "msg_stale", Type: events.IntegrationDataStale, Body: []byte(`{"type":"integration.data_stale"}`)},
	}), "EmitWebhookEvents")
	due, err := s.DueWebhooks(ctx, s.Now().Add(time.Hour), 10)
	must(err, "DueWebhooks")
	if len(due) == 0 {
		t.Fatal("fixture: no webhook event is due")
	}
	now := s.Now()
	must(s.RecordWebhookAttempt(ctx, due[0].ID, model.WebhookAttempt{At: now, Code: 500, Latency: 12 * time.Millisecond,
		Error: "answered 500", Next: now.Add(time.Minute)}), "RecordWebhookAttempt")
	must(s.RecordWebhookAttempt(ctx, due[len(due)-1].ID, model.WebhookAttempt{At: now, Code: 204, Latency: time.Millisecond, OK: true}),
		"RecordWebhookAttempt")
}

// populatedSource writes the fixture into a SQLite file in a new temporary
// directory, closes it (Postern stopped) and returns its path and the key.
func populatedSource(t *testing.T) (string, *secret.Keyring) {
	t.Helper()
	dir := t.TempDir()
	kr, _, err := secret.LoadKeyring("", filepath.Join(dir, "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "postern.db")
	s := openOwned(t, path)
	fillEveryTable(t, s, kr)
	mustClose(t, s)
	return path, kr
}

// fillSignIn configures Sign in with Microsoft and signs in an admin
// through it (the sealed client secret, the role map, an Entra identity).
func fillSignIn(t *testing.T, s *store.Store, kr *secret.Keyring, must func(error, string)) {
	ctx := context.Background()
	const tenant = "4f6c2a1e-9b7d-4c3a-8e5f-1a2b3c4d5e6f"
	sealed, err := kr.Seal([]byte("sign-in-client-secret"), secret.Location{Table: "sign_in_providers", Column: "client_secret", Row: model.SignInEntra})
	must(err, "Seal")
	must(s.SaveSignInProvider(ctx, model.SignInProvider{TenantID: tenant, ClientID: tenant, ClientSecret: sealed, Cloud: "commercial",
		RoleMap: model.RoleMap{AppRoles: map[string]actor.Role{"Postern.Owner": actor.Owner}}, AutoProvision: true,
		ConfiguredBy: "owner@example.com"}, 0, fixtureEntry(audit.SignInConfigured, "Sign in with Microsoft")), "SaveSignInProvider")
	a, err := s.CreateEntraAdmin(ctx, "ada@example.com", "x", tenant, "0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e", actor.Owner,
		fixtureEntry(audit.AdminCreated, "ada@example.com"))
	must(err, "CreateEntraAdmin")
	_, err = s.RecordEntraSignIn(ctx, a.ID, actor.Owner, fixtureEntry(audit.Login, "ada@example.com"))
	must(err, "RecordEntraSignIn")
}
