package signin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"postern/internal/apperr"
	"postern/internal/defender"
	"postern/internal/model"
)

// The groups overage (docs/admins.md#groups-overage). When the id token
// says the user is in more groups than it can list, Postern asks Microsoft
// Graph, with the user's own delegated access token from the code
// exchange, which of the *mapped* groups they are in:
// POST /v1.0/me/checkMemberGroups with those group ids. Microsoft documents
// User.Read as the least permission for the signed-in user's memberships;
// the call is transitive (nested groups count), takes at most 20 ids per
// request (so more mapped groups take more requests) and answers a subset
// of them: there is no paging, and no listing of the user's other groups.
// The _claim_sources endpoint in the token (the retired Azure AD Graph) is
// never called: the host comes from the Cloud setting.
const (
	// GraphPermission is the delegated Microsoft Graph permission the
	// check needs; Postern asks for it only while groups are mapped.
	GraphPermission = "User.Read"
	// checkGroupsMax is checkMemberGroups' limit of group ids a request.
	checkGroupsMax = 20
	// DefaultGraphTimeout bounds each Graph request.
	DefaultGraphTimeout = 10 * time.Second
	// graphAttempts and maxRetryAfter bound how long a sign-in waits out
	// Graph's throttling (429 or 503 with Retry-After).
	graphAttempts = 3
	maxRetryAfter = 5 * time.Second
)

// graphURL is Graph's host for cloud, or the configured override.
func (s *Service) graphURL(cloud string) (string, error) {
	if s.opt.GraphURL != "" {
		return strings.TrimRight(s.opt.GraphURL, "/"), nil
	}
	return defender.GraphURL(defender.Cloud(cloud))
}

// memberOf returns the mapped groups of p the signed-in user of
// accessToken is a member of, by Graph's checkMemberGroups.
func (s *Service) memberOf(ctx context.Context, p model.SignInProvider, accessToken string) ([]string, error) {
	base, err := s.graphURL(p.Cloud)
	if err != nil {
		return nil, &redeemError{"no Microsoft Graph host for cloud " + p.Cloud, apperr.Wrap(err, apperr.Internal, "Postern has no Microsoft Graph host for this cloud.")}
	}
	if accessToken == "" {
		return nil, &redeemError{"no access token for Microsoft Graph", errGraphDenied("no access token")}
	}
	ids := make([]string, 0, len(p.RoleMap.Groups))
	for g := range p.RoleMap.Groups {
		ids = append(ids, g)
	}
	slices.Sort(ids)
	var in []string
	for chunk := range slices.Chunk(ids, checkGroupsMax) {
		got, err := s.checkMemberGroups(ctx, base, accessToken, chunk)
		if err != nil {
			return nil, err
		}
		in = append(in, got...)
	}
	return in, nil
}

// checkMemberGroups asks about one chunk, waiting out a short Retry-After.
func (s *Service) checkMemberGroups(ctx context.Context, base, accessToken string, ids []string) ([]string, error) {
	for attempt := 1; ; attempt++ {
		got, wait, err := s.checkOnce(ctx, base, accessToken, ids)
		if wait == 0 || attempt == graphAttempts {
			return got, err
		}
		if wait > maxRetryAfter {
			return nil, &redeemError{fmt.Sprintf("Microsoft Graph throttled (Retry-After %s)", wait), errGraphBusy(wait)}
		}
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return nil, &redeemError{"sign-in cancelled while Microsoft Graph throttled", errGraphBusy(wait)}
		}
	}
}

// graphAnswer is the part of Graph's answers Postern reads.
type graphAnswer struct {
	Value []string `json:"value"`
	Error struct {
		Code string `json:"code"`
	} `json:"error"`
}

// checkOnce makes one request. A throttled answer returns the wait it asks
// for (at least a second) with the error to give when no retry is left.
func (s *Service) checkOnce(ctx context.Context, base, accessToken string, ids []string) ([]string, time.Duration, error) {
	body, _ := json.Marshal(map[string][]string{"groupIds": ids})
	cctx, cancel := context.WithTimeout(ctx, s.opt.GraphTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(cctx, http.MethodPost, base+"/v1.0/me/checkMemberGroups", bytes.NewReader(body))
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("Authorization", "Bearer "+accessToken)
	req.Header.Set("Content-Type", "application/json")
	res, err := s.opt.HTTPClient.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) || cctx.Err() != nil {
			return nil, 0, &redeemError{"Microsoft Graph did not answer within " + s.opt.GraphTimeout.String(), errGraphTimeout}
		}
		return nil, 0, &redeemError{"Microsoft Graph unreachable", errGraphDown("no answer")}
	}
	defer res.Body.Close()
	var a graphAnswer
	dec := json.NewDecoder(io.LimitReader(res.Body, 1<<20))
	decErr := dec.Decode(&a)
	code := fmt.Sprintf("%d %s", res.StatusCode, safeGraphCode(a.Error.Code))
	switch {
	case res.StatusCode == http.StatusOK && decErr == nil:
		return asked(a.Value, ids), 0, nil
	case res.StatusCode == http.StatusTooManyRequests || res.StatusCode == http.StatusServiceUnavailable:
		wait, ok := defender.ParseRetryAfter(res.Header.Get("Retry-After"), s.opt.Now())
		if !ok || wait < time.Second {
			wait = time.Second
		}
		return nil, wait, &redeemError{"Microsoft Graph throttled: " + code, errGraphBusy(wait)}
	case res.StatusCode == http.StatusUnauthorized || res.StatusCode == http.StatusForbidden:
		return nil, 0, &redeemError{"Microsoft Graph refused: " + code, errGraphDenied(strings.TrimSpace(code))}
	}
	return nil, 0, &redeemError{"Microsoft Graph answered " + code, errGraphDown(strings.TrimSpace(code))}
}

// asked keeps the answered ids that were asked about (lower case), so a
// wrong answer cannot name a group nobody mapped.
func asked(answer, ids []string) []string {
	var out []string
	for _, g := range answer {
		if g = strings.ToLower(g); slices.Contains(ids, g) {
			out = append(out, g)
		}
	}
	return out
}

// safeGraphCode keeps Graph's error code when it has the shape of one.
func safeGraphCode(c string) string {
	if len(c) > 64 {
		return ""
	}
	for _, r := range c {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '.') {
			return ""
		}
	}
	return c
}

func errGraphDenied(code string) error {
	return apperr.New(apperr.Forbidden, "Microsoft Graph refused to check your Entra ID group memberships (%s), so Postern cannot tell your role from your groups. "+
		"An Owner must give the sign-in app the delegated Microsoft Graph permission %s (App registrations → API permissions → Add a permission → Microsoft Graph → Delegated permissions → %s) and grant consent for it.",
		code, GraphPermission, GraphPermission)
}

func errGraphBusy(wait time.Duration) error {
	return apperr.New(apperr.Unavailable, "Microsoft Graph is busy (429 Too Many Requests), so Postern could not check your Entra ID group memberships. Try again in %d seconds.",
		int(wait.Round(time.Second).Seconds()))
}

func errGraphDown(code string) error {
	return apperr.New(apperr.Unavailable, "Microsoft Graph could not check your Entra ID group memberships (%s). Try again in a few minutes.", code)
}

var errGraphTimeout = apperr.New(apperr.Unavailable, "Microsoft Graph did not answer in time when Postern checked your Entra ID group memberships. Try again in a few minutes.")
