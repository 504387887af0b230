package emulator

import (
	"bytes"
	"hash/fnv"
	"net/http"
	"strconv"
	"time"
)

// Realism makes the emulator answer as the real service does where it
// differs from the documentation or from a tidy test fleet: answers a
// client must not mistake for "no machines", values typed otherwise than
// documented, and the latency and payload of a real tenant. The zero value
// keeps the emulator fast and tidy, as unit tests and BenchmarkSync100k
// want it.
type Realism struct {
	// HTML404: every API request answers 404 with an HTML page, as a
	// proxy or web server in front of a wrong host or path does.
	HTML404 bool
	// EmptyTenant: a tenant with no machines answers the first page with
	// JSON 404 ResourceNotFound, as one that has never used Defender does.
	EmptyTenant bool
	// NotFoundOnPage: page k (1-based) of every listing answers JSON 404
	// ResourceNotFound, as Microsoft sporadically does.
	NotFoundOnPage int
	// StringRBACGroup: rbacGroupId is sent as a string ("140"), as the
	// documentation types it, instead of the number observed.
	StringRBACGroup bool
	// UnreadableEvery: one machine in N (the same ones on every call,
	// chosen by id) sends an osBuild that is not a number.
	UnreadableEvery int
	// PageDelayPer1000: a listing page waits this long per 1,000 machines
	// it holds before answering (Microsoft takes about 1–3 s for 2,000).
	PageDelayPer1000 time.Duration
	// Realistic: machines carry the extra adapters real devices report
	// (VPN, Hyper-V and container switches, Bluetooth), several
	// ipAddresses each, making pages as large as real ones.
	Realistic bool
}

// RealisticDelayPer1000 is the per-1,000-machine page delay of the
// --realistic preset: 2 s for a page of 2,000.
const RealisticDelayPer1000 = time.Second

// pageDelay is how long a page of n machines waits.
func (r *Realism) pageDelay(n int) time.Duration {
	if r.PageDelayPer1000 <= 0 || n <= 0 {
		return 0
	}
	return r.PageDelayPer1000 * time.Duration(n) / 1000
}

// encoding is how m is written under these switches.
func (r *Realism) encoding(m *Machine) encoding {
	enc := encoding{stringRBACGroup: r.StringRBACGroup, realistic: r.Realistic}
	if r.UnreadableEvery > 0 {
		h := fnv.New32a()
		h.Write([]byte(m.ID))
		enc.unreadable = h.Sum32()%uint32(r.UnreadableEvery) == 0
	}
	return enc
}

// proxy404 is the page a reverse proxy sends for a path it does not know.
const proxy404 = `<!DOCTYPE html>
<html><head><title>404 Not Found</title></head>
<body><center><h1>404 Not Found</h1></center><hr><center>nginx</center></body></html>
`

func writeProxy404(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/html")
	w.WriteHeader(http.StatusNotFound)
	w.Write([]byte(proxy404))
}

// appendExtraAdapters appends the adapters a real device reports beside its
// main one, derived from its id so that every call sends the same ones.
// more says whether a comma is needed first.
func appendExtraAdapters(b []byte, m *Machine, more bool) []byte {
	h := fnv.New64a()
	h.Write([]byte(m.ID))
	x := h.Sum64()
	adapters := []struct{ kind, status, prefix string }{
		{"Ethernet", "Up", "172.17."},         // vEthernet (Default Switch)
		{"Ppp", "Up", "10.200."},              // VPN
		{"Ethernet", "Down", "192.168.56."},   // VirtualBox host-only
		{"Ethernet", "Up", "172.29."},         // WSL
		{"Ethernet", "Down", "169.254."},      // Bluetooth PAN
		{"Wireless80211", "Down", "169.254."}, // Wi-Fi Direct
	}
	n := 4 + int(x%4) // 4–7 more adapters, each with an IPv4 and a link-local IPv6 address
	for i := 0; i < n; i++ {
		a := adapters[i%len(adapters)]
		v := byte(x >> (8 * (i % 8)))
		mac := strconv.AppendUint([]byte("00155D"), uint64(0x100000+int(v)*16+i), 16)
		for _, v6 := range []bool{false, true} {
			if more || i > 0 || v6 {
				b = append(b, ',')
			}
			b = append(b, `{"ipAddress":"`...)
			if v6 {
				b = append(b, "fe80::215:5dff:fe"...)
				b = strconv.AppendUint(b, uint64(v), 16)
				b = append(b, ':')
				b = strconv.AppendUint(b, uint64(0x1000+i), 16)
			} else {
				b = append(b, a.prefix...)
				b = strconv.AppendInt(b, int64(v), 10)
				b = append(b, '.')
				b = strconv.AppendInt(b, int64(1+i), 10)
			}
			b = append(b, `","macAddress":"`...)
			b = append(b, bytes.ToUpper(mac)...)
			b = append(b, `","type":"`...)
			b = append(b, a.kind...)
			b = append(b, `","operationalStatus":"`...)
			b = append(b, a.status...)
			b = append(b, `"}`...)
		}
	}
	return b
}
