package views

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
)

// Every compliance count links to the devices with that verdict; the
// checks are counted in words that agree with the number; a share that is
// not zero never reads 0%.
func TestDashboardTilesLinkAndCount(t *testing.T) {
	now := time.Date(2026, 12, 2, 10, 5, 0, 0, time.UTC)
	p := DashboardPage{Chrome: Chrome{Title: "Dashboard", Now: now}, Defender: DefenderCard{State: StateConnected, Now: now},
		Devices: 1000, Compliant: 990, NonCompliant: 3, Unknown: 7, Counted: true, ChecksActive: 1, Enforced: 1,
		Health: []Tally{{Label: "Active", Count: 997, Href: "/devices?health=Active"}, {Label: "Inactive", Count: 3, Href: "/devices?health=Inactive"}}}
	var buf bytes.Buffer
	if err := Dashboard(p).Render(context.Background(), &buf); err != nil {
		t.Fatal(err)
	}
	doc, err := goquery.NewDocumentFromReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	for id, href := range map[string]string{"compliant": "/devices?verdict=allowed&kind=all", "non-compliant": "/devices?verdict=denied&kind=all", "unknown": "/devices?verdict=unknown&kind=all"} {
		a := doc.Find(`[data-testid="` + id + `"]`).Closest("a")
		if got, _ := a.Attr("href"); got != href {
			t.Errorf("the %s count links to %q, want %q", id, got, href)
		}
	}
	if a := doc.Find(`a[href="/devices?health=Inactive"]`); a.Length() != 1 {
		t.Error("the Inactive health count is not a link to its devices")
	}
	body := doc.Find("main").Text()
	for _, bad := range []string{"1 checks", "(0%)", "(100%)"} {
		if bytes.Contains([]byte(body), []byte(bad)) {
			t.Errorf("the dashboard says %q", bad)
		}
	}
	for n, want := range map[int]string{0: "0%", 3: "<1%", 999: "99%", 1000: "100%", 500: "50%"} {
		if got := percent(n, 1000); got != want {
			t.Errorf("percent(%d, 1000) = %q, want %q", n, got, want)
		}
	}
}
