package e2e

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"

	"postern/internal/testkit"
)

const (
	// readyTimeout bounds the wait for GET /readyz to answer 200.
	readyTimeout = 15 * time.Second
	// stopTimeout bounds the wait for the process to exit after SIGTERM.
	stopTimeout = 10 * time.Second
)

// Server is a running postern process with its own data directory.
type Server struct {
	// URL is the base URL, such as http://127.0.0.1:41234, without a slash.
	URL string
	// DataDir is the --data-dir of the process: a fresh t.TempDir(), or the
	// directory given to startServerIn.
	DataDir string

	t        testing.TB
	cmd      *exec.Cmd
	out      testkit.Buffer
	done     chan struct{} // closed when the process has exited
	waitErr  error         // the result of cmd.Wait, set before done closes
	stopOnce sync.Once
}

// StartServer runs the postern binary, built once per test binary, as
// `postern --addr 127.0.0.1:PORT --data-dir DIR extraArgs...` on a free
// loopback port and a fresh data directory, without the POSTERN_* variables
// of the test's environment. It returns when GET /readyz answers 200, and
// fails the test when that does not happen within 15 s or the process exits.
//
// At cleanup the server is stopped (see [Server.Stop]); when the test failed,
// its stdout and stderr are logged.
func StartServer(t testing.TB, extraArgs ...string) *Server {
	t.Helper()
	return startServerIn(t, t.TempDir(), extraArgs...)
}

// startServerIn is StartServer on dataDir, so that a restart finds the
// previous process's database and key.
func startServerIn(t testing.TB, dataDir string, extraArgs ...string) *Server {
	t.Helper()
	return startBinaryIn(t, binary, dataDir, extraArgs...)
}

// startBinaryIn is startServerIn for the program bin builds.
func startBinaryIn(t testing.TB, bin func() (string, error), dataDir string, extraArgs ...string) *Server {
	t.Helper()
	s := launchBinaryIn(t, bin, dataDir, extraArgs...)
	if err := s.waitReady(); err != nil {
		s.kill()
		t.Fatalf("postern did not become ready: %v\n%s", err, s.Output())
	}
	return s
}

// launchServerIn starts postern on dataDir like startServerIn, and returns
// at once, without waiting for it to listen.
func launchServerIn(t testing.TB, dataDir string, extraArgs ...string) *Server {
	t.Helper()
	return launchBinaryIn(t, binary, dataDir, extraArgs...)
}

// launchBinaryIn is launchServerIn for the program build builds.
func launchBinaryIn(t testing.TB, build func() (string, error), dataDir string, extraArgs ...string) *Server {
	t.Helper()
	bin, err := build()
	if err != nil {
		t.Fatalf("building postern: %v", err)
	}
	addr := freeAddr(t)
	s := &Server{
		URL:     "http://" + addr,
		DataDir: dataDir,
		t:       t,
		done:    make(chan struct{}),
	}
	args := append([]string{"--addr", addr, "--data-dir", s.DataDir}, extraArgs...)
	s.cmd = exec.Command(bin, args...)
	s.cmd.Dir = t.TempDir() // a relative path the program writes lands here, not in the package
	s.cmd.Env = envWithout("POSTERN_")
	s.cmd.Stdout, s.cmd.Stderr = &s.out, &s.out
	s.cmd.WaitDelay = time.Second // a child that keeps the pipes open must not hang Wait
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", bin, err)
	}
	go func() {
		s.waitErr = s.cmd.Wait()
		close(s.done)
	}()
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			t.Logf("postern %v output:\n%s", args, s.Output())
		}
	})
	return s
}

// Output returns what the process wrote to stdout and stderr so far.
func (s *Server) Output() string {
	return s.out.String()
}

// Stop sends SIGTERM and waits up to 10 s for the process to exit, then kills
// it. It fails the test when the process had already exited on its own, did
// not exit in time, or exited with an error: docs/design.md#shutdown asks for a clean
// shutdown on SIGTERM. Stop runs at cleanup; calling it earlier is fine, and
// calls after the first do nothing.
func (s *Server) Stop() {
	s.t.Helper()
	s.stopOnce.Do(func() {
		select {
		case <-s.done:
			s.t.Errorf("postern exited before the test stopped it: %v", exitText(s.waitErr))
			return
		default:
		}
		if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			s.t.Errorf("sending SIGTERM to postern: %v", err)
		}
		select {
		case <-s.done:
			if s.waitErr != nil {
				s.t.Errorf("postern did not exit cleanly after SIGTERM: %v", exitText(s.waitErr))
			}
		case <-time.After(stopTimeout):
			s.cmd.Process.Kill()
			<-s.done
			s.t.Errorf("postern did not exit within %v of SIGTERM; killed it", stopTimeout)
		}
	})
}

// kill ends the process at once, for a server that failed to start. The
// following Stop does nothing.
func (s *Server) kill() {
	s.stopOnce.Do(func() {
		s.cmd.Process.Kill()
		<-s.done
	})
}

// waitReady polls GET /readyz until it answers 200, the process exits, or
// readyTimeout passes.
func (s *Server) waitReady() error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(readyTimeout)
	last := "no answer yet"
	for time.Now().Before(deadline) {
		select {
		case <-s.done:
			return fmt.Errorf("it exited: %v", exitText(s.waitErr))
		default:
		}
		resp, err := client.Get(s.URL + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = "GET /readyz answered " + resp.Status
		} else {
			last = err.Error()
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("no 200 from /readyz within %v; last: %s", readyTimeout, last)
}

// exitText describes the result of cmd.Wait.
func exitText(err error) string {
	if err == nil {
		return "exit status 0"
	}
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exit.String()
	}
	return err.Error()
}

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("finding a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().String()
}
