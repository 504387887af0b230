// Package pgtest gives tests a real PostgreSQL server: Debian's postgresql
// package, started once per test binary in a temporary directory and
// removed when the binary ends, with a fresh database for each test. No
// mock and no container: the store's SQL meets the server it will meet in
// production.
//
// A package that uses it runs its tests through Main:
//
//	func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
//
// When the server binaries are missing, DatabaseURL skips the test with a
// hint (`make postgres`), or fails it when POSTERN_E2E_REQUIRED=1, as CI
// sets. Only tests import this package.
package pgtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"

	"postern/internal/testkit"
)

// EnvBinDir overrides where initdb and postgres are looked for (by default
// the newest /usr/lib/postgresql/*/bin, Debian's layout).
const EnvBinDir = "POSTERN_PG_BINDIR"

// superuser is the role initdb creates; the tests connect as it.
const superuser = "postern"

// Server is the PostgreSQL of this test binary.
type Server struct {
	Host     string // 127.0.0.1
	Port     int
	User     string
	Password string // random, so that a wrong one is refused

	dir   string // holds the data directory, the socket and the log
	cmd   *exec.Cmd
	done  chan struct{} // closed when postgres exited
	admin *sql.DB       // on the postgres database, for CREATE/DROP DATABASE
}

// URL is the connection URL of database db on the server.
func (s *Server) URL(db string) string {
	u := url.URL{Scheme: "postgres", User: url.UserPassword(s.User, s.Password),
		Host: net.JoinHostPort(s.Host, strconv.Itoa(s.Port)), Path: "/" + db, RawQuery: "sslmode=disable"}
	return u.String()
}

var (
	mainRan atomic.Bool
	started atomic.Pointer[Server]
	server  = sync.OnceValues(start)
	dbSeq   atomic.Int64
)

// errMissing is start's error when the server binaries are not installed.
var errMissing = errors.New("PostgreSQL is not installed: run `make postgres` as root, or apt-get install postgresql")

// Main runs the tests and then stops the server, if one was started, and
// removes its directory. Call it from TestMain.
func Main(m *testing.M) int {
	mainRan.Store(true)
	code := m.Run()
	if s := started.Load(); s != nil {
		s.stop()
	}
	return code
}

// Start returns the binary's server, starting it on first use. It skips
// the test when PostgreSQL is not installed (fails it when
// POSTERN_E2E_REQUIRED=1) and fails it when the server would not start.
func Start(t testing.TB) *Server {
	t.Helper()
	if !mainRan.Load() {
		t.Fatal("pgtest: call os.Exit(pgtest.Main(m)) from TestMain, so that the server is stopped and removed")
	}
	s, err := server()
	if errors.Is(err, errMissing) {
		testkit.SkipOrFail(t, "%v", err)
	}
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	return s
}

// DatabaseURL creates a new, empty database for the test and returns its
// URL; the database is dropped when the test ends.
func DatabaseURL(t testing.TB) string {
	t.Helper()
	s := Start(t)
	name := fmt.Sprintf("t%d_%s", dbSeq.Add(1), sanitize(t.Name()))
	if len(name) > 63 {
		name = name[:63]
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := s.admin.ExecContext(ctx, `CREATE DATABASE "`+name+`"`); err != nil {
		t.Fatalf("pgtest: create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		// FORCE ends the sessions a failed test left open.
		if _, err := s.admin.ExecContext(ctx, `DROP DATABASE IF EXISTS "`+name+`" WITH (FORCE)`); err != nil {
			t.Errorf("pgtest: drop database %s: %v", name, err)
		}
	})
	return s.URL(name)
}

var unsafeName = regexp.MustCompile(`[^a-z0-9_]+`)

func sanitize(s string) string {
	return strings.Trim(unsafeName.ReplaceAllString(strings.ToLower(s), "_"), "_")
}

// binDir finds initdb and postgres.
func binDir() (string, error) {
	if d := os.Getenv(EnvBinDir); d != "" {
		return d, nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "postgres")); err == nil {
			return d, nil
		}
	}
	return "", errMissing
}

func version(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

// runAs is the unprivileged account the server runs as when the tests run
// as root (PostgreSQL refuses root): the postgres account the package
// creates, else nobody. Nil means the current user.
func runAs() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
	}
	return nil, errors.New("running as root and neither a postgres nor a nobody account exists to run PostgreSQL as")
}

