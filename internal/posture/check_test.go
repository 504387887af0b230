package posture

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"postern/internal/fleet"
)

// TestCheckResult covers the tri-state combination inside one check.
func TestCheckResult(t *testing.T) {
	highRisk := func(d *fleet.Device) { d.RiskScore = "High" }
	nullRisk := func(d *fleet.Device) { d.RiskScore = "" }
	both := func(d *fleet.Device) { d.RiskScore = ""; d.HealthStatus = "Inactive" }
	spec := Spec{HealthActive: true, MaxRisk: "Medium"}
	tests := []struct {
		name        string
		unavailable string
		mutate      func(*fleet.Device)
		want        Result
		reasons     int
	}{
		{"all pass", "", nil, Pass, 0},
		{"one fails", "", highRisk, Fail, 1},
		{"fail beats unknown even on allow", UnavailableAllow, both, Fail, 2},
		{"unknown on deny", UnavailableDeny, nullRisk, Unknown, 1},
		{"unknown on default is deny", "", nullRisk, Unknown, 1},
		{"unknown on allow passes with the reason kept", UnavailableAllow, nullRisk, Pass, 1},
		{"unknown on a bad value is deny", "sometimes", nullRisk, Unknown, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := goodDevice()
			if tt.mutate != nil {
				tt.mutate(&d)
			}
			checks := Compile([]Check{{ID: 1, Name: "c", Source: SourceDefender, Enabled: true, WhenUnavailable: tt.unavailable, Spec: spec}})
			got := Evaluate(checks, nil, inputFor(&d), Match{Device: &d, MatchedBy: MatchedByDefenderID})
			if len(got.Checks) != 1 {
				t.Fatalf("got %d checks, want 1", len(got.Checks))
			}
			c := got.Checks[0]
			if c.Result != tt.want || len(c.Reasons) != tt.reasons {
				t.Errorf("got %s %q, want %s with %d reasons", c.Result, c.Reasons, tt.want, tt.reasons)
			}
			if got.Allowed != (tt.want == Pass) {
				t.Errorf("got allowed %v, want %v", got.Allowed, tt.want == Pass)
			}
		})
	}
}

// TestDecision covers the overall verdict across checks.
func TestDecision(t *testing.T) {
	failing := Spec{MaxRisk: "None"}       // goodDevice is Low
	unknownS := Spec{ReportFirewall: true} // the report omits the firewall
	passing := Spec{HealthActive: true}
	mk := func(id int64, mode, unavailable string, s Spec, enabled bool) Check {
		src := SourceDefender
		if s.ReportFirewall {
			src = SourceDeviceReport
		}
		return Check{ID: id, Name: "check " + string(rune('A'+id)), Source: src, Mode: mode, Enabled: enabled, WhenUnavailable: unavailable, Spec: s}
	}
	tests := []struct {
		name    string
		checks  []Check
		allowed bool
		results []Result
	}{
		{"no checks", nil, true, nil},
		{"enforce pass", []Check{mk(1, ModeEnforce, "", passing, true)}, true, []Result{Pass}},
		{"enforce fail denies", []Check{mk(1, ModeEnforce, "", passing, true), mk(2, ModeEnforce, "", failing, true)}, false, []Result{Pass, Fail}},
		{"empty mode is enforce", []Check{mk(1, "", "", failing, true)}, false, []Result{Fail}},
		{"monitor fail never denies", []Check{mk(1, ModeEnforce, "", passing, true), mk(2, ModeMonitor, "", failing, true)}, true, []Result{Pass, Fail}},
		{"monitor unknown never denies", []Check{mk(1, ModeMonitor, "", unknownS, true)}, true, []Result{Unknown}},
		{"enforce unknown deny denies", []Check{mk(1, ModeEnforce, UnavailableDeny, unknownS, true)}, false, []Result{Unknown}},
		{"enforce unknown allow passes", []Check{mk(1, ModeEnforce, UnavailableAllow, unknownS, true)}, true, []Result{Pass}},
		{"disabled checks are skipped", []Check{mk(1, ModeEnforce, "", failing, false), mk(2, ModeEnforce, "", passing, true)}, true, []Result{Pass}},
		{"check without conditions fails closed", []Check{{ID: 9, Source: SourceDefender, Enabled: true}}, false, []Result{Fail}},
		{"unknown source fails closed", []Check{{ID: 9, Source: "intune", Enabled: true, Spec: passing}}, false, []Result{Fail}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := goodDevice()
			in := inputFor(&d)
			in.Report.Firewall = nil
			got := Evaluate(Compile(tt.checks), nil, in, Match{Device: &d, MatchedBy: MatchedByDefenderID})
			var results []Result
			for _, c := range got.Checks {
				results = append(results, c.Result)
				if c.Reasons == nil {
					t.Errorf("check %d: got nil reasons, want a (possibly empty) list", c.ID)
				}
			}
			if got.Allowed != tt.allowed || !reflect.DeepEqual(results, tt.results) {
				t.Errorf("got allowed %v %v, want %v %v", got.Allowed, results, tt.allowed, tt.results)
			}
		})
	}
}

