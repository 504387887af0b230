package main

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The structure rules of docs/architecture.md#imports-flow-one-way, checked
// on every test run:
// files and functions of a readable size, and imports that flow one way
// (main → web → services → store; nothing imports web; only the store
// speaks SQL). Each rule is a function over a source text or the import
// graph, so that TestStructureRulesCatch can feed it a synthetic one.
const (
	maxFileLines      = 450 // a hand-written Go (not *_templ.go) or .templ file
	maxFuncLines      = 80  // a non-test Go function, from func to its closing brace
	maxComponentLines = 80  // a templ component, from templ to its closing brace

	modulePath = "postern"

	ruleFileLines  = "file-lines"
	ruleFuncLines  = "func-lines"
	ruleTemplLines = "templ-lines"
	ruleImportsWeb = "imports-web"
	ruleSQL        = "database-sql"
	ruleOneWay     = "one-way"
)

// structureException names a rule and what it is waived for: a file path, a
// "path: Func" or a package import path, as the problem reports it.
type structureException struct{ rule, subject string }

// structureExceptions is the one list of allowed exceptions, each with its
// reason. An exception nothing needs any more fails the test: delete it.
var structureExceptions = map[structureException]string{
	{ruleSQL, modulePath + "/internal/testkit/pgtest"}: "a test fixture: creates and drops the tests' PostgreSQL databases, and reads or writes no table of Postern's",
}

// storeMayImport lists the module's internal packages the store may use:
// the error type, the audit vocabulary, the domain types, the sealing of
// secrets, Defender's vocabulary, the actor of the request, the
// vocabulary of signed events (written to the outbox in the transaction of
// their change) and the JSON string escaper (the decision log's checks
// column), which imports nothing of Postern.
var storeMayImport = map[string]bool{
	"postern/internal/jsonenc":        true,
	"postern/internal/webhook/events": true,
	"postern/internal/apperr":         true,
	"postern/internal/audit":          true,
	"postern/internal/model":          true,
	"postern/internal/secret":         true,
	"postern/internal/defender/vocab": true,
	"postern/internal/actor":          true,
}

// structureProblem is one broken rule: which rule, what breaks it, and the
// message that names the file, function or package and the limit.
type structureProblem struct{ rule, subject, msg string }

// generatedHeader is Go's marker of a generated file.
var generatedHeader = regexp.MustCompile(`(?m)^// Code generated .* DO NOT EDIT\.$`)

// lineCount counts lines as wc -l does, plus a last line without a newline.
func lineCount(src []byte) int {
	n := bytes.Count(src, []byte("\n"))
	if len(src) > 0 && src[len(src)-1] != '\n' {
		n++
	}
	return n
}

// fileLengthProblems applies the file limit to a hand-written Go or templ
// file; generated Go files are exempt.
func fileLengthProblems(path string, src []byte) []structureProblem {
	if strings.HasSuffix(path, "_templ.go") || generatedHeader.Match(src) {
		return nil
	}
	if n := lineCount(src); n > maxFileLines {
		return []structureProblem{{ruleFileLines, path,
			fmt.Sprintf("%s has %d lines, over the limit of %d for a hand-written file: split it", path, n, maxFileLines)}}
	}
	return nil
}

// funcLengthProblems applies the function limit to every function and
// method declared in a Go file.
func funcLengthProblems(path string, src []byte) ([]structureProblem, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, src, parser.SkipObjectResolution)
	if err != nil {
		return nil, err
	}
	var out []structureProblem
	for _, d := range f.Decls {
		fn, ok := d.(*ast.FuncDecl)
		if !ok || fn.Body == nil {
			continue
		}
		n := fset.Position(fn.End()).Line - fset.Position(fn.Pos()).Line + 1
		if n <= maxFuncLines {
			continue
		}
		name := fn.Name.Name
		if fn.Recv != nil && len(fn.Recv.List) == 1 {
			name = receiverName(fn.Recv.List[0].Type) + "." + name
		}
		subject := path + ": " + name
		out = append(out, structureProblem{ruleFuncLines, subject,
			fmt.Sprintf("%s has %d lines, over the limit of %d for a function", subject, n, maxFuncLines)})
	}
	return out, nil
}

// receiverName is the type name of a method's receiver: T for t *T or t T[K].
func receiverName(e ast.Expr) string {
	for {
		switch x := e.(type) {
		case *ast.StarExpr:
			e = x.X
		case *ast.IndexExpr:
			e = x.X
		case *ast.IndexListExpr:
			e = x.X
		case *ast.Ident:
			return x.Name
		default:
			return "?"
		}
	}
}

