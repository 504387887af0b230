// Package storetest is the conformance suite of Postern's store: what any
// SQL engine behind the services must do, asserted through the Store
// interface alone. The store runs it on SQLite and on PostgreSQL
// (store/conformance_test.go).
//
// It checks behaviour (round-trips, ordering, filters, not-found and
// conflict errors, the audit entry committed with its change or not at
// all), never SQL or schema. Times are compared to the microsecond, the
// precision PostgreSQL keeps. Platforms and tags sort in byte order, check
// names regardless of case.
package storetest

import (
	"context"
	"testing"
	"time"

	"postern/internal/apperr"
	"postern/internal/audit"
	"postern/internal/model"
	"postern/internal/secret"
)

// Store is every method a second engine implements: the union of what the
// services declare (integration.Store, syncer.Store, policy.Store,
// policy.EngineStore, auth.SessionRows, auth.TokenStore, metrics.Store) and
// what the console reads. Left out, as engine maintenance or lifecycle:
// Close, Path, Open's migrations and the package function Backup (VACUUM
// INTO). Checkpoint is in, since the syncer calls it; an engine without a
// write-ahead log to fold back may do nothing.
type Store interface {
	Now() time.Time
	Ping(ctx context.Context) error

	// Devices. Devices and Facets are not here: DevicePage and
	// DeviceFilterValues replace them.
	Device(ctx context.Context, id string) (model.Device, error)
	DevicePage(ctx context.Context, f model.DeviceFilter) ([]model.Device, int, error)
	EachListed(ctx context.Context, f model.DeviceFilter, batch int, fn func([]model.Device) error) error
	DeviceFilterValues(ctx context.Context) (model.DeviceFacets, error)
	CountDevices(ctx context.Context) (int, error)
	EachDevice(ctx context.Context, fn func(model.Device) error) error
	EachSnapshotDevice(ctx context.Context, withAV bool, fn func(*model.SnapshotDevice) error) error
	UpdateDevice(ctx context.Context, d model.Device, e audit.Entry) (bool, error)

	// Sync runs, their staging and apply.
	StartRun(ctx context.Context, integration, trigger string) (model.SyncRun, error)
	StageDevices(ctx context.Context, runID int64, page []model.Device) error
	StagedCount(ctx context.Context) (int, error)
	ClearStaging(ctx context.Context) error
	FinishRun(ctx context.Context, run model.SyncRun, e audit.Entry) (model.SyncRun, error)
	FinishGuardedRun(ctx context.Context, run model.SyncRun, g model.RunGuard) (model.SyncRun, error)
	AcceptHeldRun(ctx context.Context, id int64, by string, entry func(model.SyncRun) audit.Entry) (model.SyncRun, error)
	MarkInterrupted(ctx context.Context) (int64, error)
	Checkpoint(ctx context.Context) error
	SyncRuns(ctx context.Context, limit, offset int) ([]model.SyncRun, int, error)
	LastRun(ctx context.Context, integration string, outcomes ...string) (model.SyncRun, error)
	RunTotals(ctx context.Context) (model.RunTotals, error)

	// Webhook endpoints, their outbox and deliveries.
	WebhookEndpoints(ctx context.Context) ([]model.WebhookEndpoint, error)
	WebhookEndpoint(ctx context.Context, id string) (model.WebhookEndpoint, error)
	CreateWebhookEndpoint(ctx context.Context, ep model.WebhookEndpoint, e audit.Entry) (model.WebhookEndpoint, error)
	UpdateWebhookEndpoint(ctx context.Context, id string, change func(*model.WebhookEndpoint), e audit.Entry) (model.WebhookEndpoint, error)
	DeleteWebhookEndpoint(ctx context.Context, id string, e audit.Entry) error
	EmitWebhookEvents(ctx context.Context, evs []model.WebhookEvent) error
	DueWebhooks(ctx context.Context, now time.Time, limit int) ([]model.OutboxItem, error)
	DueWebhooksPerEndpoint(ctx context.Context, now time.Time, perEndpoint int) ([]model.OutboxItem, error)
	OutboxItem(ctx context.Context, id int64) (model.OutboxItem, error)
	RecordWebhookAttempt(ctx context.Context, id int64, a model.WebhookAttempt) error
	WebhookDeliveries(ctx context.Context, endpointID string, limit int) ([]model.WebhookDelivery, error)
	PendingWebhooks(ctx context.Context, endpointID string) (int, error)
	WebhookBacklog(ctx context.Context) (model.WebhookBacklog, error)
	RedeliverWebhook(ctx context.Context, endpointID string, id int64, e audit.Entry) (model.OutboxItem, error)
	PruneWebhookOutbox(ctx context.Context, before time.Time) (int, error)

	// The decision log of the enforcement API.
	AppendDecisions(ctx context.Context, ds []model.Decision) error
	Decisions(ctx context.Context, f model.DecisionFilter) ([]model.Decision, int, error)
	PruneDecisions(ctx context.Context, cutoff time.Time, batch int) (int, error)
	DecisionsOverCap(ctx context.Context, keep int) (int64, error)
	PruneDecisionsThrough(ctx context.Context, last int64, batch int) (int, error)
	IndexDecisions(ctx context.Context) (int, error)
	PruneDecisionIndex(ctx context.Context, after string, batch int, before time.Time, through int64) (string, int, error)
	DecisionsBefore(ctx context.Context, before time.Time) (bool, error)

	// Antivirus health, recorded per sync run.
	ApplyAV(ctx context.Context, res model.AVRun, rows []model.DeviceAV) (model.AVRun, error)
	DeviceAV(ctx context.Context, machineID string) (model.DeviceAV, error)
	EachDeviceAV(ctx context.Context, fn func(model.DeviceAV) error) error
	AVRunOf(ctx context.Context, runID int64) (model.AVRun, error)

	// Posture checks, exceptions and verdict history.
	PostureChecks(ctx context.Context) ([]model.PostureCheck, error)
	PostureCheck(ctx context.Context, id int64) (model.PostureCheck, error)
	SavePostureCheck(ctx context.Context, c model.PostureCheck, by string, e audit.Entry) (model.PostureCheck, error)
	DeletePostureCheck(ctx context.Context, id int64, e audit.Entry) (model.PostureCheck, error)
	Exceptions(ctx context.Context, f model.ExceptionFilter) ([]model.Exception, error)
	ExceptionPage(ctx context.Context, f model.ExceptionFilter, limit, offset int) ([]model.ExceptionListing, int, error)
	CreateException(ctx context.Context, x model.Exception, e audit.Entry) (model.Exception, error)
	RevokeException(ctx context.Context, deviceID string, id int64, by string, e audit.Entry) error
	AppendHistory(ctx context.Context, cause model.Cause, entries []model.HistoryEntry, summary audit.Entry) (model.Cause, error)
	RecordVerdicts(ctx context.Context, changes []model.CauseChanges, base model.VerdictBaseline, done []int64) error
	VerdictBaseline(ctx context.Context) (model.VerdictBaseline, bool, error)
	AddPendingCause(ctx context.Context, p model.PendingCause) (int64, error)
	PendingCauses(ctx context.Context) ([]model.PendingCause, error)
	History(ctx context.Context, deviceID string, limit int) ([]model.HistoryEntry, error)
	HistoryPage(ctx context.Context, f model.HistoryFilter) ([]model.HistoryEntry, int, error)
	Cause(ctx context.Context, id int64) (model.Cause, error)
	CausesOfAudit(ctx context.Context, auditIDs []int64) (map[int64]int64, error)
	PruneHistory(ctx context.Context, cutoff time.Time, batch int) (int, error)

	// The audit log.
	AppendAudit(ctx context.Context, e audit.Entry) error
	AuditEntries(ctx context.Context, f audit.Filter) ([]audit.Entry, int, error)
	PruneAudit(ctx context.Context, cutoff time.Time, batch int) (int, error)

	// Admins and their sessions.
	AdminCount(ctx context.Context) (int, error)
	CreateFirstAdmin(ctx context.Context, email, passwordHash string) (model.Admin, error)
	AdminByEmail(ctx context.Context, email string) (model.Admin, error)
	Admin(ctx context.Context, id int64) (model.Admin, error)
	SetPassword(ctx context.Context, adminID int64, hash string) error
	Session(ctx context.Context, idHash []byte) (model.Session, error)
	InsertSession(ctx context.Context, ss model.Session) error
	UpdateSession(ctx context.Context, ss model.Session) error
	TouchSession(ctx context.Context, idHash []byte, at time.Time) error
	DeleteSession(ctx context.Context, idHash []byte) error
	DeleteSessionsBefore(ctx context.Context, idleCutoff, absoluteCutoff time.Time) (int64, error)

	// The login limiter's failures (auth.FailureStore).
	LoginAttempt(ctx context.Context, keys [][]byte, max int, since, now time.Time, record bool) (time.Time, error)
	RefundLoginFailure(ctx context.Context, keys [][]byte) error
	ResetLoginFailures(ctx context.Context, key []byte) error

	// API tokens.
	CreateAPIToken(ctx context.Context, t model.APIToken, e audit.Entry) (model.APIToken, error)
	APITokens(ctx context.Context) ([]model.APIToken, error)
	RevokeAPIToken(ctx context.Context, id int64, e audit.Entry) (model.APIToken, error)
	TouchAPITokens(ctx context.Context, used map[int64]time.Time) error

	// Integrations and every sealed value.
	Integration(ctx context.Context, name string) (model.Integration, error)
	Integrations(ctx context.Context) ([]model.Integration, error)
	SaveIntegration(ctx context.Context, in model.Integration, version int64, e audit.Entry) error
	UpdateIntegration(ctx context.Context, name string, change func(*model.Integration), e audit.Entry) error
	SealedValues(ctx context.Context) ([]secret.Stored, error)
	Reseal(ctx context.Context, reseal func(secret.Stored) (string, error), entry func(n int) audit.Entry) (int, error)
	PendingCertificate(ctx context.Context, name string) (model.PendingCertificate, error)
	SavePendingCertificate(ctx context.Context, p model.PendingCertificate, e audit.Entry) error
}

