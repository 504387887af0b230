package config

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// referenceDoc is the admin's configuration reference. Its "Flags" table must
// list exactly the flags in Settings, with their environment names and
// defaults, so the document cannot drift from the code.
var referenceDoc = filepath.Join("..", "..", "docs", "configuration.md")

// notSet starts the Default cell of a setting whose default is empty; the
// text after it says what Postern does instead.
const notSet = "*not set*"

// docRow is one row of the Flags table, as written.
type docRow struct {
	line    int
	flag    string // without the leading --
	env     string
	deflt   string // the literal default; "" for notSet
	deflRaw string
}

var codeSpan = regexp.MustCompile("`([^`]*)`")

// onlyCode returns the text of a cell that is exactly one code span.
func onlyCode(cell string) (string, bool) {
	m := codeSpan.FindStringSubmatchIndex(cell)
	if m == nil || m[0] != 0 || m[1] != len(cell) {
		return "", false
	}
	return cell[m[2]:m[3]], true
}

// splitRow splits a Markdown table row into trimmed cells.
func splitRow(line string) []string {
	line = strings.TrimSpace(line)
	line = strings.TrimPrefix(line, "|")
	line = strings.TrimSuffix(line, "|")
	cells := strings.Split(line, "|")
	for i := range cells {
		cells[i] = strings.TrimSpace(cells[i])
	}
	return cells
}

// readFlagTable finds the table under the "## Flags" heading whose header is
// Flag | Environment variable | Default | Meaning, and parses its rows.
func readFlagTable(t *testing.T) []docRow {
	t.Helper()
	f, err := os.Open(referenceDoc)
	if err != nil {
		t.Fatalf("open the configuration reference: %v", err)
	}
	defer f.Close()

	var rows []docRow
	inSection, inTable, seenHeader, inFence := false, false, false, false
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "```") {
			inFence = !inFence
		}
		if inFence || strings.HasPrefix(trimmed, "```") {
			if inTable {
				break
			}
			continue
		}
		if strings.HasPrefix(trimmed, "#") {
			if inTable {
				break
			}
			inSection = strings.TrimSpace(strings.TrimLeft(trimmed, "#")) == "Flags" && strings.HasPrefix(trimmed, "## ")
			continue
		}
		if !inSection {
			continue
		}
		if !strings.HasPrefix(trimmed, "|") {
			if inTable {
				break // the table ended
			}
			continue
		}
		cells := splitRow(trimmed)
		switch {
		case !seenHeader:
			want := []string{"Flag", "Environment variable", "Default", "Meaning"}
			if strings.Join(cells, "|") != strings.Join(want, "|") {
				t.Fatalf("%s:%d: the Flags table header is %q, want %q", referenceDoc, n, cells, want)
			}
			seenHeader, inTable = true, true
			continue
		case strings.Trim(strings.Join(cells, ""), "-: ") == "":
			continue // the delimiter row
		}
		if len(cells) != 4 {
			t.Errorf("%s:%d: a Flags row has %d cells, want 4: %q", referenceDoc, n, len(cells), line)
			continue
		}
		r := docRow{line: n, deflRaw: cells[2]}
		flag, ok := onlyCode(cells[0])
		if !ok || !strings.HasPrefix(flag, "--") {
			t.Errorf("%s:%d: the Flag cell %q is not one code span such as `--addr`", referenceDoc, n, cells[0])
			continue
		}
		r.flag = strings.TrimPrefix(flag, "--")
		if r.env, ok = onlyCode(cells[1]); !ok {
			t.Errorf("%s:%d: the Environment variable cell %q is not one code span", referenceDoc, n, cells[1])
		}
		switch {
		case strings.HasPrefix(cells[2], notSet):
			r.deflt = ""
		default:
			if r.deflt, ok = onlyCode(cells[2]); !ok {
				t.Errorf("%s:%d: the Default cell %q is neither one code span nor starts with %q", referenceDoc, n, cells[2], notSet)
			}
		}
		if cells[3] == "" {
			t.Errorf("%s:%d: --%s has no meaning", referenceDoc, n, r.flag)
		}
		rows = append(rows, r)
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("read the configuration reference: %v", err)
	}
	if !seenHeader {
		t.Fatalf("%s: no table with the header Flag | Environment variable | Default | Meaning under \"## Flags\"", referenceDoc)
	}
	return rows
}

// TestReferenceDocMatchesSettings holds docs/configuration.md to Settings: every
// flag documented once, nothing documented that does not exist, and the same
// environment name and default as the code.
func TestReferenceDocMatchesSettings(t *testing.T) {
	rows := readFlagTable(t)
	documented := make(map[string]docRow, len(rows))
	for _, r := range rows {
		if prev, dup := documented[r.flag]; dup {
			t.Errorf("%s:%d: --%s is documented twice (also line %d)", referenceDoc, r.line, r.flag, prev.line)
			continue
		}
		documented[r.flag] = r
	}
	for _, s := range Settings {
		r, ok := documented[s.Name]
		if !ok {
			t.Errorf("%s: --%s is in config.Settings but missing from the Flags table", referenceDoc, s.Name)
			continue
		}
		if want := EnvName(s.Name); r.env != want {
			t.Errorf("%s:%d: --%s environment variable is documented as %q, want %q", referenceDoc, r.line, s.Name, r.env, want)
		}
		if r.deflt != s.Default {
			want := "`" + s.Default + "`"
			if s.Default == "" {
				want = notSet + " …"
			}
			t.Errorf("%s:%d: --%s default is documented as %q, want %s", referenceDoc, r.line, s.Name, r.deflRaw, want)
		}
	}
	known := make(map[string]bool, len(Settings))
	for _, s := range Settings {
		known[s.Name] = true
	}
	for _, r := range rows {
		if !known[r.flag] {
			t.Errorf("%s:%d: --%s is documented but is not in config.Settings", referenceDoc, r.line, r.flag)
		}
	}
}

// TestReferenceDocMasterKey checks that the environment-only master key, which
// has no flag and so no row, is still documented.
func TestReferenceDocMasterKey(t *testing.T) {
	data, err := os.ReadFile(referenceDoc)
	if err != nil {
		t.Fatalf("open the configuration reference: %v", err)
	}
	if !strings.Contains(string(data), "`POSTERN_MASTER_KEY`") {
		t.Errorf("%s does not document POSTERN_MASTER_KEY", referenceDoc)
	}
	for _, r := range readFlagTable(t) {
		if r.env == "POSTERN_MASTER_KEY" {
			t.Errorf("%s:%d: POSTERN_MASTER_KEY is environment only, yet --%s claims it", referenceDoc, r.line, r.flag)
		}
	}
}
