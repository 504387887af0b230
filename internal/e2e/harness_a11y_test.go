package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// axeTimeout bounds one axe-core run.
const axeTimeout = 30 * time.Second

// axeViolation is the part of an axe-core result that a report needs.
type axeViolation struct {
	ID      string   `json:"id"`
	Impact  string   `json:"impact"`
	Help    string   `json:"help"`
	Nodes   int      `json:"nodes"`
	Targets []string `json:"targets"` // the selectors of the first few nodes
}

func (v axeViolation) String() string {
	return fmt.Sprintf("%s (%s, %d nodes): %s; at %s", v.ID, v.Impact, v.Nodes, v.Help, strings.Join(v.Targets, ", "))
}

// axeSource reads axe.min.js from <module root>/node_modules/axe-core, which
// npm installs from package.json.
var axeSource = sync.OnceValues(func() (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	src, err := os.ReadFile(filepath.Join(root, "node_modules", "axe-core", "axe.min.js"))
	return string(src), err
})

// CheckA11y runs axe-core on the current page and fails t for each violation
// of impact serious or critical, with its rule id, impact and first target
// selectors. docs/design.md#accessibility asks for none on any page.
//
// When axe-core is not installed, t is skipped, or fails when
// POSTERN_E2E_REQUIRED=1. Call it in a subtest, so that a skip does not end
// the journey:
//
//	t.Run("a11y", func(t *testing.T) { b.CheckA11y(t) })
func (b *Browser) CheckA11y(t testing.TB) {
	t.Helper()
	if _, err := axeSource(); err != nil {
		skipOrFail(t, "axe-core is not installed (%v); run npm ci, or make test", err)
	}
	all, err := b.axe()
	if err != nil {
		t.Fatalf("CheckA11y: %v", err)
	}
	var bad []string
	for _, v := range all {
		if v.Impact == "serious" || v.Impact == "critical" {
			bad = append(bad, v.String())
		}
	}
	if len(bad) > 0 {
		t.Errorf("axe-core found %d serious or critical violations on %s:\n\t%s",
			len(bad), b.locationForReport(), strings.Join(bad, "\n\t"))
	}
}

// axe runs axe-core on the current page, once it has loaded, and returns all
// its violations. The script goes in through Runtime.evaluate, which the
// page's CSP does not govern; a <script> tag would be blocked.
func (b *Browser) axe() ([]axeViolation, error) {
	src, err := axeSource()
	if err != nil {
		return nil, err
	}
	if _, err := poll[struct{}](b, script(`return document.readyState === "complete" ?
		{ok: true} : {ok: false, why: "the page has not finished loading"};`)); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(b.ctx, axeTimeout)
	defer cancel()
	loaded, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`typeof window.axe === "object"`))
	if err != nil {
		return nil, err
	}
	if !loaded {
		if err := chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](src)); err != nil {
			return nil, fmt.Errorf("loading axe-core: %w", err)
		}
	}
	return chromedp.Run(ctx, chromedp.Evaluate[[]axeViolation](`axe.run(document, {resultTypes: ["violations"]}).then(r =>
		r.violations.map(v => ({
			id: v.id, impact: v.impact || "", help: v.help, nodes: v.nodes.length,
			targets: v.nodes.slice(0, 3).map(n => n.target.map(t => [].concat(t).join(" >>> ")).join(" ")),
		})))`, chromedp.EvalAwaitPromise))
}

// locationForReport returns the current URL, or a placeholder.
func (b *Browser) locationForReport() string {
	ctx, cancel := context.WithTimeout(b.ctx, 2*time.Second)
	defer cancel()
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		return "the current page"
	}
	return loc
}