// Opener yields a fresh, empty, migrated store that lives until t ends.
type Opener func(t *testing.T) Store

// group is one subtest of Run: a group of methods, each case on a store
// of its own.
type group struct {
	name string
	run  func(t *testing.T, open Opener)
}

// Run runs the whole suite, one subtest per group of methods.
func Run(t *testing.T, open Opener) {
	for _, g := range []group{
		{"Clock", testClock},
		{"Audit", testAudit},
		{"Admins", testAdmins},
		{"Sessions", testSessions},
		{"LoginFailures", testLoginFailures},
		{"APITokens", testAPITokens},
		{"Integrations", testIntegrations},
		{"SealedValues", testSealed},
		{"Certificates", testCertificates},
		{"PostureChecks", testChecks},
		{"Exceptions", testExceptions},
		{"History", testHistory},
		{"Retention", testRetention},
		{"Staging", testStaging},
		{"SyncRuns", testSyncRuns},
		{"AntivirusHealth", testAV},
		{"Apply", testApply},
		{"RemovalGuard", testRemovalGuard},
		{"DeviceReads", testDeviceReads},
		{"DevicePage", testDevicePage},
		{"UpdateDevice", testUpdateDevice},
		{"Webhooks", testWebhooks},
		{"Decisions", testDecisions},
	} {
		t.Run(g.name, func(t *testing.T) { g.run(t, open) })
	}
}

