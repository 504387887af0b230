package audit

import (
	"encoding/csv"
	"io"
)

// TableCSV writes a CSV table row by row with the audit export's defence:
// every cell neutralised against formula injection (EscapeCell). The
// Devices export uses it; rows are streamed, so a large fleet is never
// held in memory at once.
type TableCSV struct {
	w *csv.Writer
}

// NewTableCSV starts a table on w with its header row.
func NewTableCSV(w io.Writer, header []string) (*TableCSV, error) {
	t := &TableCSV{w: csv.NewWriter(w)}
	return t, t.Write(header)
}

// Write adds one row.
func (t *TableCSV) Write(row []string) error {
	out := make([]string, len(row))
	for i, c := range row {
		out[i] = EscapeCell(c)
	}
	return t.w.Write(out)
}

// Close flushes the table and reports the first write error.
func (t *TableCSV) Close() error {
	t.w.Flush()
	return t.w.Error()
}