// TestDecisionReasons checks wording and order across checks sharing one
// reason buffer, and the de-duplication of the "no machine" reason.
func TestDecisionReasons(t *testing.T) {
	checks := Compile([]Check{
		{ID: 3, Name: "Low risk only", Source: SourceDefender, Mode: ModeEnforce, Enabled: true,
			Spec: Spec{MaxRisk: "Medium", HealthActive: true, LastSeenHours: 24}},
		{ID: 4, Name: "Report", Source: SourceDeviceReport, Mode: ModeMonitor, Enabled: true,
			Spec: Spec{ReportFirewall: true, ReportDiskEncrypted: true}},
		{ID: 5, Name: "Healthy", Source: SourceDefender, Mode: ModeEnforce, Enabled: true, Spec: Spec{HealthActive: true}},
	})
	d := goodDevice()
	d.RiskScore, d.HealthStatus, d.LastSeen = "High", "Inactive", testNow.Add(-31*time.Hour)
	in := inputFor(&d)
	in.Report.Firewall = boolp(false)
	got := Evaluate(checks, nil, in, Match{Device: &d, MatchedBy: MatchedByDefenderID})
	sfx := " (Defender data from " + testAge + ")"
	want := []CheckResult{
		{ID: 3, Name: "Low risk only", Mode: ModeEnforce, Result: Fail, Reasons: []string{
			"health status Inactive, required Active" + sfx,
			"risk score High exceeds the allowed Medium" + sfx,
			"last seen 31 hours ago, required within 24 hours" + sfx}},
		{ID: 4, Name: "Report", Mode: ModeMonitor, Result: Fail, Reasons: []string{"device report: firewall off, required on"}},
		{ID: 5, Name: "Healthy", Mode: ModeEnforce, Result: Fail, Reasons: []string{"health status Inactive, required Active" + sfx}},
	}
	if !reflect.DeepEqual(got.Checks, want) {
		t.Errorf("got %+v\nwant %+v", got.Checks, want)
	}

	// No machine: one reason per check, not one per condition.
	in = inputFor(nil)
	got = Evaluate(checks, nil, in, Match{})
	if r := got.Checks[0].Reasons; len(r) != 1 || r[0] != "no Defender machine matches this device"+sfx {
		t.Errorf("got %q, want the single no-machine reason", r)
	}
	if got.Allowed || got.Checks[0].Result != Unknown {
		t.Errorf("got allowed %v result %s, want denied unknown", got.Allowed, got.Checks[0].Result)
	}
}