// start runs initdb and postgres in a new temporary directory.
func start() (*Server, error) {
	bin, err := binDir()
	if err != nil {
		return nil, err
	}
	cred, err := runAs()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "postern-pgtest-")
	if err != nil {
		return nil, err
	}
	s := &Server{Host: "127.0.0.1", User: superuser, Password: randomPassword(), dir: dir}
	if err := s.initdb(bin, cred); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	// A port free a moment ago can be taken by another process before
	// postgres binds it: try a few.
	for attempt := 0; ; attempt++ {
		if err = s.run(bin, cred); err == nil {
			break
		}
		if attempt == 2 {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	started.Store(s)
	return s, nil
}

func (s *Server) initdb(bin string, cred *syscall.Credential) error {
	pw := filepath.Join(s.dir, "pw")
	if err := os.WriteFile(pw, []byte(s.Password+"\n"), 0o600); err != nil {
		return err
	}
	if cred != nil {
		if err := chownAll(s.dir, cred); err != nil {
			return err
		}
	}
	cmd := exec.Command(filepath.Join(bin, "initdb"), "-D", filepath.Join(s.dir, "data"), "-U", superuser,
		"--pwfile="+pw, "--auth=scram-sha-256", "--encoding=UTF8", "--locale=C", "--no-sync")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	cmd.Dir = s.dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("initdb: %v\n%s", err, out)
	}
	return os.Remove(pw)
}

func chownAll(dir string, cred *syscall.Credential) error {
	return filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Chown(p, int(cred.Uid), int(cred.Gid))
	})
}

// run starts postgres on a free loopback port and waits until it answers.
// The server is a child of this process (not daemonized by pg_ctl), with a
// parent-death signal: a test binary that panics or is killed by its
// timeout takes the server down with it.
func (s *Server) run(bin string, cred *syscall.Credential) error {
	port, err := FreePort()
	if err != nil {
		return err
	}
	s.Port = port
	log, err := os.Create(filepath.Join(s.dir, "postgres.log"))
	if err != nil {
		return err
	}
	defer log.Close()
	if cred != nil {
		os.Chown(log.Name(), int(cred.Uid), int(cred.Gid))
	}
	s.cmd = exec.Command(filepath.Join(bin, "postgres"), "-D", filepath.Join(s.dir, "data"),
		"-p", strconv.Itoa(port), "-k", s.dir, "-c", "listen_addresses=127.0.0.1",
		// Durability buys nothing in a throwaway cluster.
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "max_connections=300", "-c", "shared_buffers=64MB")
	s.cmd.Stdout, s.cmd.Stderr = log, log
	// SIGINT is PostgreSQL's fast shutdown.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGINT}
	s.done = make(chan struct{})
	started := make(chan error, 1)
	go func() {
		// The parent-death signal follows the thread that started the
		// child, not the process: keep this one until postgres exits.
		runtime.LockOSThread()
		if err := s.cmd.Start(); err != nil {
			started <- err
			close(s.done)
			return
		}
		started <- nil
		s.cmd.Wait()
		close(s.done)
	}()
	if err := <-started; err != nil {
		return fmt.Errorf("start postgres: %w", err)
	}
	if err := s.waitReady(); err != nil {
		s.kill()
		b, _ := os.ReadFile(filepath.Join(s.dir, "postgres.log"))
		return fmt.Errorf("postgres did not start: %v\n%s", err, b)
	}
	return nil
}

// waitReady connects until the server answers, for up to 30 s.
func (s *Server) waitReady() error {
	db, err := sql.Open("pgx", s.URL("postgres"))
	if err != nil {
		return err
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err = db.PingContext(ctx)
		cancel()
		if err == nil {
			s.admin = db
			return nil
		}
		select {
		case <-s.done:
			db.Close()
			return errors.New("postgres exited")
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			db.Close()
			return err
		}
	}
}

// stop shuts the server down (fast shutdown, then a kill after 10 s) and
// removes its directory.
func (s *Server) stop() {
	if s.admin != nil {
		s.admin.Close()
	}
	s.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		s.kill()
	}
	os.RemoveAll(s.dir)
}

func (s *Server) kill() {
	s.cmd.Process.Kill()
	<-s.done
}

// FreePort is a loopback TCP port that was free a moment ago (for a test
// that needs a port nothing listens on).
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func randomPassword() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}
