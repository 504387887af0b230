package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// templBypasses are the templ functions that switch off its escaping or URL
// and CSS sanitizing (docs/security.md#item-25).
var templBypasses = map[string]bool{
	"Raw": true, "SafeURL": true, "SafeCSS": true, "SafeCSSProperty": true,
	"SafeScript": true, "SafeScriptInline": true, "JSUnsafeFuncCall": true,
}

// templBypassAllowed lists, by "dir:identifier", constants that have been
// reviewed and may be passed to a bypass. Empty today: nothing needs one.
var templBypassAllowed = map[string]bool{}

// TestNoTemplBypassOnData is security item 25 as a check in `make check`:
// every templ.Raw, SafeURL, SafeCSS (and the other escaping bypasses) in
// the Go code, generated *_templ.go included (so every .templ file is
// covered), is called on a constant: a string literal, a concatenation of
// them, a const of the same package, or an allow-listed name.
func TestNoTemplBypassOnData(t *testing.T) {
	dirs := map[string][]string{}
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "node_modules" || strings.HasPrefix(d.Name(), ".") && path != ".") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(path, ".go") && !strings.HasSuffix(path, "_test.go") {
			dirs[filepath.Dir(path)] = append(dirs[filepath.Dir(path)], path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	calls, generated := 0, 0
	for dir, files := range dirs {
		fset := token.NewFileSet()
		var parsed []*ast.File
		for _, f := range files {
			af, err := parser.ParseFile(fset, f, nil, parser.SkipObjectResolution)
			if err != nil {
				t.Fatalf("parse %s: %v", f, err)
			}
			parsed = append(parsed, af)
			if strings.HasSuffix(f, "_templ.go") {
				generated++
			}
		}
		for _, p := range templBypassUses(fset, dir, parsed) {
			calls++
			if p.problem != "" {
				t.Errorf("%s: templ.%s %s", p.pos, p.fn, p.problem)
			}
		}
	}
	if generated == 0 {
		t.Fatal("no generated *_templ.go file found: the .templ files went unchecked")
	}
	t.Logf("%d generated files, %d bypass calls checked", generated, calls)
}

// TestTemplBypassCheckCatchesData makes sure the check above can fail.
func TestTemplBypassCheckCatchesData(t *testing.T) {
	src := `package v
import t "github.com/a-h/templ"
const ok = "<b>constant</b>"
func a(name string) {
	_ = t.Raw(name)
	_ = t.SafeURL("javascript:" + name)
	_ = t.Raw(ok)
	_ = t.SafeCSS("color: red")
	f := t.Raw
	_ = f
}`
	fset := token.NewFileSet()
	af, err := parser.ParseFile(fset, "v.go", src, parser.SkipObjectResolution)
	if err != nil {
		t.Fatal(err)
	}
	var bad []string
	for _, p := range templBypassUses(fset, "v", []*ast.File{af}) {
		if p.problem != "" {
			bad = append(bad, p.pos.String())
		}
	}
	if want := []string{"v.go:5:6", "v.go:6:6", "v.go:9:7"}; strings.Join(bad, " ") != strings.Join(want, " ") {
		t.Errorf("flagged %v, want %v", bad, want)
	}
}

type templBypassUse struct {
	pos     token.Position
	fn      string
	problem string // "" when the argument is constant
}

// templBypassUses finds every reference to a templ bypass in one package's
// files and says which are not on constants.
func templBypassUses(fset *token.FileSet, dir string, files []*ast.File) []templBypassUse {
	consts := map[string]bool{}
	for _, f := range files {
		for _, d := range f.Decls {
			if g, ok := d.(*ast.GenDecl); ok && g.Tok == token.CONST {
				for _, s := range g.Specs {
					for _, n := range s.(*ast.ValueSpec).Names {
						consts[n.Name] = true
					}
				}
			}
		}
	}
	constant := func(e ast.Expr) bool { return isConstString(e, consts, dir) }
	var out []templBypassUse
	for _, f := range files {
		name := templImportName(f)
		if name == "" {
			continue
		}
		called := map[*ast.SelectorExpr]bool{}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.CallExpr:
				if sel, fn := bypassSelector(n.Fun, name); sel != nil {
					called[sel] = true
					u := templBypassUse{pos: fset.Position(n.Pos()), fn: fn}
					if len(n.Args) != 1 || !constant(n.Args[0]) {
						u.problem = "is called on data, not a constant"
					}
					out = append(out, u)
				}
			case *ast.SelectorExpr:
				if sel, fn := bypassSelector(n, name); sel != nil && !called[sel] {
					out = append(out, templBypassUse{pos: fset.Position(n.Pos()), fn: fn, problem: "is used as a value"})
				}
			}
			return true
		})
	}
	return out
}

func templImportName(f *ast.File) string {
	for _, im := range f.Imports {
		if p, _ := strconv.Unquote(im.Path.Value); p == "github.com/a-h/templ" {
			if im.Name != nil {
				return im.Name.Name
			}
			return "templ"
		}
	}
	return ""
}

func bypassSelector(e ast.Expr, pkg string) (*ast.SelectorExpr, string) {
	sel, ok := e.(*ast.SelectorExpr)
	if !ok {
		return nil, ""
	}
	if id, ok := sel.X.(*ast.Ident); ok && id.Name == pkg && templBypasses[sel.Sel.Name] {
		return sel, sel.Sel.Name
	}
	return nil, ""
}

func isConstString(e ast.Expr, consts map[string]bool, dir string) bool {
	switch e := e.(type) {
	case *ast.BasicLit:
		return e.Kind == token.STRING
	case *ast.ParenExpr:
		return isConstString(e.X, consts, dir)
	case *ast.BinaryExpr:
		return e.Op == token.ADD && isConstString(e.X, consts, dir) && isConstString(e.Y, consts, dir)
	case *ast.Ident:
		return consts[e.Name] || templBypassAllowed[dir+":"+e.Name]
	}
	return false
}
