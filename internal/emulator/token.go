package emulator

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// tokenV2 is the v2 success body: numbers for the lifetimes.
type tokenV2 struct {
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	ExtExpiresIn int64  `json:"ext_expires_in"`
	AccessToken  string `json:"access_token"`
}

// tokenV1 is the v1 success body: every number is a string (docs/defender-api.md#token-response).
type tokenV1 struct {
	TokenType    string `json:"token_type"`
	ExpiresIn    string `json:"expires_in"`
	ExtExpiresIn string `json:"ext_expires_in"`
	ExpiresOn    string `json:"expires_on"`
	NotBefore    string `json:"not_before"`
	Resource     string `json:"resource"`
	AccessToken  string `json:"access_token"`
}

// serveToken answers the client-credentials grant on the v2 (scope=) or v1
// (resource=) endpoint for the {tenant} path segment.
func (e *Emulator) serveToken(w http.ResponseWriter, r *http.Request, tenant string, v2 bool) {
	e.mu.Lock()
	e.stats.TokenRequests++
	f := e.faults
	e.mu.Unlock()
	sleep(r.Context(), f.TokenDelay)
	now := e.now()
	if d := e.throttleToken(); d > 0 {
		writeTokenThrottled(w, r, now, d)
		return
	}
	res, requested, ae := e.grant(r, tenant, v2, &f)
	if ae != nil {
		writeAADError(w, r, now, ae)
		return
	}
	var roles []string
	if res.mde {
		roles = f.issuedRoles()
	}
	life := f.tokenLifetime()
	tok := e.sign(e.newClaims(res.id, roles, now, life))
	e.count(func(s *Stats) { s.TokensIssued++ })
	secs := int64(life / time.Second)
	var body any = tokenV2{TokenType: "Bearer", ExpiresIn: secs, ExtExpiresIn: secs, AccessToken: tok}
	if !v2 {
		n := strconv.FormatInt(secs, 10)
		body = tokenV1{
			TokenType: "Bearer", ExpiresIn: n, ExtExpiresIn: n,
			ExpiresOn: strconv.FormatInt(now.Add(life).Unix(), 10),
			NotBefore: strconv.FormatInt(now.Add(-5*time.Minute).Unix(), 10),
			Resource:  requested, AccessToken: tok,
		}
	}
	writeTokenJSON(w, correlationID(r), http.StatusOK, body)
}

// grant validates a token request in roughly the order Entra does: service,
// method, tenant, parameters, scope syntax, client, secret, then the resource.
func (e *Emulator) grant(r *http.Request, tenant string, v2 bool, f *Faults) (resource, string, *aadError) {
	if f.TokenDown {
		return resource{}, "", aadErr(503, "temporarily_unavailable", 90033, "A transient error has occurred. Please try again.")
	}
	if r.Method != http.MethodPost {
		return resource{}, "", aadErr(400, "invalid_request", 900561, "The endpoint only accepts POST requests. Received a %s request.", r.Method)
	}
	if ae := e.checkTenant(tenant); ae != nil {
		return resource{}, "", ae
	}
	form := readForm(r)
	clientID, secret := credentials(r, form)
	requested, ae := checkParams(form, clientID, v2)
	if ae != nil {
		return resource{}, "", ae
	}
	if !strings.EqualFold(clientID, e.cfg.ClientID) {
		return resource{}, "", aadErr(400, "unauthorized_client", 700016, "Application with identifier '%s' was not found in the directory '%s'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.", clientID, tenant)
	}
	switch {
	case form.Has("client_assertion") || form.Has("client_assertion_type"):
		if ae := e.checkAssertion(r, form, clientID, e.now()); ae != nil {
			return resource{}, "", ae
		}
	case secret == "":
		return resource{}, "", aadErr(400, "invalid_request", 7000218, "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.")
	case secret != e.cfg.ClientSecret:
		return resource{}, "", aadErr(401, "invalid_client", 7000215, "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '%s'.", e.cfg.ClientID)
	case f.ExpiredSecret:
		return resource{}, "", aadErr(401, "invalid_client", 7000222, "The provided client secret keys for app '%s' are expired. Visit the Azure portal to create new keys for your app: https://aka.ms/NewClientSecret, or consider using certificate credentials for added security: https://aka.ms/certCreds.", e.cfg.ClientID)
	}
	if ae := refuseToken(f, clientID, requested); ae != nil {
		return resource{}, "", ae
	}
	res, ok := lookupResource(requested)
	if !ok || f.DefenderNotProvisioned {
		return resource{}, "", aadErr(400, "invalid_resource", 500011, "The resource principal named %s was not found in the tenant named %s. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.", requested, tenant)
	}
	if res.mde && f.WrongAudience {
		res, _ = lookupResource(xdrAudience)
	}
	return res, requested, nil
}

// checkParams checks the required parameters and returns the requested resource.
func checkParams(form url.Values, clientID string, v2 bool) (string, *aadError) {
	gt := strings.TrimSpace(form.Get("grant_type"))
	switch {
	case gt == "":
		return "", missingParam("grant_type")
	case gt != "client_credentials":
		return "", aadErr(400, "unsupported_grant_type", 70003, "The app requested an unsupported grant type '%s'.", gt)
	case clientID == "":
		return "", missingParam("client_id")
	}
	if !v2 {
		res := strings.TrimSpace(form.Get("resource"))
		if res == "" {
			return "", missingParam("resource")
		}
		return res, nil
	}
	if form.Has("resource") {
		return "", aadErr(400, "invalid_request", 901002, "The 'resource' request parameter is not supported.")
	}
	if strings.TrimSpace(form.Get("scope")) == "" {
		return "", missingParam("scope")
	}
	return parseScope(form.Get("scope"))
}

// readForm returns the url-encoded body; any other body reads as empty, so
// the first missing parameter is reported, as Entra does for a JSON body.
func readForm(r *http.Request) url.Values {
	ct := strings.ToLower(r.Header.Get("Content-Type"))
	if !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
		return url.Values{}
	}
	r.Body = http.MaxBytesReader(nil, r.Body, 1<<20)
	if err := r.ParseForm(); err != nil {
		return url.Values{}
	}
	return r.PostForm
}

// credentials takes client_id/client_secret from the form, falling back to
// HTTP Basic (RFC 6749 §2.3.1: both parts form-url-encoded).
func credentials(r *http.Request, form url.Values) (id, secret string) {
	id, secret = strings.TrimSpace(form.Get("client_id")), form.Get("client_secret")
	if u, p, ok := r.BasicAuth(); ok {
		if uu, err := url.QueryUnescape(u); err == nil && id == "" {
			id = uu
		}
		if pp, err := url.QueryUnescape(p); err == nil && secret == "" {
			secret = pp
		}
	}
	return id, secret
}

// sleep waits d. If the request ends first (client gone, or Listen's context
// cancelled on shutdown) it drops the connection rather than let net/http
// send an empty 200.
func sleep(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
		panic(http.ErrAbortHandler)
	}
}
