package emulator

import (
	"encoding/json"
	"errors"
	"net/http"
	"sort"
	"strings"
	"time"
)

// apiErrorBody is the error shape of every MDE API error (docs/defender-api.md#api-errors).
type apiErrorBody struct {
	Error apiError `json:"error"`
}

type apiError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Target  string `json:"target"` // per-request correlation GUID
}

func writeAPIError(w http.ResponseWriter, status int, code, msg string) {
	b, _ := json.Marshal(apiErrorBody{apiError{Code: code, Message: msg, Target: newGUID()}})
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("OData-Version", "4.0")
	w.WriteHeader(status)
	w.Write(b)
}

// serveAPI answers /api/machines, /api/v1.0/machines and /api[/v1.0]/machines/{id}.
// Infrastructure faults come first, then authentication, authorisation,
// throttling and forced 500s, then the route itself.
func (e *Emulator) serveAPI(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	e.stats.APIRequests++
	f := e.faults
	e.mu.Unlock()
	if f.APIHangUp {
		panic(http.ErrAbortHandler) // the server closes the connection without a response
	}
	if f.HTML404 {
		writeProxy404(w, r)
		return
	}
	if f.APIDown {
		e.count(func(s *Stats) { s.Errors5xx++ })
		writeAPIError(w, http.StatusServiceUnavailable, "ServiceUnavailable", "The service is temporarily unavailable.")
		return
	}
	av := isAVInfoPath(r.URL.Path)
	list, id, ok := route(r.URL.Path)
	if !ok && !av {
		writeAPIError(w, http.StatusNotFound, "NotFound", "No route matches '"+r.URL.Path+"'.")
		return
	}
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		writeAPIError(w, http.StatusMethodNotAllowed, "BadRequest", "The requested resource does not support http method '"+r.Method+"'.")
		return
	}
	now := e.now()
	c, ok := e.authorize(w, r, now)
	if !ok {
		return
	}
	if av {
		e.serveAVInfo(w, r, &f, c.AppID+"|"+c.TID, now)
		return
	}
	if v := e.admit(c.AppID+"|"+c.TID, now); v.retryAfter > 0 {
		setRetryAfter(w.Header(), v.retryAfter, now, f.RetryAfterHTTPDate)
		writeAPIError(w, http.StatusTooManyRequests, "TooManyRequests", "Rate limit is exceeded. Try again later.")
		return
	} else if v.fail {
		e.count(func(s *Stats) { s.Errors5xx++ })
		writeAPIError(w, http.StatusInternalServerError, "InternalServerError", "An error has occurred.")
		return
	}
	if refuseAPI(w, &f) {
		return
	}
	if list {
		e.serveList(w, r, &f)
		return
	}
	e.serveMachine(w, r, &f, id)
}

// route splits an API path; matching is case-insensitive like the real service.
func route(p string) (list bool, id string, ok bool) {
	lp := strings.ToLower(p)
	var rest string
	switch {
	case strings.HasPrefix(lp, "/api/v1.0/"):
		rest = p[len("/api/v1.0/"):]
	case strings.HasPrefix(lp, "/api/"):
		rest = p[len("/api/"):]
	default:
		return false, "", false
	}
	rest = strings.TrimSuffix(rest, "/")
	name, id, hasID := strings.Cut(rest, "/")
	switch {
	case !strings.EqualFold(name, "machines"):
		return false, "", false
	case !hasID:
		return true, "", true
	case id == "" || strings.Contains(id, "/"):
		return false, "", false
	}
	return false, id, true
}

// authorize checks the bearer token: 401 when it is missing, malformed,
// tampered with or expired; 403 when its audience is not the MDE API or it
// lacks Machine.Read.All / Machine.ReadWrite.All.
func (e *Emulator) authorize(w http.ResponseWriter, r *http.Request, now time.Time) (Claims, bool) {
	scheme, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
		unauthorized(w, "Authorization header is missing or is not a bearer token.")
		return Claims{}, false
	}
	c, err := e.verify(strings.TrimSpace(tok), now)
	switch {
	case errors.Is(err, errTokenExpired):
		unauthorized(w, "The access token has expired.")
		return Claims{}, false
	case err != nil:
		unauthorized(w, "The access token is invalid.")
		return Claims{}, false
	}
	hasRole := false
	for _, role := range c.Roles {
		hasRole = hasRole || role == "Machine.Read.All" || role == "Machine.ReadWrite.All"
	}
	if !isMDEAudience(c.Aud) || !hasRole {
		writeAPIError(w, http.StatusForbidden, "Forbidden",
			"Missing application roles. API required roles: Machine.Read.All,Machine.ReadWrite.All, application roles: "+strings.Join(c.Roles, ",")+".")
		return Claims{}, false
	}
	return c, true
}

func unauthorized(w http.ResponseWriter, msg string) {
	w.Header().Set("WWW-Authenticate", "Bearer")
	writeAPIError(w, http.StatusUnauthorized, "Unauthorized", msg)
}

const (
	odataContext = "https://api.securitycenter.microsoft.com/api/$metadata#Machines"
	odataCT      = "application/json; odata.metadata=minimal; odata.streaming=true; charset=utf-8"
)

// serveMachine answers /api/machines/{id} (ids match case-insensitively).
func (e *Emulator) serveMachine(w http.ResponseWriter, r *http.Request, f *Faults, id string) {
	fl := e.snapshot()
	i, found := findID(fl, id)
	if !found {
		i, found = findID(fl, strings.ToLower(id))
	}
	if !found {
		writeAPIError(w, http.StatusNotFound, "ResourceNotFound", "Machine "+id+" was not found")
		return
	}
	sleep(r.Context(), f.SlowPage)
	b := []byte(`{"@odata.context":"` + odataContext + `/$entity",`)
	b = appendMachineFields(b, &fl[i], f.encoding(&fl[i]))
	bw := newBodyWriter(w, r, f)
	bw.Write(b)
	bw.Close()
}

func findID(fl []Machine, id string) (int, bool) {
	i := sort.Search(len(fl), func(i int) bool { return fl[i].ID >= id })
	return i, i < len(fl) && fl[i].ID == id
}