// templDecl starts a templ component (or a Go function written in a .templ
// file, which the generated code would hide from funcLengthProblems).
var templDecl = regexp.MustCompile(`^(templ|func)\s+(?:\([^)]*\)\s*)?([A-Za-z_][A-Za-z0-9_]*)\s*[(\[]`)

// templLengthProblems applies the component limit to every component of a
// .templ file and the function limit to its Go functions. A declaration
// ends at the next line that is a lone "}" in the first column, where templ
// fmt puts the brace that closes it (or on its own line, when that line
// ends with a brace); one that never closes before the next
// declaration is reported too, so a file the scan misreads cannot pass.
func templLengthProblems(path string, src []byte) []structureProblem {
	lines := strings.Split(string(src), "\n")
	var out []structureProblem
	for i := 0; i < len(lines); i++ {
		m := templDecl.FindStringSubmatch(lines[i])
		if m == nil {
			continue
		}
		kind, name := m[1], m[2]
		end := -1
		if strings.HasSuffix(strings.TrimRight(lines[i], " \t\r"), "}") {
			end = i // a one-line declaration
		}
		for j := i + 1; j < len(lines) && end < 0; j++ {
			switch {
			case strings.TrimRight(lines[j], " \t\r") == "}":
				end = j
			case templDecl.MatchString(lines[j]):
				j = len(lines) // fall through to "no close"
			}
		}
		subject := path + ": " + name
		if end < 0 {
			out = append(out, structureProblem{ruleTemplLines, subject,
				fmt.Sprintf("%s (line %d): no closing brace in the first column before the next declaration; run templ fmt", subject, i+1)})
			continue
		}
		rule, limit, what := ruleTemplLines, maxComponentLines, "a templ component"
		if kind == "func" {
			rule, limit, what = ruleFuncLines, maxFuncLines, "a function"
		}
		if n := end - i + 1; n > limit {
			out = append(out, structureProblem{rule, subject,
				fmt.Sprintf("%s has %d lines, over the limit of %d for %s", subject, n, limit, what)})
		}
		i = end
	}
	return out
}

// importGraph maps a package's import path to the packages it imports.
type importGraph map[string][]string

// under reports whether pkg is root or one of its subpackages.
func under(pkg, root string) bool {
	return pkg == root || strings.HasPrefix(pkg, root+"/")
}

