package web

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"postern/internal/actor"
	"postern/internal/audit"
)

// localhost is the test server as a browser must reach it for passkeys
// (an RP ID is a host name, never an IP address): its origin and the
// Host the test clients send.
func localhost(e *testEnv) (host, origin string) {
	u, _ := url.Parse(e.http.URL)
	host = "localhost:" + u.Port()
	return host, "http://" + host
}

// send posts body as contentType, as static/js/passkeys.js does.
func (c *client) send(path, contentType, body string) response {
	c.env.t.Helper()
	base := c.env.http.URL
	if c.host != "" {
		base = "http://" + c.host
	}
	req, err := http.NewRequest(http.MethodPost, base+path, strings.NewReader(body))
	if err != nil {
		c.env.t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Sec-Fetch-Site", c.fetchSite)
	res, err := c.hc.Do(req)
	if err != nil {
		c.env.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return response{Response: res, body: string(b)}
}

func (c *client) sendJSON(path, body string) response { return c.send(path, "application/json", body) }

func (c *client) sendForm(path string, form url.Values) response {
	return c.send(path, "application/x-www-form-urlencoded", form.Encode())
}

func jsonAnswer(t *testing.T, res response) passkeyJSON {
	t.Helper()
	var a passkeyJSON
	if err := json.Unmarshal([]byte(res.body), &a); err != nil {
		t.Fatalf("%s: not JSON: %.300s", res.Request.URL.Path, res.body)
	}
	return a
}

// addPasskey adds key to c's account as name, through both requests.
func addPasskey(t *testing.T, c *client, key *softKey, name string) {
	t.Helper()
	_, origin := localhost(c.env)
	opts := c.sendForm(accountPasskeysPath+"/options", url.Values{"name": {name}})
	wantStatus(t, opts, http.StatusOK)
	res := c.sendJSON(accountPasskeysPath, key.create(opts.body, origin))
	wantStatus(t, res, http.StatusOK)
	if a := jsonAnswer(t, res); a.Redirect != accountPath {
		t.Fatalf("after adding: %+v", a)
	}
}

// pendingAt signs email in with the password at localhost: the client
// then waits at the code step.
func pendingAt(t *testing.T, e *testEnv, email string) *client {
	t.Helper()
	c := e.client()
	c.host, _ = localhost(e)
	res := c.post("/login", url.Values{"email": {email}, "password": {testPassword}})
	wantRedirect(t, res, codeStepPath)
	return c
}

// signedInAt signs email in with the password at localhost (two-factor
// off).
func signedInAt(t *testing.T, e *testEnv, email string) *client {
	t.Helper()
	c := e.client()
	c.host, _ = localhost(e)
	wantRedirect(t, c.post("/login", url.Values{"email": {email}, "password": {testPassword}}), "/")
	return c
}

// signInOptions asks for the sign-in ceremony's options.
func signInOptions(t *testing.T, c *client) string {
	t.Helper()
	res := c.sendForm(loginPasskeyPath+"/options", url.Values{})
	wantStatus(t, res, http.StatusOK)
	return res.body
}

func passkeyCount(t *testing.T, e *testEnv, email string) int {
	t.Helper()
	a, err := e.store.AdminByEmail(context.Background(), email)
	if err != nil {
		t.Fatal(err)
	}
	return a.Passkeys
}

// An admin adds a passkey (audited), which makes two-factor on: the
// password leads to the code step, which offers "Use a passkey"; the
// passkey signs in (audited, last used recorded); the account page lists
// it; the password removes it (audited).
func TestPasskeyAddSignInRemove(t *testing.T) {
	e := newAdminEnv(t)
	c := signedInAt(t, e, testEmail)
	page := c.get(accountPath)
	if !strings.Contains(page.body, "You have no passkeys yet") || !strings.Contains(page.body, `data-passkey="add"`) {
		t.Fatalf("account page without passkeys: %.2000s", page.body)
	}
	key := newSoftKey(t)
	addPasskey(t, c, key, "YubiKey 5")
	if got := e.auditedAs(audit.PasskeyAdded); len(got) != 1 || got[0].Outcome != audit.Success || !strings.Contains(got[0].Detail, "YubiKey 5") {
		t.Fatalf("passkey_added rows: %+v", got)
	}
	page = c.get(accountPath)
	if !strings.Contains(page.body, "Passkey “YubiKey 5” added") || !strings.Contains(page.body, `data-testid="passkey-name">YubiKey 5<`) ||
		!strings.Contains(page.body, "Never used") {
		t.Fatalf("account page after adding: %.3000s", page.body)
	}

	p := pendingAt(t, e, testEmail)
	step := p.get(codeStepPath)
	if !strings.Contains(step.body, "Use a passkey") || strings.Contains(step.body, `name="code"`) {
		t.Fatalf("the code step of a passkey-only admin: %.2000s", step.body)
	}
	_, origin := localhost(e)
	res := p.sendJSON(loginPasskeyPath, key.get(signInOptions(t, p), origin))
	wantStatus(t, res, http.StatusOK)
	if a := jsonAnswer(t, res); a.Redirect != "/" {
		t.Fatalf("sign-in answer %+v", a)
	}
	wantStatus(t, p.get("/"), http.StatusOK)
	logins := e.auditedAs(audit.Login)
	if len(logins) == 0 || logins[0].Outcome != audit.Success || !strings.Contains(logins[0].Detail, "passkey “YubiKey 5”") {
		t.Fatalf("login rows: %+v", logins)
	}
	if page = p.get(accountPath); strings.Contains(page.body, "Never used") || !strings.Contains(page.body, "Last used") {
		t.Fatalf("last use not shown: %.3000s", page.body)
	}

	list, _ := e.store.Passkeys(context.Background(), adminIDByEmail(t, e, testEmail))
	remove := accountPasskeysPath + "/" + strconv.FormatInt(list[0].ID, 10) + "/remove"
	res = p.post(remove, url.Values{"password": {"not-the-password"}})
	wantStatus(t, res, http.StatusUnprocessableEntity)
	if !strings.Contains(res.body, "That password did not work") || passkeyCount(t, e, testEmail) != 1 {
		t.Fatalf("a wrong password: %d passkeys; %.2000s", passkeyCount(t, e, testEmail), res.body)
	}
	wantRedirect(t, p.post(remove, url.Values{"password": {testPassword}}), accountPath)
	if n := passkeyCount(t, e, testEmail); n != 0 {
		t.Fatalf("%d passkeys after removal", n)
	}
	removed := e.auditedAs(audit.PasskeyRemoved)
	if len(removed) != 2 || removed[0].Outcome != audit.Success || removed[1].Outcome != audit.Failure {
		t.Fatalf("passkey_removed rows: %+v", removed)
	}
	// Two-factor is off again: the password alone signs in.
	c2 := e.client()
	wantRedirect(t, c2.post("/login", url.Values{"email": {testEmail}, "password": {testPassword}}), "/")
}

// Bad input at the sign-in's passkey step: an answer replayed on another
// sign-in, an answer without its options, a malformed body and the
// passkey of another admin are each refused with a clear message, audited,
// and leave the browser waiting at the code step, signed in nowhere.
func TestPasskeySignInRefusals(t *testing.T) {
	e := newAdminEnv(t)
	c := signedInAt(t, e, testEmail)
	_, origin := localhost(e)
	key := newSoftKey(t)
	addPasskey(t, c, key, "YubiKey 5")
	e.addAdmin("other@example.com", actor.Editor)
	other := signedInAt(t, e, "other@example.com")
	otherKey := newSoftKey(t)
	addPasskey(t, other, otherKey, "Other's key")

	first := pendingAt(t, e, testEmail)
	answer := key.get(signInOptions(t, first), origin)
	wantStatus(t, first.sendJSON(loginPasskeyPath, answer), http.StatusOK)

	refused := func(name string, p *client, body, want string) {
		t.Helper()
		before := len(e.auditedAs(audit.LoginPasskey))
		res := p.sendJSON(loginPasskeyPath, body)
		if res.StatusCode != http.StatusUnauthorized || !strings.Contains(jsonAnswer(t, res).Error, want) {
			t.Fatalf("%s: status %d %.300s, want 401 with %q", name, res.StatusCode, res.body, want)
		}
		if got := e.auditedAs(audit.LoginPasskey); len(got) != before+1 || got[0].Outcome != audit.Failure {
			t.Fatalf("%s: login_passkey rows %+v", name, got)
		}
		wantRedirect(t, p.get("/"), "/login")
		if step := p.get(codeStepPath); step.StatusCode != http.StatusOK {
			t.Fatalf("%s: the code step is gone: %d", name, step.StatusCode)
		}
	}

	// The same answer on a new sign-in, whose challenge is another.
	p := pendingAt(t, e, testEmail)
	signInOptions(t, p)
	refused("replayed answer", p, answer, "That passkey did not work")
	// A challenge is used once: the refused answer took it.
	refused("answer after the challenge was used", p, key.get(`{"publicKey":{"challenge":"AAAA","rpId":"localhost"}}`, origin),
		"expired or was already used")
	// A fresh, valid answer without asking for options first.
	refused("no options asked", pendingAt(t, e, testEmail), answer, "expired or was already used")
	// A body that is not a WebAuthn answer.
	p = pendingAt(t, e, testEmail)
	signInOptions(t, p)
	refused("malformed body", p, `{"id": 42, "response": "nope"`, "could not be read")
	// Another admin's passkey, answering this admin's challenge.
	p = pendingAt(t, e, testEmail)
	refused("another admin's passkey", p, otherKey.get(signInOptions(t, p), origin), "That passkey did not work")

	// Nothing changed: one use recorded, the other admin's key unused.
	mine, _ := e.store.Passkeys(context.Background(), adminIDByEmail(t, e, testEmail))
	theirs, _ := e.store.Passkeys(context.Background(), adminIDByEmail(t, e, "other@example.com"))
	if len(mine) != 1 || mine[0].LastUsedAt == nil || len(theirs) != 1 || theirs[0].LastUsedAt != nil {
		t.Fatalf("after the refusals: mine %+v, theirs %+v", mine, theirs)
	}
}

// Bad input when adding: no name, a replayed registration, a malformed
// body, a form posted without JavaScript and an address that cannot hold
// passkeys (an IP address) are refused with a clear message and store
// nothing; another admin's passkey cannot be removed.
func TestPasskeyAddRefusals(t *testing.T) {
	e := newAdminEnv(t)
	c := signedInAt(t, e, testEmail)
	_, origin := localhost(e)

	// At http://127.0.0.1 the page says why, and no ceremony starts.
	ip := e.signedIn()
	if page := ip.get(accountPath); !strings.Contains(page.body, "Passkeys are not available at this address") ||
		strings.Contains(page.body, `data-passkey="add"`) {
		t.Fatalf("account page at an IP address: %.3000s", page.body)
	}
	if res := ip.sendForm(accountPasskeysPath+"/options", url.Values{"name": {"Key"}}); res.StatusCode != http.StatusConflict ||
		!strings.Contains(jsonAnswer(t, res).Error, "not an IP address") {
		t.Fatalf("options at an IP address: %d %s", res.StatusCode, res.body)
	}

	res := c.sendForm(accountPasskeysPath+"/options", url.Values{"name": {"  "}})
	if res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(jsonAnswer(t, res).Error, "Enter a name") {
		t.Fatalf("no name: %d %s", res.StatusCode, res.body)
	}
	key := newSoftKey(t)
	opts := c.sendForm(accountPasskeysPath+"/options", url.Values{"name": {"YubiKey 5"}})
	body := key.create(opts.body, origin)
	wantStatus(t, c.sendJSON(accountPasskeysPath, body), http.StatusOK)
	res = c.sendJSON(accountPasskeysPath, body)
	if res.StatusCode != http.StatusBadRequest || !strings.Contains(jsonAnswer(t, res).Error, "expired or was already used") {
		t.Fatalf("replayed registration: %d %s", res.StatusCode, res.body)
	}
	wantStatus(t, c.sendForm(accountPasskeysPath+"/options", url.Values{"name": {"Spare"}}), http.StatusOK)
	res = c.sendJSON(accountPasskeysPath, `{"id":`)
	if res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(jsonAnswer(t, res).Error, "could not be read") {
		t.Fatalf("malformed registration: %d %s", res.StatusCode, res.body)
	}
	res = c.post(accountPasskeysPath, url.Values{"name": {"No script"}})
	if res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(res.body, "Passkeys need JavaScript") {
		t.Fatalf("a form without JavaScript: %d %.500s", res.StatusCode, res.body)
	}
	if n := passkeyCount(t, e, testEmail); n != 1 {
		t.Fatalf("%d passkeys, want the one added", n)
	}

	// Another admin cannot remove this admin's passkey, even with their
	// own password.
	other := e.addAdmin("other@example.com", actor.Owner)
	list, _ := e.store.Passkeys(context.Background(), adminIDByEmail(t, e, testEmail))
	wantRedirect(t, other.post(accountPasskeysPath+"/"+strconv.FormatInt(list[0].ID, 10)+"/remove",
		url.Values{"password": {testPassword}}), accountPath)
	if n := passkeyCount(t, e, testEmail); n != 1 {
		t.Fatalf("another admin removed a passkey: %d left", n)
	}
	if got := e.auditedAs(audit.PasskeyRemoved); len(got) != 1 || got[0].Outcome == audit.Success {
		t.Fatalf("passkey_removed rows: %+v", got)
	}
}

// A signature counter that goes back (a copy of the authenticator may
// exist) refuses the passkey, as go-webauthn's clone warning leaves to
// the relying party, and keeps refusing it; the account page marks it.
func TestPasskeyCloneWarning(t *testing.T) {
	e := newAdminEnv(t)
	c := signedInAt(t, e, testEmail)
	_, origin := localhost(e)
	key := newSoftKey(t)
	addPasskey(t, c, key, "YubiKey 5")
	p := pendingAt(t, e, testEmail)
	wantStatus(t, p.sendJSON(loginPasskeyPath, key.get(signInOptions(t, p), origin)), http.StatusOK)

	key.count = 0 // the copy's counter is behind the one Postern saw
	p = pendingAt(t, e, testEmail)
	res := p.sendJSON(loginPasskeyPath, key.get(signInOptions(t, p), origin))
	if res.StatusCode != http.StatusUnauthorized || !strings.Contains(jsonAnswer(t, res).Error, "signature counter went back") {
		t.Fatalf("a counter that went back: %d %s", res.StatusCode, res.body)
	}
	key.count = 100 // even ahead again, the passkey stays refused
	p = pendingAt(t, e, testEmail)
	if res := p.sendJSON(loginPasskeyPath, key.get(signInOptions(t, p), origin)); res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a flagged passkey signed in: %d %s", res.StatusCode, res.body)
	}
	if page := c.get(accountPath); !strings.Contains(page.body, "Possibly copied") {
		t.Fatalf("the account page does not mark the passkey: %.3000s", page.body)
	}
}