// TestStaleAndDisabled: Defender checks follow WhenUnavailable, device
// report checks are unaffected.
func TestStaleAndDisabled(t *testing.T) {
	checks := Compile([]Check{
		{ID: 1, Name: "deny", Source: SourceDefender, Enabled: true, Spec: Spec{HealthActive: true}},
		{ID: 2, Name: "allow", Source: SourceDefender, Enabled: true, WhenUnavailable: UnavailableAllow, Spec: Spec{HealthActive: true}},
		{ID: 3, Name: "report", Source: SourceDeviceReport, Enabled: true, Spec: Spec{ReportFirewall: true}},
	})
	d := goodDevice()
	tests := []struct {
		name   string
		set    func(*Input)
		reason string
	}{
		{"stale", func(in *Input) { in.Stale = true }, "Microsoft Defender data is stale (last successful sync " + testAge + ")"},
		{"disabled", func(in *Input) { in.SourceDisabled = true }, "the Microsoft Defender data source is disabled"},
	}
	for _, tt := range tests {
		in := inputFor(&d)
		tt.set(&in)
		got := Evaluate(checks, nil, in, Match{Device: &d, MatchedBy: MatchedByDefenderID})
		wantRes := []Result{Unknown, Pass, Pass}
		for i, c := range got.Checks {
			if c.Result != wantRes[i] {
				t.Errorf("%s: check %d: got %s, want %s", tt.name, c.ID, c.Result, wantRes[i])
			}
		}
		for _, i := range []int{0, 1} {
			if r := got.Checks[i].Reasons; len(r) != 1 || r[0] != tt.reason {
				t.Errorf("%s: check %d: got %q, want [%q]", tt.name, got.Checks[i].ID, r, tt.reason)
			}
		}
		if got.Allowed {
			t.Errorf("%s: got allowed, want denied by the deny check", tt.name)
		}
	}
}

func TestNewInput(t *testing.T) {
	synced := testNow.Add(-20 * time.Minute)
	snap := fleet.NewSnapshot(nil, synced, 1)
	tests := []struct {
		name     string
		snap     *fleet.Snapshot
		interval time.Duration
		stale    bool
		age      string
	}{
		{"fresh", snap, 10 * time.Minute, false, "2026-11-25T09:45:40Z"},
		{"older than 3 intervals", snap, 5 * time.Minute, true, "2026-11-25T09:45:40Z"},
		{"no interval", snap, 0, false, "2026-11-25T09:45:40Z"},
		{"never synced", fleet.NewSnapshot(nil, time.Time{}, 0), time.Hour, true, ""},
		{"nil snapshot", nil, time.Hour, true, ""},
	}
	for _, tt := range tests {
		in := NewInput(tt.snap, Match{}, Report{}, testNow, tt.interval, true)
		if in.Stale != tt.stale || in.DataAge != tt.age || !in.SourceDisabled || !in.Now.Equal(testNow) {
			t.Errorf("%s: got stale %v age %q, want %v %q", tt.name, in.Stale, in.DataAge, tt.stale, tt.age)
		}
	}
}

