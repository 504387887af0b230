package e2e

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"postern/internal/secret"
	"postern/internal/testkit"
	"postern/internal/testkit/pgtest"
)

// keyedReplicas is two replicas on one PostgreSQL database, each with a
// key file of its own, as on two hosts: what one host's file holds, the
// other's does not until it is copied.
type keyedReplicas struct {
	*replicaSet
	keys map[string]string // replica → its --master-key-file
	dirs map[string]string // replica → its --data-dir
}

func (k *keyedReplicas) start(name string) *Server {
	k.t.Helper()
	args := append([]string{"--database-url", k.url, "--replica-name", name, "--leader-lease", "3s",
		"--master-key-file", k.keys[name], "--key-reread-interval", "1s"}, k.args...)
	s := startServerIn(k.t, k.dirs[name], args...)
	k.reps[name] = s
	return s
}

// copyKey copies from's key file over to's, as an operator copies it to
// another host: a new file renamed into place, mode 0600.
func (k *keyedReplicas) copyKey(from, to string) {
	k.t.Helper()
	b, err := os.ReadFile(k.keys[from])
	if err != nil {
		k.t.Fatal(err)
	}
	tmp := k.keys[to] + ".new"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		k.t.Fatal(err)
	}
	if err := os.Rename(tmp, k.keys[to]); err != nil {
		k.t.Fatal(err)
	}
}

// command runs a postern command as on replica name's host (its key file
// and data directory) and returns its output and error.
func (k *keyedReplicas) command(name string, args ...string) (string, error) {
	k.t.Helper()
	bin, err := binary()
	if err != nil {
		k.t.Fatal(err)
	}
	cmd := exec.Command(bin, append(args[:1:1], append([]string{"--database-url", k.url, "--data-dir", k.dirs[name],
		"--master-key-file", k.keys[name], "--replica-name", name}, args[1:]...)...)...)
	cmd.Env = envWithout("POSTERN_")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	return out.String(), err
}

// masterKey is what name's /readyz?verbose says of its master key.
func (k *keyedReplicas) masterKey(name string) (active string, ids []string) {
	res, err := http.Get(k.reps[name].URL + "/readyz?verbose")
	if err != nil {
		return "", nil
	}
	defer res.Body.Close()
	var v struct {
		MasterKey struct {
			Active string   `json:"active"`
			KeyIDs []string `json:"key_ids"`
		} `json:"master_key"`
	}
	json.NewDecoder(res.Body).Decode(&v)
	return v.MasterKey.Active, v.MasterKey.KeyIDs
}

