package emulator

import (
	"encoding/hex"
	"math/rand/v2"
	"strconv"
	"strings"
)

var (
	linuxPrefixes = []string{"ubuntu-", "build-agent-", "k8s-node-", "rhel-"}
	// Mobile names by platform: an Android phone is never called an iPhone.
	mobileInfixes = map[string][]string{
		"iOS":     {"s-iphone-", "s-ipad-", "s-iphone-"},
		"Android": {"s-pixel-", "s-galaxy-", "s-android-"},
	}
)

// hostname is mostly a short lowercase name that matches the platform,
// sometimes an FQDN, rarely "". The idx-derived suffix is a bijection, so
// names never collide by accident.
func hostname(r *rand.Rand, platform, fam string, idx int) string {
	if r.IntN(100) < 2 {
		return ""
	}
	s4 := base36(idx, 4)
	first := firstNames[r.IntN(len(firstNames))]
	var name string
	switch fam {
	case "windows":
		switch r.IntN(3) {
		case 0:
			name = "desktop-" + base36(idx, 7)
		case 1:
			name = "laptop-" + first + "-" + s4
		default:
			name = "pc-" + first + "-" + s4
		}
	case "server":
		name = "srv-" + serverRoles[r.IntN(len(serverRoles))] + "-" + s4
	case "linux":
		name = linuxPrefixes[r.IntN(len(linuxPrefixes))] + s4
	case "mac":
		return first + "s-macbook-pro-" + s4
	default:
		infixes, ok := mobileInfixes[platform]
		if !ok {
			infixes = mobileInfixes["Android"]
		}
		return first + infixes[r.IntN(len(infixes))] + s4
	}
	if r.IntN(100) < 20 {
		name += ".corp.contoso-demo.com"
	}
	return name
}

// base36 maps idx through a fixed permutation of [0, 36^width) and spells it
// in base 36, so consecutive machines do not get consecutive names.
func base36(idx, width int) string {
	mod := uint64(1)
	for range width {
		mod *= 36
	}
	v := (uint64(idx)*2654435761 + 12345) % mod // 2654435761 is coprime to 36
	s := strconv.FormatUint(v, 36)
	return strings.Repeat("0", max(0, width-len(s))) + s
}

func genIPs(r *rand.Rand, fam string, onboarded bool) ([]IPAddress, *string) {
	mac := macVendors[r.IntN(len(macVendors))] + strings.ToUpper(hex.EncodeToString([]byte{byte(r.Uint32()), byte(r.Uint32()), byte(r.Uint32())}))
	v4 := privateIP(r)
	if !onboarded {
		if r.IntN(10) < 6 {
			return []IPAddress{}, nil
		}
		return []IPAddress{{IPAddress: v4, MACAddress: ptr(mac), Type: "Ethernet", OperationalStatus: "Up"}}, ptr(v4)
	}
	macp := ptr(mac)
	kind := "Ethernet"
	if fam == "mobile" || (fam != "server" && r.IntN(10) < 4) {
		kind = "Wireless80211"
	}
	ips := make([]IPAddress, 0, 5)
	ips = append(ips, IPAddress{IPAddress: v4, MACAddress: macp, Type: kind, OperationalStatus: "Up"})
	if fam != "mobile" && r.IntN(10) < 7 {
		ll := "fe80::" + strconv.FormatUint(uint64(r.Uint32()&0xffff), 16) + ":" + strconv.FormatUint(uint64(r.Uint32()&0xffff), 16) + ":" + strconv.FormatUint(uint64(r.Uint32()&0xffff), 16) + ":" + strconv.FormatUint(uint64(r.Uint32()&0xffff), 16)
		ips = append(ips, IPAddress{IPAddress: ll, MACAddress: macp, Type: kind, OperationalStatus: "Up"})
	}
	if fam == "windows" && r.IntN(10) < 2 {
		down := macVendors[r.IntN(len(macVendors))] + strings.ToUpper(hex.EncodeToString([]byte{byte(r.Uint32()), byte(r.Uint32()), byte(r.Uint32())}))
		ips = append(ips, IPAddress{IPAddress: "169.254." + strconv.Itoa(r.IntN(255)) + "." + strconv.Itoa(1+r.IntN(254)), MACAddress: ptr(down), Type: "Ethernet", OperationalStatus: "Down"})
	}
	if fam != "mobile" {
		ips = append(ips,
			IPAddress{IPAddress: "127.0.0.1", Type: "SoftwareLoopback", OperationalStatus: "Up"},
			IPAddress{IPAddress: "::1", Type: "SoftwareLoopback", OperationalStatus: "Up"})
	}
	if r.IntN(100) < 2 {
		return ips, nil
	}
	return ips, ptr(v4)
}

func privateIP(r *rand.Rand) string {
	switch r.IntN(3) {
	case 0:
		return "10." + strconv.Itoa(r.IntN(256)) + "." + strconv.Itoa(r.IntN(256)) + "." + strconv.Itoa(1+r.IntN(254))
	case 1:
		return "192.168." + strconv.Itoa(r.IntN(256)) + "." + strconv.Itoa(1+r.IntN(254))
	default:
		return "172." + strconv.Itoa(16+r.IntN(16)) + "." + strconv.Itoa(r.IntN(256)) + "." + strconv.Itoa(1+r.IntN(254))
	}
}

// publicIP stays inside the documentation ranges (RFC 5737): obviously fake.
func publicIP(r *rand.Rand) string {
	prefix := []string{"192.0.2.", "198.51.100.", "203.0.113."}[r.IntN(3)]
	return prefix + strconv.Itoa(1+r.IntN(254))
}

func hexID(r *rand.Rand) string {
	var b [24]byte
	for i := 0; i < 24; i += 8 {
		v := r.Uint64()
		for j := range 8 {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return hex.EncodeToString(b[:20])
}

func guid(r *rand.Rand) string {
	var b [16]byte
	lo, hi := r.Uint64(), r.Uint64()
	for j := range 8 {
		b[j], b[8+j] = byte(lo>>(8*j)), byte(hi>>(8*j))
	}
	return formatGUID(b)
}

// formatGUID sets the version-4 and variant bits and spells b as a GUID.
func formatGUID(b [16]byte) string {
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