// importProblems applies the import rules: code imports only what is
// below it. code is the graph of the non-test files; tests adds what test
// files import (only the rule that nothing imports web reads it: a test
// that needs web's internals belongs in web).
func importProblems(code, tests importGraph) []structureProblem {
	var out []structureProblem
	add := func(rule, pkg, msg string, args ...any) {
		out = append(out, structureProblem{rule, pkg, pkg + " " + fmt.Sprintf(msg, args...)})
	}
	const web, store, views, internal = modulePath + "/web", modulePath + "/store", modulePath + "/views", modulePath + "/internal"
	for _, g := range []importGraph{code, tests} {
		for _, pkg := range sortedKeys(g) {
			if pkg != modulePath && !under(pkg, web) && slices.ContainsFunc(g[pkg], func(p string) bool { return under(p, web) }) {
				add(ruleImportsWeb, pkg, "imports %s: only %s (main) may import web", web, modulePath)
			}
		}
	}
	for _, pkg := range sortedKeys(code) {
		for _, imp := range code[pkg] {
			switch {
			case imp == "database/sql" && !under(pkg, store):
				add(ruleSQL, pkg, "imports database/sql: only %s and its subpackages may speak SQL", store)
			case under(pkg, views) && (under(imp, store) || under(imp, web)):
				add(ruleOneWay, pkg, "imports %s: views import neither store nor web", imp)
			case (under(pkg, internal) || under(pkg, store)) && under(imp, views):
				add(ruleOneWay, pkg, "imports %s: only web renders views", imp)
			case under(pkg, store) && under(imp, internal) && !storeMayImport[imp]:
				add(ruleOneWay, pkg, "imports %s: the store imports no internal package but %s", imp, strings.Join(sortedKeys(storeMayImport), ", "))
			}
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// repoFiles lists every file of the module, skipping node_modules,
// testdata and hidden directories but .ci (the CI scripts).
func repoFiles(t *testing.T) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		switch {
		case d.IsDir() && path != "." && (name == "node_modules" || name == "testdata" || strings.HasPrefix(name, ".") && name != ".ci"):
			return filepath.SkipDir
		case !d.IsDir():
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// structureSources lists the module's Go and templ files.
func structureSources(t *testing.T) (goFiles, templFiles []string) {
	t.Helper()
	for _, path := range repoFiles(t) {
		switch {
		case strings.HasSuffix(path, ".go"):
			goFiles = append(goFiles, path)
		case strings.HasSuffix(path, ".templ"):
			templFiles = append(templFiles, path)
		}
	}
	return goFiles, templFiles
}

// moduleImports reads the imports of every Go file, grouped by package
// import path (the directory under the module), for code and for tests.
// Build constraints are ignored: a file for another platform counts too.
func moduleImports(t *testing.T, goFiles []string) (code, tests importGraph) {
	t.Helper()
	code, tests = importGraph{}, importGraph{}
	fset := token.NewFileSet()
	for _, path := range goFiles {
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		pkg := modulePath
		if dir := filepath.ToSlash(filepath.Dir(path)); dir != "." {
			pkg += "/" + dir
		}
		g := code
		if strings.HasSuffix(path, "_test.go") {
			g = tests
		}
		for _, s := range f.Imports {
			imp, err := strconv.Unquote(s.Path.Value)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Contains(g[pkg], imp) {
				g[pkg] = append(g[pkg], imp)
			}
		}
		if _, ok := g[pkg]; !ok {
			g[pkg] = nil
		}
	}
	return code, tests
}

// TestStructureRules fails on a hand-written file over 450 lines, a
// function or templ component over 80, a package other than main that
// imports web, SQL outside the store, or an import against the one-way
// flow; and on an exception in structureExceptions that nothing needs.
func TestStructureRules(t *testing.T) {
	goFiles, templFiles := structureSources(t)
	if len(goFiles) < 100 || len(templFiles) < 10 {
		t.Fatalf("found %d Go and %d templ files: the walk is broken", len(goFiles), len(templFiles))
	}
	var problems []structureProblem
	for _, path := range goFiles {
		if strings.HasSuffix(path, "_test.go") || strings.HasSuffix(path, "_templ.go") {
			continue
		}
		src, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		problems = append(problems, fileLengthProblems(path, src)...)
		if generatedHeader.Match(src) {
			continue
		}
		p, err := funcLengthProblems(path, src)
		if err != nil {
			t.Fatal(err)
		}
		problems = append(problems, p...)
	}
	for _, path := range templFiles {
		src, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		problems = append(problems, fileLengthProblems(path, src)...)
		problems = append(problems, templLengthProblems(path, src)...)
	}
	code, tests := moduleImports(t, goFiles)
	if len(code) < 15 || len(code[modulePath+"/store"]) == 0 {
		t.Fatalf("import graph of %d packages: the walk is broken", len(code))
	}
	problems = append(problems, importProblems(code, tests)...)
	for _, msg := range unexcused(problems, structureExceptions) {
		t.Error(msg)
	}
}

// TestStructureDocumented fails when a package is missing from the package
// table of docs/architecture.md, so that the table follows the layout.
func TestStructureDocumented(t *testing.T) {
	goFiles, _ := structureSources(t)
	code, _ := moduleImports(t, goFiles)
	doc, err := os.ReadFile("docs/architecture.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, msg := range undocumented(sortedKeys(code), string(doc)) {
		t.Error(msg)
	}
}

// undocumented names every package of pkgs that doc does not name as
// `dir` or `dir/` (main is documented as `main`).
func undocumented(pkgs []string, doc string) []string {
	var out []string
	for _, pkg := range pkgs {
		dir := strings.TrimPrefix(strings.TrimPrefix(pkg, modulePath), "/")
		if dir == "" {
			dir = "main"
		}
		if !strings.Contains(doc, "`"+dir+"`") && !strings.Contains(doc, "`"+dir+"/`") {
			out = append(out, fmt.Sprintf("docs/architecture.md does not name package %s (as `%s`): add it to the package table", pkg, dir))
		}
	}
	return out
}

// unexcused returns the message of every problem no exception covers, then
// one for every exception that covers no problem.
func unexcused(problems []structureProblem, exceptions map[structureException]string) []string {
	used := map[structureException]bool{}
	var out []string
	for _, p := range problems {
		key := structureException{p.rule, p.subject}
		if _, ok := exceptions[key]; ok {
			used[key] = true
			continue
		}
		out = append(out, p.msg)
	}
	var stale []string
	for key, reason := range exceptions {
		if !used[key] {
			stale = append(stale, fmt.Sprintf("structureExceptions: %s for %s (%q) is no longer needed: delete it", key.rule, key.subject, reason))
		}
	}
	slices.Sort(stale)
	return append(out, stale...)
}
