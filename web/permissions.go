package web

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"postern/internal/actor"
	"postern/internal/audit"
)

// routeRoles is the one table of who may use which signed-in route:
// "METHOD path" (the path as registered) → the lowest role allowed; a
// higher role is allowed what a lower one is (actor.Role.Allows). A route
// of the signed-in console that is not in this table is refused to
// everyone (requireRole fails closed), the views hide what the table
// refuses (Server.can), and TestEveryRouteUnderEveryRole walks every
// registered route under every role against it. The services check the
// same roles again for every change.
var routeRoles = map[string]actor.Role{
	"POST /logout": actor.Auditor,
	"GET /":        actor.Auditor,

	"GET /settings/integrations":                          actor.Auditor,
	"GET /settings/integrations/defender":                 actor.Owner, // the Manage form
	"GET /settings/integrations/defender/card":            actor.Auditor,
	"GET /settings/integrations/defender/status":          actor.Auditor,
	"GET /settings/integrations/defender/certificate.pem": actor.Owner,
	"POST /settings/integrations/defender":                actor.Owner,
	"POST /settings/integrations/defender/certificate":    actor.Owner,
	"GET /settings/integrations/defender/disable":         actor.Owner,
	"POST /settings/integrations/defender/disable":        actor.Owner,
	"POST /settings/integrations/defender/enable":         actor.Owner,
	"POST /settings/integrations/defender/sync":           actor.Editor,

	"GET /sync-runs":               actor.Auditor,
	"GET /sync-runs/:id":           actor.Auditor,
	"POST /sync-runs/:id/accept":   actor.Owner,
	"GET /help/microsoft-defender": actor.Auditor,

	"GET /settings/api-tokens":             actor.Auditor,
	"POST /settings/api-tokens":            actor.Owner,
	"POST /settings/api-tokens/:id/revoke": actor.Owner,

	"GET /settings/webhooks":                                actor.Auditor,
	"GET /settings/webhooks/:id":                            actor.Auditor,
	"POST /settings/webhooks":                               actor.Editor,
	"POST /settings/webhooks/:id/rotate":                    actor.Editor,
	"POST /settings/webhooks/:id/enable":                    actor.Editor,
	"POST /settings/webhooks/:id/disable":                   actor.Editor,
	"POST /settings/webhooks/:id/delete":                    actor.Editor,
	"POST /settings/webhooks/:id/deliveries/:oid/redeliver": actor.Editor,

	"GET /zero-trust/posture-checks":          actor.Auditor,
	"GET /zero-trust/posture-checks/:id":      actor.Auditor,
	"GET /zero-trust/posture-checks/:id/edit": actor.Auditor,
	"GET /zero-trust/posture-checks/preview":  actor.Auditor,
	"GET /zero-trust/posture-checks/new":      actor.Editor,
	"POST /zero-trust/posture-checks":         actor.Editor,
	// The impact preview computes, changes nothing: the editor page
	// asks it for Auditors too.
	"POST /zero-trust/posture-checks/preview":    actor.Auditor,
	"POST /zero-trust/posture-checks/:id":        actor.Editor,
	"GET /zero-trust/posture-checks/:id/delete":  actor.Editor,
	"POST /zero-trust/posture-checks/:id/delete": actor.Editor,

	"GET /zero-trust/exceptions":              actor.Auditor,
	"GET /zero-trust/access-decisions":        actor.Auditor,
	"GET /exceptions":                         actor.Auditor, // the short route of the same page
	"GET /access-decisions":                   actor.Auditor, // the short route of the same page
	"POST /zero-trust/exceptions/:eid/revoke": actor.Editor,

	"GET /devices":                             actor.Auditor,
	"GET /devices.csv":                         actor.Auditor,
	"GET /devices/:id":                         actor.Auditor,
	"GET /access-changes":                      actor.Auditor,
	"POST /devices/:id/recheck":                actor.Editor,
	"POST /devices/:id/exceptions":             actor.Editor,
	"POST /devices/:id/exceptions/:eid/revoke": actor.Editor,

	"GET /settings/admins":                        actor.Auditor, // read-only for Editors and Auditors
	"POST /settings/admins":                       actor.Owner,
	"POST /settings/admins/:id/role":              actor.Owner,
	"POST /settings/admins/:id/disable":           actor.Owner,
	"POST /settings/admins/:id/enable":            actor.Owner,
	"POST /settings/admins/:id/delete":            actor.Owner,
	"GET /settings/admins/:id/sessions":           actor.Owner,
	"POST /settings/admins/:id/sessions/end":      actor.Owner,
	"POST /settings/admins/:id/sessions/:sid/end": actor.Owner,
	"POST /settings/admins/:id/mfa/reset":         actor.Owner,
	"POST /settings/admins/require-mfa":           actor.Owner,

	// One's own account: every admin manages their own second factor.
	"GET /account":                      actor.Auditor,
	"GET /account/mfa":                  actor.Auditor,
	"POST /account/mfa":                 actor.Auditor,
	"POST /account/mfa/confirm":         actor.Auditor,
	"POST /account/mfa/disable":         actor.Auditor,
	"POST /account/mfa/recovery-codes":  actor.Auditor,
	"POST /account/passkeys/options":    actor.Auditor,
	"POST /account/passkeys":            actor.Auditor,
	"POST /account/passkeys/:id/remove": actor.Auditor,

	"GET /settings/sign-in":        actor.Owner, // Sign in with Microsoft and password sign-in
	"POST /settings/sign-in":       actor.Owner,
	"POST /settings/sign-in/local": actor.Owner,

	"GET /audit":     actor.Auditor,
	"GET /audit.csv": actor.Auditor,
}

// roleFor returns the lowest role allowed method on the registered path,
// and false when the table does not name the route.
func roleFor(method, path string) (actor.Role, bool) {
	r, ok := routeRoles[method+" "+path]
	return r, ok
}

// can reports whether role may use method on the registered path: what
// the views ask before they show a button, a form or a nav entry.
func can(role actor.Role, method, path string) bool {
	min, ok := roleFor(method, path)
	return ok && role.Allows(min)
}

// allowedTo is can for the request's signed-in admin.
func allowedTo(c echo.Context, method, path string) bool {
	a, _ := currentAdmin(c)
	return can(a.Role, method, path)
}

// requireRole lets a signed-in admin through to the routes routeRoles
// allows their role, and answers 403 to the rest, with a denied audit
// entry: a route missing from the table is refused to everyone.
func (s *Server) requireRole(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		a, _ := currentAdmin(c)
		r := c.Request()
		if can(a.Role, r.Method, c.Path()) {
			return next(c)
		}
		s.audit(c, audit.RoleDenied, r.Method+" "+r.URL.Path, audit.Denied, "role "+string(a.Role)+" may not "+r.Method+" "+c.Path())
		return echo.NewHTTPError(http.StatusForbidden, "Your role does not allow this. Ask an Owner if you need it.")
	}
}
