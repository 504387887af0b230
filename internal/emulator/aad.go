package emulator

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"
)

// aadError is one Entra token-endpoint failure (docs/defender-api.md#token-errors).
type aadError struct {
	status int
	class  string // the OAuth "error" value
	code   int    // AADSTS number
	msg    string // text after "AADSTSnnnn: "
}

func aadErr(status int, class string, code int, format string, args ...any) *aadError {
	return &aadError{status: status, class: class, code: code, msg: fmt.Sprintf(format, args...)}
}

// aadErrorBody has every field of a real error body, in the real order.
type aadErrorBody struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
	ErrorCodes       []int  `json:"error_codes"`
	Timestamp        string `json:"timestamp"`
	TraceID          string `json:"trace_id"`
	CorrelationID    string `json:"correlation_id"`
	ErrorURI         string `json:"error_uri"`
}

// aadTimestamp is Entra's error timestamp: a space instead of "T", not RFC 3339.
const aadTimestamp = "2006-01-02 15:04:05Z"

func writeAADError(w http.ResponseWriter, r *http.Request, now time.Time, ae *aadError) {
	trace, corr, ts := newGUID(), correlationID(r), now.UTC().Format(aadTimestamp)
	body := aadErrorBody{
		Error: ae.class,
		ErrorDescription: fmt.Sprintf("AADSTS%d: %s\r\nTrace ID: %s\r\nCorrelation ID: %s\r\nTimestamp: %s",
			ae.code, ae.msg, trace, corr, ts),
		ErrorCodes:    []int{ae.code},
		Timestamp:     ts,
		TraceID:       trace,
		CorrelationID: corr,
		ErrorURI:      fmt.Sprintf("https://login.microsoftonline.com/error?code=%d", ae.code),
	}
	w.Header().Set("x-ms-request-id", trace)
	writeTokenJSON(w, corr, ae.status, body)
}

func writeTokenJSON(w http.ResponseWriter, corr string, status int, body any) {
	b, _ := json.Marshal(body) // fixed struct types: cannot fail
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store, no-cache")
	h.Set("Pragma", "no-cache")
	h.Set("client-request-id", corr)
	w.WriteHeader(status)
	w.Write(b)
}

// correlationID echoes a client-request-id GUID, as Entra does, or makes one.
func correlationID(r *http.Request) string {
	if id := strings.ToLower(r.Header.Get("client-request-id")); isGUID(id) {
		return id
	}
	return newGUID()
}

var guidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

func isGUID(s string) bool { return guidRE.MatchString(s) }

const zeroGUID = "00000000-0000-0000-0000-000000000000"

// checkTenant classifies the {tenant} path segment the way Entra does.
func (e *Emulator) checkTenant(t string) *aadError {
	lt := strings.ToLower(t)
	switch lt {
	case "common", "consumers":
		return aadErr(400, "invalid_request", 9001023, "The grant type isn't supported over the /common or /consumers endpoints. Please use the /organizations or tenant-specific endpoint.")
	case "", "organizations":
		return aadErr(400, "invalid_request", 50059, "No tenant-identifying information found in either the request or implied by any provided credentials.")
	}
	switch {
	case lt == zeroGUID:
		return aadErr(400, "invalid_request", 90002, "Requested tenant identifier '%s' is not valid. Tenant identifiers may not be an empty GUID.", t)
	case isGUID(lt):
		if lt != strings.ToLower(e.cfg.TenantID) {
			return tenantNotFound(t)
		}
	case !isDNSName(lt):
		return aadErr(400, "invalid_request", 900023, "Specified tenant identifier '%s' is neither a valid DNS name, nor a valid external domain.", t)
	case lt != strings.ToLower(e.cfg.TenantDomain):
		return tenantNotFound(t)
	}
	return nil
}

func tenantNotFound(t string) *aadError {
	return aadErr(400, "invalid_tenant", 90002, "Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.", t)
}

func isDNSName(s string) bool {
	if len(s) == 0 || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if len(label) == 0 || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, c := range []byte(label) {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// resource is an API the token endpoint knows in the emulated tenant.
type resource struct {
	id  string // App ID URI (or appId) as it appears in aud
	mde bool   // the Defender for Endpoint API accepts tokens for it
}

// mdeAudience is the audience the MDE docs' own samples request.
const mdeAudience = "https://api.securitycenter.microsoft.com"

var knownResources = []resource{
	{mdeAudience, true},
	{"https://securitycenter.onmicrosoft.com/windowsatpservice", true}, // WindowsDefenderATP App ID URI
	{"https://api.securitycenter.windows.com", true},                   // legacy name
	{"fc780465-2017-40d4-a0c5-307022471b92", true},                     // WindowsDefenderATP appId
	{"https://api.security.microsoft.com", false},                      // Defender XDR: the MDE API answers 403
}

func lookupResource(id string) (resource, bool) {
	id = strings.TrimSuffix(id, "/")
	for _, res := range knownResources {
		if strings.EqualFold(res.id, id) {
			return res, true
		}
	}
	return resource{}, false
}

func isMDEAudience(aud string) bool {
	res, ok := lookupResource(aud)
	return ok && res.mde
}

// resourceShape is an absolute URI or a GUID. A scope must be one of these
// followed by "/.default"; a bare or differently suffixed resource is
// AADSTS1002012, anything else AADSTS70011.
var resourceShape = regexp.MustCompile(`^(?:[a-zA-Z][a-zA-Z0-9+.-]*://[^\s/?#]+(?:/[^\s?#]*)?|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$`)

// parseScope returns the resource a v2 scope parameter names.
func parseScope(scope string) (string, *aadError) {
	var resources []string
	for _, s := range strings.Fields(scope) {
		res, ok := strings.CutSuffix(s, "/.default")
		switch {
		case ok && resourceShape.MatchString(res):
		case resourceShape.MatchString(s):
			return "", aadErr(400, "invalid_scope", 1002012, "The provided value for scope %s is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).", scope)
		default:
			return "", aadErr(400, "invalid_scope", 70011, "The provided value for the input parameter 'scope' is not valid. The scope %s is not valid.", scope)
		}
		if len(resources) > 0 && !strings.EqualFold(resources[0], res) {
			return "", aadErr(400, "invalid_scope", 700022, "The provided value for the input parameter scope is not valid because it contains more than one resource. Scope %s is not valid.", scope)
		}
		resources = append(resources, res)
	}
	if len(resources) == 0 {
		return "", missingParam("scope")
	}
	return resources[0], nil
}

func missingParam(name string) *aadError {
	return aadErr(400, "invalid_request", 900144, "The request body must contain the following parameter: '%s'.", name)
}