func TestExceptions(t *testing.T) {
	d := goodDevice()
	d.RiskScore = "High"
	checks := Compile([]Check{
		{ID: 1, Name: "risk", Source: SourceDefender, Enabled: true, Spec: Spec{MaxRisk: "Low"}},
		{ID: 2, Name: "health", Source: SourceDefender, Enabled: true, Spec: Spec{HealthActive: true}},
		{ID: 3, Name: "report", Source: SourceDeviceReport, Enabled: true, Spec: Spec{ReportFirewall: true}},
	})
	future := time.Date(2026, 12, 1, 17, 0, 0, 0, time.UTC)
	exc := func(id, check int64, dev string, exp time.Time, by string) Exception {
		return Exception{ID: id, DeviceID: dev, CheckID: check, Reason: "vendor patch pending", CreatedBy: by, ExpiresAt: exp}
	}
	tests := []struct {
		name     string
		ex       []Exception
		nofw     bool
		allowed  bool
		excepted []bool
		first    string // first reason of check 1
	}{
		{"none", nil, false, false, []bool{false, false, false}, "risk score High"},
		{"per check", []Exception{exc(1, 1, d.ID, future, "alice")}, false, true, []bool{true, false, false},
			"exception by alice until 2026-12-01: vendor patch pending"},
		{"device id case and space", []Exception{exc(1, 1, " "+strings.ToUpper(d.ID), future, "alice")}, false, true, []bool{true, false, false}, "exception by alice"},
		{"other check only", []Exception{exc(1, 2, d.ID, future, "alice")}, false, false, []bool{false, false, false}, "risk score High"},
		{"other device", []Exception{exc(1, 0, "ffff", future, "alice")}, false, false, []bool{false, false, false}, "risk score High"},
		{"all checks", []Exception{exc(1, 0, d.ID, future, "bob")}, true, true, []bool{true, false, true}, "exception by bob until 2026-12-01"},
		{"expired", []Exception{exc(1, 0, d.ID, testNow.Add(-time.Second), "bob")}, false, false, []bool{false, false, false}, "risk score High"},
		{"expires now is expired", []Exception{exc(1, 0, d.ID, testNow, "bob")}, false, false, []bool{false, false, false}, "risk score High"},
		{"per check beats all checks", []Exception{exc(1, 0, d.ID, future.Add(48*time.Hour), "bob"), exc(2, 1, d.ID, future, "carol")}, false, true,
			[]bool{true, false, false}, "exception by carol"},
		{"many exceptions for the device", []Exception{exc(1, 7, d.ID, future, "a"), exc(2, 8, d.ID, future, "b"), exc(3, 9, d.ID, future, "c"),
			exc(4, 10, d.ID, future, "d"), exc(5, 11, d.ID, future, "e"), exc(6, 1, d.ID, future, "f")}, false, true,
			[]bool{true, false, false}, "exception by f"},
		{"latest expiry wins", []Exception{exc(1, 1, d.ID, future, "bob"), exc(2, 1, d.ID, future.Add(48*time.Hour), "carol")}, false, true,
			[]bool{true, false, false}, "exception by carol until 2026-12-03"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := inputFor(&d)
			if tt.nofw {
				in.Report.Firewall = nil
			}
			got := Evaluate(checks, tt.ex, in, Match{Device: &d, MatchedBy: MatchedByHostname})
			if got.Allowed != tt.allowed {
				t.Errorf("got allowed %v, want %v", got.Allowed, tt.allowed)
			}
			for i, c := range got.Checks {
				if c.Excepted != tt.excepted[i] {
					t.Errorf("check %d: got excepted %v, want %v", c.ID, c.Excepted, tt.excepted[i])
				}
				if c.Excepted && c.Result != Pass {
					t.Errorf("check %d: got %s, want pass when excepted", c.ID, c.Result)
				}
				if !c.Excepted && c.Result == Pass && len(c.Reasons) > 0 {
					t.Errorf("check %d: got reasons %q on a plain pass", c.ID, c.Reasons)
				}
			}
			r := got.Checks[0].Reasons
			if len(r) == 0 || !strings.HasPrefix(r[0], tt.first) {
				t.Errorf("got reasons %q, want first to start with %q", r, tt.first)
			}
			if got.Checks[0].Excepted && (len(r) != 2 || !strings.HasPrefix(r[1], "risk score High exceeds")) {
				t.Errorf("got reasons %q, want the overridden reason kept after the exception", r)
			}
		})
	}

	// No machine matched: a device-id exception cannot apply.
	got := Evaluate(checks, []Exception{exc(1, 0, d.ID, future, "bob")}, inputFor(nil), Match{})
	if got.Allowed || got.Checks[0].Excepted {
		t.Errorf("got allowed %v excepted %v, want no exception without a machine", got.Allowed, got.Checks[0].Excepted)
	}
}

// TestEvaluateUncompiled: checks that skipped Compile still evaluate.
func TestEvaluateUncompiled(t *testing.T) {
	d := goodDevice()
	checks := []Check{{ID: 1, Source: SourceDefender, Enabled: true, Spec: Spec{MaxRisk: "None"}}}
	got := Evaluate(checks, nil, inputFor(&d), Match{Device: &d})
	if got.Allowed || got.Checks[0].Result != Fail {
		t.Errorf("got %+v, want a fail", got)
	}
	if n := len(checks[0].Conditions()); n != 1 {
		t.Errorf("got %d conditions, want 1", n)
	}
}

