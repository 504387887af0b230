package main

import (
	"bytes"
	"strings"
	"testing"
)

// hasStructureProblem fails t unless got holds a problem of rule for subject whose message
// says every one of words.
func hasStructureProblem(t *testing.T, got []structureProblem, rule, subject string, words ...string) {
	t.Helper()
	for _, p := range got {
		if p.rule == rule && p.subject == subject {
			for _, w := range words {
				if !strings.Contains(p.msg, w) {
					t.Errorf("message %q does not say %q", p.msg, w)
				}
			}
			return
		}
	}
	t.Errorf("no %s problem for %s in %+v", rule, subject, got)
}

// synthGo is a Go file whose function f has n lines, from func to }.
func synthGo(n int) []byte {
	return []byte("package p\n\nfunc f() {\n" + strings.Repeat("\t_ = 0\n", n-2) + "}\n")
}

// synthTempl is a templ file whose component C has n lines.
func synthTempl(n int) []byte {
	return []byte("package views\n\ntempl C(x string) {\n" + strings.Repeat("\t<p>{ x }</p>\n", n-2) + "}\n\nfunc one() string { return \"}\" }\n")
}

// TestStructureRulesCatch makes sure every size rule of structure_test.go
// can fail, and names what broke it and the limit.
func TestStructureRulesCatch(t *testing.T) {
	t.Run("file lines", func(t *testing.T) {
		big := []byte(strings.Repeat("//\n", maxFileLines+1))
		hasStructureProblem(t, fileLengthProblems("x/big.go", big), ruleFileLines, "x/big.go", "451 lines", "450")
		hasStructureProblem(t, fileLengthProblems("views/big.templ", big), ruleFileLines, "views/big.templ", "451 lines")
		if got := fileLengthProblems("x/ok.go", big[:len(big)-3]); got != nil {
			t.Errorf("450 lines: %+v", got)
		}
		if got := fileLengthProblems("views/big_templ.go", big); got != nil {
			t.Errorf("generated templ code: %+v", got)
		}
	})
	t.Run("func lines", func(t *testing.T) {
		got, err := funcLengthProblems("x/f.go", synthGo(maxFuncLines+1))
		if err != nil {
			t.Fatal(err)
		}
		hasStructureProblem(t, got, ruleFuncLines, "x/f.go: f", "81 lines", "80")
		method := bytes.Replace(synthGo(maxFuncLines+1), []byte("func f()"), []byte("func (e *Engine[K]) refresh()"), 1)
		got, _ = funcLengthProblems("x/m.go", method)
		hasStructureProblem(t, got, ruleFuncLines, "x/m.go: Engine.refresh")
		if got, _ := funcLengthProblems("x/ok.go", synthGo(maxFuncLines)); got != nil {
			t.Errorf("80 lines: %+v", got)
		}
	})
	t.Run("templ lines", func(t *testing.T) {
		hasStructureProblem(t, templLengthProblems("views/c.templ", synthTempl(maxComponentLines+1)), ruleTemplLines, "views/c.templ: C", "81 lines", "80")
		if got := templLengthProblems("views/ok.templ", synthTempl(maxComponentLines)); got != nil {
			t.Errorf("80 lines: %+v", got)
		}
		long := strings.Replace(string(synthTempl(maxFuncLines+1)), "templ C(x string) {", "func g(x string) {", 1)
		hasStructureProblem(t, templLengthProblems("views/g.templ", []byte(long)), ruleFuncLines, "views/g.templ: g", "81 lines")
		unclosed := "templ (v View) A() {\n\t<p></p>\n  }\ntempl B() {\n}\n"
		hasStructureProblem(t, templLengthProblems("views/u.templ", []byte(unclosed)), ruleTemplLines, "views/u.templ: A", "no closing brace")
	})
}

// TestStructureImportRulesCatch makes sure the import rules, the package
// table check and the exceptions can fail.
func TestStructureImportRulesCatch(t *testing.T) {
	t.Run("imports", func(t *testing.T) {
		code := importGraph{
			"postern":                      {"postern/web", "postern/store"},
			"postern/web":                  {"postern/views", "postern/store", "postern/internal/policy"},
			"postern/internal/metrics":     {"postern/web"},
			"postern/internal/syncer":      {"database/sql"},
			"postern/store":                {"database/sql", "postern/internal/model", "postern/internal/syncer"},
			"postern/store/pg":             {"database/sql", "postern/internal/apperr"},
			"postern/views":                {"postern/store"},
			"postern/views/components":     {"postern/web"},
			"postern/internal/posture":     {"postern/views/components"},
			"postern/internal/testkit/sub": {"postern/internal/testkit"},
		}
		tests := importGraph{"postern/internal/e2e": {"postern/web"}, "postern/web": {"postern/web"}}
		got := importProblems(code, tests)
		hasStructureProblem(t, got, ruleImportsWeb, "postern/internal/metrics", "postern/web", "only postern (main)")
		hasStructureProblem(t, got, ruleImportsWeb, "postern/internal/e2e")
		hasStructureProblem(t, got, ruleImportsWeb, "postern/views/components")
		hasStructureProblem(t, got, ruleSQL, "postern/internal/syncer", "database/sql", "postern/store")
		hasStructureProblem(t, got, ruleOneWay, "postern/views", "postern/store", "neither store nor web")
		hasStructureProblem(t, got, ruleOneWay, "postern/internal/posture", "postern/views/components")
		hasStructureProblem(t, got, ruleOneWay, "postern/store", "postern/internal/syncer", "postern/internal/model")
		if len(got) != 8 { // components importing web breaks two rules
			t.Errorf("%d problems, want 8 (main, web, store/pg and the testkit import as allowed): %+v", len(got), got)
		}
	})
	t.Run("documented", func(t *testing.T) {
		got := undocumented([]string{"postern", "postern/store", "postern/internal/new"}, "| `main` | `store` |")
		if len(got) != 1 || !strings.Contains(got[0], "postern/internal/new") {
			t.Errorf("undocumented = %q, want only postern/internal/new", got)
		}
	})
	t.Run("exceptions", func(t *testing.T) {
		problems := []structureProblem{{ruleSQL, "a", "a uses SQL"}, {ruleSQL, "b", "b uses SQL"}}
		exceptions := map[structureException]string{{ruleSQL, "a"}: "going", {ruleSQL, "c"}: "gone"}
		got := unexcused(problems, exceptions)
		if len(got) != 2 || got[0] != "b uses SQL" || !strings.Contains(got[1], "c") || !strings.Contains(got[1], "no longer needed") {
			t.Errorf("unexcused = %q, want b's problem and c's stale exception", got)
		}
	})
}