// sealedUnder is the key id the stored Defender client secret is sealed
// under.
func sealedUnder(t *testing.T, db *sql.DB) string {
	t.Helper()
	var sealed string
	if err := db.QueryRow("SELECT client_secret FROM integrations WHERE name = 'defender'").Scan(&sealed); err != nil {
		t.Fatal(err)
	}
	id, err := secret.KeyID(sealed)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// Two replicas behind no balancer share the sign-in limit: failed
// sign-ins alternating between them lock the account out on both after
// the tenth. Then the master key is rotated across them in two phases:
// staged on a's host, activation is refused, naming b, until b's key file
// has the key too and b reports it; once active, the secret is sealed
// under it, both replicas report it active, and each opens the Defender
// secret: a sync succeeds on the leader, and on the other replica after
// the leader stops.
func TestReplicasShareLimiterAndRotateKey(t *testing.T) {
	dbURL := pgtest.DatabaseURL(t)
	db, err := sql.Open("pgx", dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ms := startPagingMicrosoft(t, 300)
	k := &keyedReplicas{
		replicaSet: &replicaSet{t: t, url: dbURL, args: ms.args(), db: db, reps: map[string]*Server{}},
		keys:       map[string]string{"a": filepath.Join(t.TempDir(), "master.key"), "b": filepath.Join(t.TempDir(), "master.key")},
		dirs:       map[string]string{"a": t.TempDir(), "b": t.TempDir()},
	}
	k.start("a") // generates a's key file
	k.copyKey("a", "b")
	k.start("b")

	c := newConsole(t)
	c.setUp(k.reps["a"].URL)
	c.configure(k.reps["a"].URL)
	testkit.WaitFor(t, 60*time.Second, "the first sync", func() bool {
		return k.count("SELECT COUNT(*) FROM sync_runs WHERE outcome = 'success'") > 0
	})

	sharedLimit(t, k.replicaSet)
	rotateAcross(t, k, c)
}

// sharedLimit: ten failed sign-ins, alternating between a and b, lock
// the account out on both, the right password included.
func sharedLimit(t *testing.T, r *replicaSet) {
	attacker := newConsole(t)
	for i := range 10 {
		rep := []string{"a", "b"}[i%2]
		res := attacker.post(r.reps[rep].URL, "/login", url.Values{"email": {crashAdmin}, "password": {"wrong password " + itoa(int64(i))}})
		if res.StatusCode != http.StatusUnauthorized {
			t.Fatalf("failed sign-in %d on %s: %s, want 401", i+1, rep, res.Status)
		}
	}
	for _, rep := range []string{"a", "b"} {
		res, body := postBody(t, attacker, r.reps[rep].URL, "/login", url.Values{"email": {crashAdmin}, "password": {crashPassword}})
		if res.StatusCode != http.StatusTooManyRequests || !strings.Contains(body, "Too many failed sign-ins") || res.Header.Get("Retry-After") == "" {
			t.Errorf("the right password on %s after 10 failures spread over both: %s, want 429 with the message and Retry-After", rep, res.Status)
		}
	}
	if n := r.count("SELECT COUNT(*) FROM login_failures"); n != 20 {
		t.Errorf("%d failures stored, want 20 (ten, each against the account and the address)", n)
	}
	if n := r.count("SELECT COUNT(*) FROM login_failures WHERE position(convert_to($1, 'UTF8') in key_hash) > 0", crashAdmin); n != 0 {
		t.Errorf("%d stored failures hold the email in clear", n)
	}
}

// postBody is console.post that also reads the answer's body.
func postBody(t *testing.T, c *console, base, path string, form url.Values) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	res, err := c.client.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

var stagedID = regexp.MustCompile(`Staged master key (\S+) in`)

func rotateAcross(t *testing.T, k *keyedReplicas, c *console) {
	old, _ := k.masterKey("a")
	if old == "" || sealedUnder(t, k.db) != old {
		t.Fatalf("before the rotation: a's active key %q, the secret sealed under %q", old, sealedUnder(t, k.db))
	}
	out, err := k.command("a", "stage-key")
	m := stagedID.FindStringSubmatch(out)
	if err != nil || m == nil {
		t.Fatalf("stage-key on a's host: %v\n%s", err, out)
	}
	id := m[1]
	testkit.WaitFor(t, 10*time.Second, "a to report the staged key", func() bool {
		_, ids := k.masterKey("a")
		return slices.Contains(ids, id)
	})
	if _, ids := k.masterKey("b"); slices.Contains(ids, id) {
		t.Fatalf("b reports %s before its key file has it: %v", id, ids)
	}

	out, err = k.command("a", "activate-key", id)
	if err == nil || !strings.Contains(out, "b (holds "+old+")") || strings.Contains(out, "a (holds") {
		t.Fatalf("activate-key while b lacks %s: %v\n%s\nwant a refusal naming b only", id, err, out)
	}
	if got := sealedUnder(t, k.db); got != old {
		t.Fatalf("the refused activation re-sealed the secret under %s", got)
	}

	k.copyKey("a", "b")
	for _, rep := range []string{"a", "b"} {
		testkit.WaitFor(t, 10*time.Second, rep+" to report "+id+" in /readyz?verbose", func() bool {
			_, ids := k.masterKey(rep)
			return slices.Contains(ids, id)
		})
	}
	out, err = k.command("a", "activate-key", id)
	if err != nil || !strings.Contains(out, "Active master key is now "+id) {
		t.Fatalf("activate-key once both hold %s: %v\n%s", id, err, out)
	}
	if got := sealedUnder(t, k.db); got != id {
		t.Fatalf("after activation the secret is sealed under %s, want %s", got, id)
	}
	k.copyKey("a", "b") // the key file with the new key active, to b's host too
	for _, rep := range []string{"a", "b"} {
		testkit.WaitFor(t, 10*time.Second, rep+" to report "+id+" active", func() bool {
			active, _ := k.masterKey(rep)
			return active == id
		})
	}
	bothOpenTheSecret(t, k, c)
}

// bothOpenTheSecret: the Integrations page answers on both; a sync
// succeeds on the leader, which then stops, and on the other once it
// leads.
func bothOpenTheSecret(t *testing.T, k *keyedReplicas, c *console) {
	for _, rep := range []string{"a", "b"} {
		res, err := c.client.Get(k.reps[rep].URL + "/settings/integrations")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK || !strings.Contains(string(b), "Synced by replica") {
			t.Errorf("Integrations on %s after the rotation: %s", rep, res.Status)
		}
	}
	lead := k.leader("a", "b")
	other := map[string]string{"a": "b", "b": "a"}[lead]
	for _, rep := range []string{lead, other} {
		if rep == other {
			k.reps[lead].Stop()
			testkit.WaitFor(t, 30*time.Second, other+" to lead", func() bool { return k.role(other) == "sync leader" })
		}
		testkit.WaitFor(t, 60*time.Second, "no sync in progress", func() bool {
			return k.count("SELECT COUNT(*) FROM sync_runs WHERE outcome = 'running'") == 0
		})
		before := k.count("SELECT COALESCE(MAX(id), 0) FROM sync_runs")
		if !c.syncNow(k.reps[rep].URL) {
			t.Fatal("Sync now is not offered")
		}
		testkit.WaitFor(t, 60*time.Second, "a successful sync by "+rep+" after the rotation", func() bool {
			return k.count("SELECT COUNT(*) FROM sync_runs WHERE outcome = 'success' AND replica = $1 AND id > $2", rep, before) > 0
		})
	}
}