// TestEvaluateUsesMatchedDevice: Input.Device defaults to the match.
func TestEvaluateUsesMatchedDevice(t *testing.T) {
	d := goodDevice()
	checks := Compile([]Check{{ID: 1, Source: SourceDefender, Enabled: true, Spec: Spec{HealthActive: true}}})
	in := inputFor(nil)
	in.Now = time.Time{} // defaults to time.Now
	got := Evaluate(checks, nil, in, Match{Device: &d, MatchedBy: MatchedByAADID})
	if !got.Allowed || got.Match.MatchedBy != MatchedByAADID {
		t.Errorf("got %+v, want allowed via the matched device", got)
	}
}

func TestCompileCopies(t *testing.T) {
	in := []Check{{ID: 1, Source: SourceDefender, Enabled: true, Spec: Spec{HealthActive: true}}}
	out := Compile(in)
	if in[0].compiled || !out[0].compiled || len(out[0].conditions) != 1 {
		t.Errorf("got input compiled %v output compiled %v, want only the copy compiled", in[0].compiled, out[0].compiled)
	}
}

// TestEvaluateAllocs pins the allocation budget of the hot path: a device
// that passes allocates only the answer; each non-pass reason adds one.
func TestEvaluateAllocs(t *testing.T) {
	checks := benchChecks()
	d := goodDevice()
	d.Tags = []string{"vpn-allowed"}
	d.OSBuild = 26100
	snap := fleet.NewSnapshot([]fleet.Device{d}, testNow.Add(-time.Minute), 1)
	req := Request{DefenderMachineID: d.ID, Report: goodReport()}
	var dec Decision
	allocs := testing.AllocsPerRun(100, func() {
		m := MatchDevice(snap, req)
		dec = Evaluate(checks, nil, NewInput(snap, m, req.Report, testNow, time.Minute, false), m)
	})
	if !dec.Allowed {
		t.Fatalf("got %+v, want allowed", dec.Checks)
	}
	t.Logf("allocs per evaluation: %v", allocs)
	if allocs > 2 {
		t.Errorf("got %v allocs per evaluation, want at most 2", allocs)
	}
	// Into a recycled decision, as the enforcement API evaluates, an allow
	// allocates only its input (the conditions take it by pointer).
	allocs = testing.AllocsPerRun(100, func() {
		m := MatchDevice(snap, req)
		EvaluateInto(&dec, checks, nil, NewInput(snap, m, req.Report, testNow, time.Minute, false), m)
	})
	if !dec.Allowed || allocs > 1 {
		t.Errorf("EvaluateInto: allowed %v, %v allocs per evaluation, want allowed and at most 1", dec.Allowed, allocs)
	}
}

// TestEvaluateIntoReuses: a decision evaluated into the arrays of the one
// before it, device after device, is exactly Evaluate's, with no reason
// left over from an earlier device.
func TestEvaluateIntoReuses(t *testing.T) {
	now := time.Date(2026, 11, 25, 10, 5, 40, 0, time.UTC)
	devices := benchFleet(3000, now)
	snap := fleet.NewSnapshot(devices, now.Add(-3*time.Minute), 1)
	checks := benchChecks()
	for i := range checks[1:] { // one check decides; the others still give reasons
		checks[1+i].Mode = ModeMonitor
	}
	exceptions := []Exception{{ID: 1, DeviceID: devices[7].ID, CheckID: 2, ExpiresAt: now.Add(time.Hour)}}
	var reused Decision
	var denied int
	for i := range devices {
		req := Request{DefenderMachineID: devices[i].ID}
		if i%3 == 0 {
			req.Report = goodReport()
		}
		m := MatchDevice(snap, req)
		in := NewInput(snap, m, req.Report, now, time.Hour, false)
		want := Evaluate(checks, exceptions, in, m)
		EvaluateInto(&reused, checks, exceptions, in, m)
		if reused.Allowed != want.Allowed || reused.Match != want.Match || !reflect.DeepEqual(reused.Checks, want.Checks) {
			t.Fatalf("device %d: into a reused decision\n got %+v\nwant %+v", i, reused, want)
		}
		if !want.Allowed {
			denied++
		}
	}
	if denied == 0 || denied == len(devices) {
		t.Fatalf("%d of %d devices denied: the fleet must give both answers", denied, len(devices))
	}
}

