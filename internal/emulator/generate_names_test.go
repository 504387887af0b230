package emulator

import (
	"strings"
	"testing"
	"time"
)

// Demo names match their platforms: no Android phone called an iPhone, no
// Linux server called a MacBook.
func TestNamesMatchPlatforms(t *testing.T) {
	want := map[string][]string{
		"windows": {"desktop-", "laptop-", "pc-"},
		"server":  {"srv-"},
		"linux":   {"ubuntu-", "build-agent-", "k8s-node-", "rhel-"},
		"mac":     {"-macbook-pro-"},
		"iOS":     {"-iphone-", "-ipad-"},
		"Android": {"-pixel-", "-galaxy-", "-android-"},
	}
	ms := generate(11, 3000, time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC))
	seen := map[string]bool{}
	for _, m := range ms {
		if m.ComputerDNSName == "" {
			continue
		}
		kind := family(m.OSPlatform)
		if kind == "mobile" {
			kind = m.OSPlatform
		}
		ok := false
		for _, w := range want[kind] {
			ok = ok || strings.Contains(m.ComputerDNSName, w)
		}
		if !ok {
			t.Errorf("%s machine named %q", m.OSPlatform, m.ComputerDNSName)
		}
		seen[kind] = true
	}
	for kind := range want {
		if !seen[kind] {
			t.Errorf("no %s machine among 3,000", kind)
		}
	}
}
