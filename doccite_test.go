package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The product documents the code was first written against live outside
// the repository; what the code relies on is in docs/ (design.md,
// defender-api.md, security.md), and comments cite those.
var (
	// outsideDocs names a document that is not in the repository.
	outsideDocs = regexp.MustCompile(`\b(SPEC|DEFENDER_API|SECURITY|UI|STYLE)\.md\b`)
	// bareSection is a section or item of such a document cited without
	// the file: "SPEC §6", "SECURITY 26", "(SECURITY.md item 24)".
	bareSection = regexp.MustCompile(`\b(SPEC|DEFENDER_API|SECURITY)\s*(§|\d|item\b)`)
	// mdCite is a Markdown document named in code, with an optional anchor.
	mdCite = regexp.MustCompile(`(?:^|[\s("'\x60])((?:docs/)?[A-Za-z0-9_-]+\.md)(#[A-Za-z0-9_.-]+)?\b`)
	// mdLink is a relative link in a Markdown document.
	mdLink = regexp.MustCompile(`\]\(([^)\s#:]*\.md)?(#[^)\s]+)?\)`)
	// sectionSign is "§" followed by a number; only RFCs may be cited so.
	sectionSign = regexp.MustCompile(`(RFC \d+ )?§\s*\d`)
	// commentJoin glues wrapped comment lines, so a citation split over two
	// lines is seen whole.
	commentJoin = regexp.MustCompile(`\n[ \t]*(?://|#)[ \t]*`)
)

