package audit

import (
	"encoding/csv"
	"io"
	"strconv"
	"strings"
	"time"
)

// CSVHeader is the first row of the export.
var CSVHeader = []string{"id", "time_utc", "actor", "actor_role", "source_ip", "action", "target", "outcome", "details"}

// WriteCSV writes entries as CSV with every cell neutralised against formula
// injection.
func WriteCSV(w io.Writer, entries []Entry) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader); err != nil {
		return err
	}
	for _, e := range entries {
		row := []string{
			strconv.FormatInt(e.ID, 10), e.At.UTC().Format(time.RFC3339),
			e.Actor, string(e.ActorRole), e.SourceIP, e.Action, e.Target, e.Outcome, e.Detail,
		}
		for i := range row {
			row[i] = EscapeCell(row[i])
		}
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// EscapeCell prefixes a cell that a spreadsheet would read as a formula
// (leading = + - @, or a tab or carriage return before one) with a single
// quote, as OWASP recommends. Leading whitespace is looked through because
// some spreadsheets trim it before deciding.
func EscapeCell(s string) string {
	if s == "" {
		return s
	}
	if s[0] == '\t' || s[0] == '\r' {
		return "'" + s
	}
	if t := strings.TrimLeft(s, " \t\r\n"); t != "" && strings.ContainsRune("=+-@", rune(t[0])) {
		return "'" + s
	}
	return s
}
