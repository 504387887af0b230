package web

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"postern/internal/emulator"
)

// TestImpactPreviewEscapesSyncedText covers the impact preview in
// docs/security.md#item-24: a synced host name that is markup or a
// javascript: URL shows as text among the preview's examples. (The device
// list and page are TestDevicesXSS; FuzzDeviceDetail fuzzes the page.)
func TestImpactPreviewEscapesSyncedText(t *testing.T) {
	const script = `"><script>alert(1)</script>`
	const js = "javascript:alert(1)"
	d, c := connected(t)
	first := d.worker.Status().LastRun.ID
	high := "High"
	d.emu.Mutate(func(ms []emulator.Machine) []emulator.Machine {
		for i, host := range []string{script, js} {
			ms[i].ComputerDNSName = host
			ms[i].RiskScore = &high
			ms[i].MergedIntoMachineID, ms[i].IsPotentialDuplication = nil, false
		}
		return ms
	})
	wantRedirect(t, c.post("/settings/integrations/defender/sync", url.Values{}), "/settings/integrations")
	if run := d.waitRunAfter(t, first); run.Outcome != "success" {
		t.Fatalf("sync: %+v", run)
	}
	form := lowRiskForm()
	form.Set("name", "Preview check")
	res := c.post("/zero-trust/posture-checks/preview", form)
	wantStatus(t, res, http.StatusOK)
	if strings.Contains(res.body, "<script>alert") {
		t.Fatalf("the preview shows a synced host name as markup:\n%.3000s", res.body)
	}
	doc := parse(t, res)
	for _, n := range doc.Find("*").Nodes {
		for _, a := range n.Attr {
			if urlAttr(a.Key) && scriptURL(a.Val) {
				t.Errorf("<%s %s=%q>: a synced value became a script URL", n.Data, a.Key, a.Val)
			}
		}
	}
	// Markup would become elements, and its words alone text: the whole
	// host name is text only when it stayed text.
	shown := text(doc.Selection)
	for _, host := range []string{script, js} {
		if !strings.Contains(shown, host) {
			t.Errorf("the preview's examples do not show the host %q as text", host)
		}
	}
}