// TestResultsAgreeWithEvaluate: the verdicts-only pass the counts use gives
// exactly Evaluate's results, for every kind of device and input.
func TestResultsAgreeWithEvaluate(t *testing.T) {
	now := time.Date(2026, 11, 25, 10, 5, 40, 0, time.UTC)
	devices := benchFleet(3000, now)
	snap := fleet.NewSnapshot(devices, now.Add(-3*time.Minute), 1)
	checks := benchChecks()
	checks[4].Enabled = false // a disabled check is skipped by both
	exceptions := []Exception{
		{ID: 1, DeviceID: devices[10].ID, CheckID: 2, CreatedBy: "alice", Reason: "patch pending", ExpiresAt: now.Add(time.Hour)},
		{ID: 2, DeviceID: strings.ToUpper(devices[20].ID), CheckID: 0, CreatedBy: "bob", Reason: "VIP", ExpiresAt: now.Add(time.Hour)},
		{ID: 3, DeviceID: devices[30].ID, CheckID: 0, CreatedBy: "bob", Reason: "expired", ExpiresAt: now.Add(-time.Hour)},
	}
	reports := []Report{goodReport(), {OS: "macOS", OSVersion: "14.4.1", Firewall: boolp(false)}, {}}
	inputs := map[string]func(m Match, r Report) Input{
		"fresh":    func(m Match, r Report) Input { return NewInput(snap, m, r, now, 5*time.Minute, false) },
		"stale":    func(m Match, r Report) Input { return NewInput(snap, m, r, now.Add(time.Hour), 5*time.Minute, false) },
		"disabled": func(m Match, r Report) Input { return NewInput(snap, m, r, now, 5*time.Minute, true) },
	}
	var res []Result
	var fails, unknowns, denied int
	for name, input := range inputs {
		for i := range devices {
			m := Match{Device: &snap.Devices[i], MatchedBy: "defender_machine_id"}
			if i%97 == 0 {
				m = Match{} // no machine
			}
			in := input(m, reports[i%len(reports)])
			want := Evaluate(checks, exceptions, in, m)
			var overall Result
			res, overall = Results(checks, exceptions, in, m, res[:0])
			wantOverall := Pass
			if !want.Allowed {
				wantOverall = Unknown
				for _, c := range want.Checks {
					if c.Mode == ModeEnforce && c.Result == Fail {
						wantOverall = Fail
					}
				}
			}
			if overall != wantOverall || len(res) != len(want.Checks) {
				t.Fatalf("%s device %d: Results %s with %d results, Evaluate allowed %v (%s) with %d", name, i, overall, len(res),
					want.Allowed, wantOverall, len(want.Checks))
			}
			allowed := overall == Pass
			for j, r := range res {
				if r != want.Checks[j].Result {
					t.Fatalf("%s device %d check %d: Results %s, Evaluate %s %q", name, i, want.Checks[j].ID, r,
						want.Checks[j].Result, want.Checks[j].Reasons)
				}
				switch r {
				case Fail:
					fails++
				case Unknown:
					unknowns++
				}
			}
			if !allowed {
				denied++
			}
		}
	}
	if fails == 0 || unknowns == 0 || denied == 0 {
		t.Fatalf("the cases never failed (%d), were unknown (%d) or denied (%d)", fails, unknowns, denied)
	}
}

func BenchmarkResults(b *testing.B) {
	now := time.Date(2026, 11, 25, 10, 5, 40, 0, time.UTC)
	devices := benchFleet(100_000, now)
	snap := fleet.NewSnapshot(devices, now.Add(-3*time.Minute), 1)
	checks := benchChecks()
	in := NewInput(snap, Match{}, Report{}, now, 5*time.Minute, false)
	var res []Result
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		d := &snap.Devices[i%len(snap.Devices)]
		i++
		in.Device = d
		res, _ = Results(checks, nil, in, Match{Device: d, MatchedBy: "defender_machine_id"}, res[:0])
	}
}