// tcase is one case of a group.
type tcase struct {
	name string
	run  func(t *testing.T, s Store)
}

// cases runs each case on a store of its own.
func cases(t *testing.T, open Opener, cs ...tcase) {
	t.Helper()
	for _, c := range cs {
		t.Run(c.name, func(t *testing.T) { c.run(t, open(t)) })
	}
}

// testClock: Now is UTC and Ping answers.
func testClock(t *testing.T, open Opener) {
	s := open(t)
	if err := s.Ping(t.Context()); err != nil {
		t.Errorf("Ping: %v", err)
	}
	if now := s.Now(); now.Location() != time.UTC || now.IsZero() {
		t.Errorf("Now() = %v, want a UTC time", now)
	}
}

// wantKind fails unless err is an application error of kind.
func wantKind(t *testing.T, err error, kind apperr.Kind, what string) {
	t.Helper()
	if err == nil || !apperr.Is(err, kind) {
		t.Errorf("%s: err = %v, want %v", what, err, kind)
	}
}

// must stops the test on err.
func must(t *testing.T, err error, what string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// sameTime compares times to the microsecond.
func sameTime(a, b time.Time) bool {
	d := a.Sub(b)
	return d < time.Microsecond && d > -time.Microsecond
}

// sameTimePtr is sameTime for optional times.
func sameTimePtr(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return sameTime(*a, *b)
}

// recent tells whether tm is within a minute of the store's clock: a time
// the store stamped itself.
func recent(s Store, tm time.Time) bool {
	d := s.Now().Sub(tm)
	return d > -time.Minute && d < time.Minute
}

// at is a whole-second UTC time, the kind the suite writes.
func at(hour, minute int) time.Time {
	return time.Date(2026, 3, 14, hour, minute, 0, 0, time.UTC)
}

// entry is a successful audit entry of action on target.
func entry(action, target string) audit.Entry {
	return audit.Entry{Actor: "admin@example.com", SourceIP: "192.0.2.7", Action: action, Target: target, Outcome: audit.Success}
}

// auditOf lists the audit entries of action, newest first.
func auditOf(t *testing.T, s Store, action string) []audit.Entry {
	t.Helper()
	es, _, err := s.AuditEntries(t.Context(), audit.Filter{Action: &action})
	must(t, err, "AuditEntries")
	var out []audit.Entry
	for _, e := range es {
		if e.Action == action { // the filter is a prefix
			out = append(out, e)
		}
	}
	return out
}

// wantAudit fails unless exactly n entries of action are logged; it
// returns the newest.
func wantAudit(t *testing.T, s Store, action string, n int) audit.Entry {
	t.Helper()
	es := auditOf(t, s, action)
	if len(es) != n {
		t.Errorf("%d audit entries %q, want %d: %+v", len(es), action, n, es)
	}
	if len(es) == 0 {
		return audit.Entry{}
	}
	return es[0]
}

func ptr[T any](v T) *T { return &v }
