package syncer_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"

	"postern/internal/defender"
	"postern/internal/emulator"
	"postern/internal/testkit/pgtest"
)

// emulatorEnv, when set to "MACHINES,SEED" (or "MACHINES,SEED,realistic"), makes the test binary serve the
// emulator instead of running tests: the benchmarks start it that way, in a
// process of its own, so that Microsoft's stand-in neither counts in the
// heap they measure nor moves the collector's pacing, as in production.
const emulatorEnv = "POSTERN_BENCH_EMULATOR"

func TestMain(m *testing.M) {
	if spec := os.Getenv(emulatorEnv); spec != "" {
		if err := serveEmulator(spec); err != nil {
			fmt.Fprintln(os.Stderr, "emulator:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(pgtest.Main(m)) // stops the PostgreSQL a benchmark started
}

// serveEmulator serves a fleet on a loopback port, prints its URL on
// stdout, and stops when stdin closes (the benchmark ended or died).
func serveEmulator(spec string) error {
	spec, realistic := strings.CutSuffix(spec, ",realistic")
	machines, seed, ok := strings.Cut(spec, ",")
	n, err1 := strconv.Atoi(machines)
	s, err2 := strconv.ParseInt(seed, 10, 64)
	if !ok || err1 != nil || err2 != nil {
		return fmt.Errorf("%s=%q, want MACHINES,SEED", emulatorEnv, spec)
	}
	emu := emulator.New(emulator.Config{Machines: n, Seed: s})
	f := emulator.Faults{NoRateLimit: true}
	if realistic {
		f.Realistic, f.PageDelayPer1000 = true, emulator.RealisticDelayPer1000
	}
	emu.SetFaults(f)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	warmAVReport(emu, ln.Addr().String())
	go func() { _ = http.Serve(ln, emu) }()
	fmt.Printf("http://%s\n", ln.Addr())
	_, _ = io.Copy(io.Discard, os.Stdin)
	return ln.Close()
}

// warmAVReport has the emulator encode its antivirus health report's pages
// (as a sync asks for them, from host) before the benchmark starts.
// Microsoft serves the report from its own machines; here the emulator
// shares the benchmark's two CPUs, and the report, which the syncs before
// issue 13 did not read, would otherwise add the emulator's encoding to
// Postern's figures. The machine pages are encoded at each request, as
// they were before, so the figures compare like for like.
func warmAVReport(emu *emulator.Emulator, host string) {
	rows := len(emu.AVRows())
	for skip := 0; skip <= rows; skip += defender.AVPageSize {
		req := httptest.NewRequest(http.MethodGet, fmt.Sprintf("/api/deviceavinfo?$top=%d&$skip=%d", defender.AVPageSize, skip), nil)
		req.Host = host
		req.Header.Set("Authorization", "Bearer "+emu.Token())
		emu.ServeHTTP(httptest.NewRecorder(), req)
	}
	// The warming's garbage is collected now, not by a collector running
	// beside the first timed sync.
	debug.FreeOSMemory()
}

// startEmulatorProcess runs the emulator in a child process until the
// benchmark ends and returns its base URL.
func startEmulatorProcess(b *testing.B, machines int, seed int64, realistic bool) string {
	b.Helper()
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(exe)
	spec := fmt.Sprintf("%d,%d", machines, seed)
	if realistic {
		spec += ",realistic"
	}
	cmd.Env = append(os.Environ(), emulatorEnv+"="+spec)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		stdin.Close()
		_ = cmd.Wait()
	})
	url, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		b.Fatalf("the emulator process did not start: %v", err)
	}
	return strings.TrimSpace(url)
}
