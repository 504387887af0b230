package syncer_test

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"postern/internal/defender"
	"postern/internal/emulator"
	"postern/internal/model"
	"postern/internal/syncer"
)

// Each refusal Microsoft can send fails the run with Microsoft's own words
// first, then Postern's advice, then the support id, and leaves the
// previous devices and the published snapshot (so every enforcement
// answer) as they were. Only a missing permission pauses syncing; the
// others are tried again by the next run.
func TestSyncRefusalsSayWhatMicrosoftSaid(t *testing.T) {
	cases := []struct {
		name    string
		faults  emulator.Faults
		code    string // the run's error code
		said    string // what Microsoft said, as the run's error shows it
		advice  string // a phrase of Postern's advice
		support string // how the support id reads
		pauses  bool
	}{
		{"missing permission", emulator.Faults{NoConsent: true}, "403 Forbidden", "Missing application roles", "Grant admin consent", "Support ID " + guid, true},
		{"disabled feature", emulator.Faults{DisabledFeature: true}, "403 DisabledFeature", "The feature is disabled for this tenant", "turned off for the tenant", "Support ID " + guid, false},
		{"disallowed operation", emulator.Faults{DisallowedOperation: true}, "403 DisallowedOperation", "The operation is not allowed", "Postern only reads", "Support ID " + guid, false},
		{"account inactive", emulator.Faults{AccountInactive: true}, "403 AccountInactive", "Account mode is inactive", "no permission or consent fixes", "Support ID " + guid, false},
		{"wrong audience", emulator.Faults{WrongAudience: true}, "403 WrongAudience", "Missing application roles", "issued for another API (wrong audience)", "Support ID " + guid, false},
		{"conditional access", emulator.Faults{ConditionalAccess: true}, "AADSTS53003", "Access has been blocked by Conditional Access policies", "exclude the app's service principal", "Support ID trace " + guid + ", correlation " + guid, false},
		{"app disabled", emulator.Faults{AppDisabled: true}, "AADSTS7000112", "is disabled", "The app is disabled in this tenant", "Support ID trace " + guid, false},
		{"invalid scope", emulator.Faults{InvalidScope: true}, "AADSTS70011", "The provided value for the input parameter 'scope' is not valid", "defender-scope", "Support ID trace " + guid, false},
		{"not provisioned", emulator.Faults{DefenderNotProvisioned: true}, "AADSTS500011", "The resource principal named", "another Microsoft cloud", "Support ID trace " + guid, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, envOptions{machines: 20})
			if first := e.sync(syncer.TriggerManual); first.Outcome != model.RunSuccess {
				t.Fatalf("first run %s: %s", first.Outcome, first.Error)
			}
			e.change()
			before := e.state()
			e.setFaults(c.faults)
			e.clk.Advance(2 * time.Hour) // the cached token lapses: the client asks Entra again

			run := e.sync(syncer.TriggerSchedule)
			stored := e.storedRun(run.ID)
			if stored.Outcome != model.RunFailed || stored.ErrorCode != c.code {
				t.Fatalf("run %s code %q (%s), want failed %q", stored.Outcome, stored.ErrorCode, stored.Error, c.code)
			}
			said, advice := strings.Index(stored.Error, c.said), strings.Index(stored.Error, c.advice)
			sup := regexp.MustCompile(strings.ReplaceAll(regexp.QuoteMeta(c.support), regexp.QuoteMeta(guid), guidRE)).FindStringIndex(stored.Error)
			if !strings.HasPrefix(stored.Error, "Microsoft said: ") || said < 0 || advice < 0 || sup == nil || !(said < advice && advice < sup[0]) {
				t.Errorf("run error %q: want Microsoft's words (%q), then the advice (%q), then %q", stored.Error, c.said, c.advice, c.support)
			}
			// A refusal no permission fixes says that the next sync tries
			// again, as it does; the Save path's advice is not the sync's.
			if retried := c.code == "403 AccountInactive" || c.code == "403 DisabledFeature"; retried &&
				(!strings.Contains(stored.Error, "Postern tries again at each sync.") || strings.Contains(stored.Error, "save again")) {
				t.Errorf("run error %q: want the sync's advice, Postern tries again at each sync", stored.Error)
			}
			if strings.Contains(stored.Error, emulator.DemoClientSecret) {
				t.Errorf("the run error shows the secret")
			}
			if !failedLine.MatchString(e.logs.String()) {
				t.Errorf("the sync log line names no support id:\n%s", e.logs.String())
			}
			e.assertUnchanged(before)
			if got := e.w.Status().Blocked; got != c.pauses {
				t.Errorf("syncing paused = %v, want %v", got, c.pauses)
			}

			// The next scheduled run calls Microsoft again unless paused.
			e.emu.ResetStats()
			e.idle(syncer.TriggerSchedule)
			if st := e.emu.Stats(); (st.TokenRequests+st.APIRequests > 0) == c.pauses {
				t.Errorf("after the refusal: %d token and %d API requests, paused %v", st.TokenRequests, st.APIRequests, c.pauses)
			}
			e.assertUnchanged(before)
			// A restart reads the pause back from the stored code.
			e.restart()
			if got := e.w.Status().Blocked; got != c.pauses {
				t.Errorf("after a restart, paused = %v, want %v (code %q reads back as %s)", got, c.pauses, stored.ErrorCode, defender.ReasonForCode(stored.ErrorCode))
			}
		})
	}
}

// A 429 from the token endpoint is waited out for as long as its
// Retry-After asks, and the run succeeds.
func TestSyncTokenThrottledWaits(t *testing.T) {
	e := newEnv(t, envOptions{machines: 20})
	e.setFaults(emulator.Faults{Token429: 2, TokenRetryAfter: 7 * time.Second})
	e.sleeps.Reset()
	run := e.sync(syncer.TriggerManual)
	if run.Outcome != model.RunSuccess || run.Seen != 20 {
		t.Fatalf("run %s seen %d (%s), want success 20", run.Outcome, run.Seen, run.Error)
	}
	if w := e.sleeps.All(); len(w) != 2 || w[0] != 7*time.Second || w[1] != 7*time.Second {
		t.Errorf("waits %v, want two of 7s (Retry-After)", w)
	}
	if run.ThrottledWaits != 2 {
		t.Errorf("throttled waits %d, want 2", run.ThrottledWaits)
	}
}

// failedLine is the log line of a failed run with its support id.
var failedLine = regexp.MustCompile(`outcome=failed .* support_id="?(trace )?` + guidRE)

const (
	guid   = "GUID"
	guidRE = `[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`
)
