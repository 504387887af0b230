package defender

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// Every Help that the code sets, here and in the integration package (which
// makes its own timeout error), is one of HelpAnchors: the setup guide's tests
// check those, so an anchor outside the list could point nowhere. The source
// is read rather than the errors made, so a new error cannot slip past.
func TestEveryHelpIsAKnownAnchor(t *testing.T) {
	consts := helpConsts(t)
	for name, v := range consts {
		if !slices.Contains(HelpAnchors, v) {
			t.Errorf("constant %s = %q is missing from HelpAnchors", name, v)
		}
	}
	files, _ := filepath.Glob("*.go")
	more, _ := filepath.Glob("../integration/*.go")
	found := 0
	for _, path := range append(files, more...) {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		check := func(e ast.Expr) {
			found++
			pos := fset.Position(e.Pos())
			switch v := e.(type) {
			case *ast.BasicLit:
				s, _ := strconv.Unquote(v.Value)
				if !slices.Contains(HelpAnchors, s) {
					t.Errorf("%s: Help %s is not one of HelpAnchors", pos, v.Value)
				}
			case *ast.Ident:
				if _, ok := consts[v.Name]; !ok {
					t.Errorf("%s: Help %s is not a Help constant", pos, v.Name)
				}
			case *ast.SelectorExpr:
				if x, ok := v.X.(*ast.Ident); !ok || x.Name != "defender" || consts[v.Sel.Name] == "" {
					t.Errorf("%s: Help is set from an expression the test cannot follow", pos)
				}
			default:
				t.Errorf("%s: Help is set from an expression the test cannot follow", pos)
			}
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.KeyValueExpr:
				if k, ok := n.Key.(*ast.Ident); ok && k.Name == "Help" {
					check(n.Value)
				}
			case *ast.AssignStmt:
				for i, l := range n.Lhs {
					if s, ok := l.(*ast.SelectorExpr); ok && s.Sel.Name == "Help" && i < len(n.Rhs) {
						check(n.Rhs[i])
					}
				}
			}
			return true
		})
	}
	if found < 10 {
		t.Fatalf("found %d places that set Help; the scan looks broken", found)
	}
}

// helpConsts returns the Help… constants of errors.go by name.
func helpConsts(t *testing.T) map[string]string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "errors.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, spec := range g.Specs {
			vs := spec.(*ast.ValueSpec)
			for i, n := range vs.Names {
				if !strings.HasPrefix(n.Name, "Help") || i >= len(vs.Values) {
					continue
				}
				if lit, ok := vs.Values[i].(*ast.BasicLit); ok {
					out[n.Name], _ = strconv.Unquote(lit.Value)
				}
			}
		}
	}
	if len(out) != len(HelpAnchors) {
		t.Errorf("errors.go declares %d Help constants, HelpAnchors lists %d", len(out), len(HelpAnchors))
	}
	return out
}

func TestHelpForCode(t *testing.T) {
	tests := []struct{ code, want string }{
		{"AADSTS90002", HelpTenantID},
		{"AADSTS900023", HelpTenantID},
		{"AADSTS700016", HelpRegisterApp},
		{"AADSTS7000215", HelpSecretValue},
		{"AADSTS7000222", HelpClientSecret},
		{"AADSTS7000218", HelpClientSecret},
		{"AADSTS500011", HelpPrerequisites},
		{"AADSTS53003", HelpTroubleshooting},
		{"AADSTS7000112", HelpRegisterApp},
		{"AADSTS70011", HelpCloudRegion},
		{"AADSTS90055", HelpTroubleshooting},
		{"AADSTS50058", HelpRegisterApp}, // any other refusal to sign in
		{"HTTP 429", HelpTroubleshooting},
		{"403 DisabledFeature", HelpTroubleshooting},
		{"403 DisallowedOperation", HelpTroubleshooting},
		{"403 AccountInactive", HelpTroubleshooting},
		{"401 AccountInactive", HelpTroubleshooting},
		{"403 WrongAudience", HelpCloudRegion},
		{"invalid_client", HelpSecretValue},
		{"invalid_request", HelpRegisterApp},
		{"HTTP 400", HelpRegisterApp},
		{"HTTP 503", HelpTroubleshooting},
		{"403 Forbidden", HelpPermission},
		{"403", HelpPermission},
		{"401 Unauthorized", HelpCloudRegion},
		{"429 TooManyRequests", HelpTroubleshooting},
		{"500 InternalServerError", HelpTroubleshooting},
		{"404 ResourceNotFound", HelpTroubleshooting},
		{"network", HelpTroubleshooting},
		{"timeout", HelpTroubleshooting},
		{"invalid JSON", HelpTroubleshooting},
		{"store", HelpTroubleshooting},
		{"", HelpTroubleshooting},
	}
	for _, tc := range tests {
		if got := HelpForCode(tc.code); got != tc.want {
			t.Errorf("HelpForCode(%q) = %q, want %q", tc.code, got, tc.want)
		}
	}
}

