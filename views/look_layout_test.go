package views

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
)

// The antivirus panel reads "2 days ago (Completed)": the scan's result is
// its own word, with a real space, for the eye and for a screen reader.
func TestDeviceAVScanResultIsSpaced(t *testing.T) {
	now := time.Date(2026, 12, 6, 3, 0, 0, 0, time.UTC)
	quick, full := now.Add(-49*time.Hour), now.Add(-28*24*time.Hour)
	p := DeviceDetailPage{Chrome: Chrome{Title: "d", Now: now},
		AVHealth: DeviceAVView{Mode: "Active", QuickScan: &quick, FullScan: &full, QuickScanResult: "Completed", FullScanResult: "Cancelled"}}
	var buf bytes.Buffer
	if err := deviceAV(p).Render(context.Background(), &buf); err != nil {
		t.Fatal(err)
	}
	doc, err := goquery.NewDocumentFromReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	text := squash(doc.Selection)
	for _, want := range []string{"2 days ago (Completed)", "28 days ago (Cancelled)"} {
		if !strings.Contains(text, want) {
			t.Errorf("antivirus panel %q lacks %q", text, want)
		}
	}
}

// A held or failed run's message is long: the Error column keeps a
// readable width instead of squeezing it into a column one word wide that
// makes every row of the table hundreds of pixels tall.
func TestSyncRunsErrorColumnKeepsAWidth(t *testing.T) {
	now := time.Date(2026, 12, 6, 3, 0, 0, 0, time.UTC)
	p := SyncRunsPage{Chrome: Chrome{Title: "Sync runs", Now: now}, Rows: []SyncRunRow{{ID: 2, Trigger: "manual", StartedAt: now, Outcome: "held",
		Error: "Held: this sync would mark 125 of 250 active devices missing (50 %), more than the 10 % allowed."}}}
	p.Pager.Total, p.Pager.PerPage = 1, 50
	var buf bytes.Buffer
	if err := SyncRuns(p).Render(context.Background(), &buf); err != nil {
		t.Fatal(err)
	}
	doc, err := goquery.NewDocumentFromReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	cell := doc.Find("tbody td").FilterFunction(func(_ int, s *goquery.Selection) bool { return strings.Contains(s.Text(), "Held: this sync") })
	if cell.Length() != 1 {
		t.Fatalf("no Error cell holds the held message")
	}
	if class, _ := cell.Attr("class"); !strings.Contains(class, "min-w-") {
		t.Errorf("the Error cell has class %q: without a minimum width the message wraps a word a line", class)
	}
}

// A discovered device's badge wraps under its host name instead of
// truncating the name to a few letters in the narrow host column.
func TestDevicesDiscoveredBadgeLeavesTheNameReadable(t *testing.T) {
	now := time.Date(2026, 12, 6, 3, 0, 0, 0, time.UTC)
	rows := []DeviceRow{{ID: "a", Host: "build-agent-b36p", Onboarding: "CanBeOnboarded"}}
	p := DevicesPage{Chrome: Chrome{Title: "Devices", Now: now}, Rows: rows, Query: DeviceQuery{Kind: KindDiscovered}}
	p.Pager.Total, p.Pager.PerPage = 1, 50
	doc := renderDevices(t, p)
	badge := doc.Find(`[data-testid="discovered-badge"]`)
	if badge.Length() != 1 {
		t.Fatal("the discovered device has no Discovered badge")
	}
	if class, _ := badge.Parent().Attr("class"); !strings.Contains(class, "flex-wrap") {
		t.Errorf("the host cell's row has class %q: the badge cannot wrap under the name, so it truncates it", class)
	}
}
