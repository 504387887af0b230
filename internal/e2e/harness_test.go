package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"postern/internal/testkit"
	"postern/internal/testkit/pgtest"
)

// Environment variables that steer the harness.
const (
	envChromium  = "POSTERN_CHROMIUM"      // the browser to run
	envArtifacts = "POSTERN_E2E_ARTIFACTS" // where screenshots go
)

// defaultChromium is where Debian's chromium package installs the browser.
const defaultChromium = "/usr/bin/chromium"

// buildDir holds the postern binary that the tests of this run share. TestMain
// removes it.
var buildDir string

// extraBuildFlags are added to `go build`; race_test.go adds -race when the
// tests themselves run with the race detector.
var extraBuildFlags []string

func TestMain(m *testing.M) {
	code := pgtest.Main(m) // stops the PostgreSQL a test started
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// skipOrFail skips the test, or fails it when the tools are required
// (POSTERN_E2E_REQUIRED=1, testkit.EnvRequired).
func skipOrFail(t testing.TB, format string, args ...any) {
	t.Helper()
	testkit.SkipOrFail(t, format, args...)
}

var moduleRoot = sync.OnceValues(func() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("go env GOMOD: not inside a module")
	}
	return filepath.Dir(gomod), nil
})

// mustModuleRoot returns the directory of postern's go.mod.
func mustModuleRoot(t testing.TB) string {
	t.Helper()
	root, err := moduleRoot()
	if err != nil {
		t.Fatalf("finding the module root: %v", err)
	}
	return root
}

// buildRoot creates buildDir once per test binary.
var buildRoot = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "postern-e2e-")
	buildDir = dir
	return dir, err
})

// build compiles the postern program into buildDir as name, with flags.
func build(name string, flags []string) (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	dir, err := buildRoot()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, name)
	args := append([]string{"build", "-o", bin}, flags...)
	cmd := exec.Command("go", append(args, ".")...)
	cmd.Dir = root
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go %s in %s: %v\n%s", strings.Join(cmd.Args[1:], " "), root, err, out.Bytes())
	}
	if testing.Verbose() {
		fmt.Printf("e2e: built %s %v in %v\n", name, flags, time.Since(start).Round(time.Millisecond))
	}
	return bin, nil
}

// binary builds the postern program once per test binary, with the race
// detector when the tests run with it, and returns its path.
var binary = sync.OnceValues(func() (string, error) { return build("postern", extraBuildFlags) })

// plainBinary is postern built without the race detector, for the tests
// whose subject is scale (100,000 devices) rather than data races: a
// race-built server's first bulk apply of 100,000 devices outruns the
// sync's deadline. Without -race it is binary.
var plainBinary = sync.OnceValues(func() (string, error) {
	if len(extraBuildFlags) == 0 {
		return binary()
	}
	return build("postern-plain", nil)
})

// artifactsDir returns (and creates) the directory for screenshots:
// $POSTERN_E2E_ARTIFACTS, or <module root>/tmp/e2e-artifacts.
func artifactsDir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv(envArtifacts)
	if dir == "" {
		dir = filepath.Join(mustModuleRoot(t), "tmp", "e2e-artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("creating the artifacts directory: %v", err)
	}
	return dir
}

var unsafeFileChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// artifactPath returns the path of an artifact of the test, such as
// TestFirstRunJourney-login.png.
func artifactPath(t testing.TB, name, ext string) string {
	t.Helper()
	base := unsafeFileChars.ReplaceAllString(t.Name(), "_")
	if name != "" {
		base += "-" + unsafeFileChars.ReplaceAllString(name, "_")
	}
	return filepath.Join(artifactsDir(t), base+ext)
}

// envWithout returns the environment of this process without the variables
// whose names start with prefix.
func envWithout(prefix string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, prefix) {
			env = append(env, kv)
		}
	}
	return env
}
