package syncer_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"postern/internal/emulator"
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
	os.Exit(m.Run())
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
	go func() { _ = http.Serve(ln, emu) }()
	fmt.Printf("http://%s\n", ln.Addr())
	_, _ = io.Copy(io.Discard, os.Stdin)
	return ln.Close()
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