// An error and its stored code lead to the same section.
func TestHelpForCodeAgreesWithTheError(t *testing.T) {
	for _, c := range []int{90002, 900023, 700016, 7000215, 7000222, 7000218, 90014, 500011, 1} {
		e := tokenErrorFor(c, "", StageCheck)
		e.Code = "AADSTS" + strconv.Itoa(c)
		if got := HelpForCode(e.Code); got != e.Help {
			t.Errorf("HelpForCode(%q) = %q, the error's Help is %q", e.Code, got, e.Help)
		}
	}
	for _, status := range []int{401, 403, 404, 429, 500, 503} {
		e := statusError(status, []byte(`{"error":{"code":"Whatever"}}`), StageSync)
		if got := HelpForCode(e.Code); got != e.Help {
			t.Errorf("HelpForCode(%q) = %q, the error's Help is %q", e.Code, got, e.Help)
		}
	}
}

// A recorded run keeps only the code; its reason reads back from it.
func TestReasonForCode(t *testing.T) {
	for code, want := range map[string]Reason{
		"403 Forbidden": PermissionMissing, "403": PermissionMissing, "401 Unauthorized": TokenRejected,
		"AADSTS7000215": InvalidSecret, "invalid_client": InvalidSecret, "429": Throttled,
		"network": ServiceError, "": ServiceError, "HTTP 429": Throttled,
		"403 DisabledFeature": FeatureDisabled, "403 DisallowedOperation": OperationDisallowed,
		"403 AccountInactive": AccountInactive, "403 WrongAudience": WrongAudience,
		"AADSTS53003": SignInBlocked, "AADSTS7000112": AppDisabled, "AADSTS70011": InvalidScope,
	} {
		if got := ReasonForCode(code); got != want {
			t.Errorf("ReasonForCode(%q) = %s, want %s", code, got, want)
		}
	}
}

// The advice on what comes next is the stage's: a sync is tried again by
// the next one; a check of credentials on Save stored nothing, so the
// admin saves again. Reason, code and help do not depend on it.
func TestAdviceFollowsTheStage(t *testing.T) {
	for _, c := range []struct {
		status int
		code   string
	}{{403, codeAccountInactive}, {401, codeAccountInactive}, {403, "DisabledFeature"}, {429, ""}, {503, ""}} {
		sync, check := statusErrorFor(c.status, c.code, "", StageSync), statusErrorFor(c.status, c.code, "", StageCheck)
		if sync.Reason != check.Reason || sync.Code != check.Code || sync.Help != check.Help {
			t.Errorf("%d %s: the stage changed more than the advice: %+v, %+v", c.status, c.code, sync, check)
		}
		if !strings.Contains(sync.Message, "Postern") || strings.Contains(sync.Message, "save again") {
			t.Errorf("%d %s at a sync advises %q", c.status, c.code, sync.Message)
		}
		if !strings.Contains(check.Message, "Nothing was saved") || !strings.Contains(check.Message, "save again") || strings.Contains(check.Message, "Postern will") || strings.Contains(check.Message, "each sync") {
			t.Errorf("%d %s on Save advises %q", c.status, c.code, check.Message)
		}
	}
	if m := statusErrorFor(403, codeAccountInactive, "", StageSync).Message; !strings.HasSuffix(m, "Postern tries again at each sync.") {
		t.Errorf("an inactive account at a sync advises %q", m)
	}
	for _, e := range []*Error{tokenThrottled(StageCheck), tokenErrorFor(90055, "", StageCheck)} {
		if !strings.Contains(e.Message, "save again") || strings.Contains(e.Message, "tries again") {
			t.Errorf("a throttled sign-in on Save advises %q", e.Message)
		}
	}
}