// TestCitedDocumentsExist fails when a hand-written source file cites a
// document that is not in the repository, cites one of the old outside
// documents by section, or names a docs/ anchor that does not exist; and
// when a link between the Markdown documents is broken.
func TestCitedDocumentsExist(t *testing.T) {
	anchors := map[string]map[string]bool{} // path → anchors, loaded on demand
	anchorsOf := func(path string) (map[string]bool, bool) {
		if a, ok := anchors[path]; ok {
			return a, a != nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			anchors[path] = nil
			return nil, false
		}
		anchors[path] = markdownAnchors(string(b))
		return anchors[path], true
	}
	check := func(where, path, anchor string) {
		t.Helper()
		a, ok := anchorsOf(path)
		switch {
		case !ok:
			t.Errorf("%s cites %s, which is not in the repository", where, path)
		case anchor != "" && !a[strings.TrimPrefix(anchor, "#")]:
			t.Errorf("%s cites %s%s: no such anchor in %s", where, path, anchor, path)
		}
	}
	sources, docs := citingFiles(t)
	if len(sources) < 50 || len(docs) < 3 {
		t.Fatalf("found %d source files and %d documents: the walk is broken", len(sources), len(docs))
	}
	for _, f := range append(sources, docs...) {
		if f == "doccite_test.go" { // its patterns and examples would cite themselves
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		text := commentJoin.ReplaceAllString(string(b), " ")
		for _, m := range outsideDocs.FindAllString(text, -1) {
			t.Errorf("%s cites %s, which is not in the repository: cite docs/ instead", f, m)
		}
		if !strings.HasSuffix(f, ".md") {
			for _, m := range bareSection.FindAllString(text, -1) {
				t.Errorf("%s cites %q, a section of a document not in the repository", f, m)
			}
			for _, m := range sectionSign.FindAllStringSubmatch(text, -1) {
				if m[1] == "" {
					t.Errorf("%s cites %q without naming its document", f, m[0])
				}
			}
			for _, m := range mdCite.FindAllStringSubmatch(text, -1) {
				path := m[1]
				if outsideDocs.MatchString(path) {
					continue // reported above
				}
				if !strings.HasPrefix(path, "docs/") {
					if _, err := os.Stat(path); err != nil {
						path = "docs/" + path
					}
				}
				check(f, path, m[2])
			}
			continue
		}
		for _, m := range mdLink.FindAllStringSubmatch(text, -1) {
			path := f
			if m[1] != "" {
				path = filepath.Join(filepath.Dir(f), m[1])
			}
			check(f, path, m[2])
		}
	}
}

// citingFiles lists the hand-written sources (Go but generated templ code,
// templ, the Makefile, SQL, scripts) and the Markdown documents.
func citingFiles(t *testing.T) (sources, docs []string) {
	t.Helper()
	for _, path := range repoFiles(t) {
		name := filepath.Base(path)
		switch {
		case strings.HasSuffix(name, "_templ.go"):
		case strings.HasSuffix(name, ".go"), strings.HasSuffix(name, ".templ"), strings.HasSuffix(name, ".sql"),
			name == "Makefile", filepath.Dir(path) == ".ci":
			sources = append(sources, path)
		case strings.HasSuffix(name, ".md") && (filepath.Dir(path) == "docs" || path == "README.md"):
			docs = append(docs, path)
		}
	}
	return sources, docs
}

var (
	headingLine = regexp.MustCompile(`(?m)^#{1,6}[ \t]+(.+?)[ \t]*#*[ \t]*$`)
	htmlID      = regexp.MustCompile(`<a\s+(?:id|name)="([^"]+)"`)
	slugDrop    = regexp.MustCompile(`[^\p{L}\p{N} _-]`)
	fence       = regexp.MustCompile("(?ms)^```.*?^```")
)

// markdownAnchors returns the anchors GitHub gives a document: one per
// heading (lower case, punctuation dropped, spaces to hyphens, -1, -2 … on
// repeats) and every <a id="…">.
func markdownAnchors(doc string) map[string]bool {
	doc = fence.ReplaceAllString(doc, "")
	out := map[string]bool{}
	seen := map[string]int{}
	for _, m := range headingLine.FindAllStringSubmatch(doc, -1) {
		h := strings.NewReplacer("`", "", "*", "").Replace(m[1])
		slug := strings.ReplaceAll(slugDrop.ReplaceAllString(strings.ToLower(h), ""), " ", "-")
		if n := seen[slug]; n > 0 {
			out[slug+"-"+itoa(n)] = true
		} else {
			out[slug] = true
		}
		seen[slug]++
	}
	for _, m := range htmlID.FindAllStringSubmatch(doc, -1) {
		out[m[1]] = true
	}
	return out
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

// TestCitationCheckCatches makes sure the checks above can fail.
func TestCitationCheckCatches(t *testing.T) {
	src := "// as SPEC §6 says (DEFENDER_API.md\n// §3.2) and SECURITY\n// 26, see docs/security.md#item-99"
	text := commentJoin.ReplaceAllString(src, " ")
	if got := outsideDocs.FindAllString(text, -1); len(got) != 1 {
		t.Errorf("outside documents found %q, want DEFENDER_API.md", got)
	}
	if got := bareSection.FindAllString(text, -1); len(got) != 2 {
		t.Errorf("bare sections found %q, want SPEC § and SECURITY 2", got)
	}
	all := mdCite.FindAllStringSubmatch(text, -1)
	if len(all) != 2 || all[0][1] != "DEFENDER_API.md" {
		t.Fatalf("Markdown citations found %q, want DEFENDER_API.md and docs/security.md#item-99", all)
	}
	m := all[1]
	if m[1] != "docs/security.md" || m[2] != "#item-99" {
		t.Fatalf("docs citation parsed as %q", m)
	}
	b, err := os.ReadFile(m[1])
	if err != nil {
		t.Fatal(err)
	}
	a := markdownAnchors(string(b))
	if a["item-99"] || !a["item-26"] || !a["checklist"] {
		t.Errorf("anchors of docs/security.md: item-99 %v, item-26 %v, checklist %v; want false, true, true", a["item-99"], a["item-26"], a["checklist"])
	}
	if a := markdownAnchors("# A `b` c\n## A b c\n```\n# not a heading\n```\n<a id=\"x\"></a>"); !a["a-b-c"] || !a["a-b-c-1"] || !a["x"] || a["not-a-heading"] {
		t.Errorf("anchors %v", a)
	}
}
