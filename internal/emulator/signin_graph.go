package emulator

import (
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// GraphFaults make the stand-in's Microsoft Graph answer as Graph does when
// something is wrong.
type GraphFaults struct {
	// Forbidden answers 403 Authorization_RequestDenied, as Graph does
	// when the app lacks the permission or its consent.
	Forbidden bool
	// Throttle answers the next N requests 429 with Retry-After.
	Throttle   int
	RetryAfter time.Duration // of Throttle answers; 0 → 1 s
	// Delay holds every answer this long (or until the caller gives up).
	Delay time.Duration
}

// signInAccess is what an access token from the token endpoint stands for.
type signInAccess struct {
	user    SignInUser
	scope   string
	expires time.Time
}

// SetGraphFaults sets how Graph answers from now on.
func (s *SignIn) SetGraphFaults(f GraphFaults) { s.mu.Lock(); s.graph = f; s.mu.Unlock() }

// GraphCalls is how many requests Graph has answered, faults included.
func (s *SignIn) GraphCalls() int { s.mu.Lock(); defer s.mu.Unlock(); return s.calls }

// maxCheckGroups is checkMemberGroups' limit of group ids per request.
const maxCheckGroups = 20

var graphGUID = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// serveGraph is Microsoft Graph's POST /v1.0/me/checkMemberGroups for the
// signed-in user of a delegated access token: of the group ids asked (at
// most 20), those the user is a member of. The token must carry User.Read,
// the least permission Graph documents for the signed-in user's groups.
func (s *SignIn) serveGraph(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.calls++
	f := s.graph
	if f.Throttle > 0 {
		s.graph.Throttle--
	}
	tok, found := s.access[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")]
	s.mu.Unlock()
	// Read the body first: the server notices a caller that gave up only
	// once it has.
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if f.Delay > 0 {
		select {
		case <-time.After(f.Delay):
		case <-r.Context().Done():
			return
		}
	}
	switch {
	case r.URL.Path != "/v1.0/me/checkMemberGroups":
		graphError(w, http.StatusNotFound, "Request_ResourceNotFound", "Resource not found for the segment.")
	case r.Method != http.MethodPost:
		graphError(w, http.StatusMethodNotAllowed, "Request_BadRequest", "The HTTP method is not allowed.")
	case f.Throttle > 0:
		wait := f.RetryAfter
		if wait <= 0 {
			wait = time.Second
		}
		w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())))
		graphError(w, http.StatusTooManyRequests, "TooManyRequests", "Too many requests.")
	case !found || s.now().After(tok.expires):
		graphError(w, http.StatusUnauthorized, "InvalidAuthenticationToken", "Access token validation failure.")
	case f.Forbidden || !hasScope(tok.scope, "User.Read"):
		graphError(w, http.StatusForbidden, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
	default:
		s.checkMemberGroups(w, body, tok.user)
	}
}

// checkMemberGroups answers the request body's groupIds that u is in.
func (s *SignIn) checkMemberGroups(w http.ResponseWriter, raw []byte, u SignInUser) {
	var body struct {
		GroupIDs []string `json:"groupIds"`
	}
	if err := json.Unmarshal(raw, &body); err != nil || len(body.GroupIDs) == 0 || len(body.GroupIDs) > maxCheckGroups {
		graphError(w, http.StatusBadRequest, "Request_BadRequest", "groupIds must list 1 to 20 group ids.")
		return
	}
	member := map[string]bool{}
	for _, g := range u.Groups {
		member[strings.ToLower(g)] = true
	}
	in := []string{}
	for _, g := range body.GroupIDs {
		if !graphGUID.MatchString(g) {
			graphError(w, http.StatusBadRequest, "Request_BadRequest", "Invalid GUID:"+g)
			return
		}
		if member[strings.ToLower(g)] {
			in = append(in, g)
		}
	}
	writeJSON(w, map[string]any{"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#Collection(Edm.String)", "value": in})
}

// hasScope reports whether the space-separated scope list holds want, short
// (User.Read) or as a Graph URI (https://graph.microsoft.com/User.Read).
func hasScope(list, want string) bool {
	for _, sc := range strings.Fields(list) {
		if strings.EqualFold(sc, want) || strings.HasSuffix(strings.ToLower(sc), "/"+strings.ToLower(want)) {
			return true
		}
	}
	return false
}

func graphError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"code": code, "message": msg,
		"innerError": map[string]string{"request-id": newGUID(), "date": time.Now().UTC().Format("2006-01-02T15:04:05")}}})
}
