package web

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"postern/internal/model"
	"postern/static"
	"postern/views"
)

// publicPaths may be reached without signing in. Everything else redirects
// to /login (tests enumerate the routes to hold this).
var publicPaths = map[string]bool{
	"/login": true, microsoftStartPath: true, microsoftCallbackPath: true, "/setup": true, "/healthz": true, "/readyz": true, "/static/*": true,
	// The sign-in's second step: reached with a password-verified session
	// that grants nothing else (web/mfa.go).
	codeStepPath: true, codeCancelPath: true, loginPasskeyPath: true, loginPasskeyPath + "/options": true,
}

// echoMethods are the methods Echo's router keeps a table for (e.Any
// registers exactly these); a route answers no other method.
var echoMethods = map[string]bool{
	http.MethodConnect: true, http.MethodDelete: true, http.MethodGet: true, http.MethodHead: true,
	http.MethodOptions: true, http.MethodPatch: true, http.MethodPost: true, echo.PROPFIND: true,
	http.MethodPut: true, http.MethodTrace: true, echo.REPORT: true,
}

// forwardAuthAnyMethod lets forward-auth answer any method, as the proxies
// send it (Envoy's ext_authz forwards the client's own: MKCOL, LOCK, QUERY,
// any token): a method Echo has no table for is routed as GET on the
// forward-auth paths only. The answer does not depend on the method; HEAD
// and the other methods Echo knows are left as they are (net/http decides
// from HEAD not to send a body). ServeHTTP calls it before Echo routes r:
// as Echo pre-middleware it would cost every request two allocations.
func forwardAuthAnyMethod(r *http.Request) {
	if !echoMethods[r.Method] {
		if p := echo.GetPath(r); p == forwardAuthPath || strings.HasPrefix(p, forwardAuthPath+"/") {
			r.Method = http.MethodGet
		}
	}
}

// adminRoutes are Settings → Admins and each admin's sessions.
func (s *Server) adminRoutes(app *echo.Group) {
	app.GET(adminsPath, s.adminsList)
	app.POST(adminsPath, s.adminCreate)
	app.POST(adminsPath+"/:id/role", s.adminRole)
	app.POST(adminsPath+"/:id/disable", s.adminDisable)
	app.POST(adminsPath+"/:id/enable", s.adminEnable)
	app.POST(adminsPath+"/:id/delete", s.adminDelete)
	app.GET(adminsPath+"/:id/sessions", s.adminSessions)
	app.POST(adminsPath+"/:id/sessions/end", s.adminSessionsEnd)
	app.POST(adminsPath+"/:id/sessions/:sid/end", s.adminSessionEnd)
	app.POST(adminsPath+"/:id/mfa/reset", s.adminMFAReset)
	app.POST(requireMFAPath, s.requireMFASave)
	app.GET(views.SignInPath, s.signInSettings)
	app.POST(views.SignInPath, s.signInSave)
	app.POST(signInLocalPath, s.signInLocal)
}

// codeStepRoutes are the sign-in's second step: a code or a passkey.
func (s *Server) codeStepRoutes(web *echo.Group) {
	web.GET(codeStepPath, s.codeStepForm)
	web.POST(codeStepPath, s.codeStepSave)
	web.POST(codeCancelPath, s.codeStepCancel)
	web.POST(loginPasskeyPath+"/options", s.loginPasskeyOptions)
	web.POST(loginPasskeyPath, s.loginPasskey)
}

// apiRoutes are the machine clients' routes: they authenticate with API
// tokens only, each route needing its scope (docs/api.md#token-scopes); no
// session, no CSRF.
func (s *Server) apiRoutes(e *echo.Echo) {
	e.GET("/metrics", echo.WrapHandler(s.metrics.Handler()), s.requireScope(model.ScopeMetrics))
	e.POST("/api/v1/posture/evaluate", s.evaluate, s.requireScope(model.ScopeEvaluate))
	e.Any(forwardAuthPath, s.forwardAuth, s.requireGatewayToken)
	e.Any(forwardAuthPath+"/*", s.forwardAuth, s.requireGatewayToken)
	e.GET(readDevicePath, s.readDevice, s.requireScope(model.ScopeRead))
	e.GET(readChecksPath, s.readChecks, s.requireScope(model.ScopeRead))
}

// routes is the console's sitemap.
func (s *Server) routes() {
	e := s.echo
	e.GET("/healthz", s.healthz)
	e.GET("/readyz", s.readyz)
	e.GET("/static/*", echo.WrapHandler(static.Handler()))

	s.apiRoutes(e)

	web := e.Group("", cleanURL, s.loadSession, s.csrf())
	web.GET("/setup", s.setupForm)
	web.POST("/setup", s.setupSave)
	web.GET("/login", s.loginForm)
	web.POST("/login", s.loginSave)
	s.codeStepRoutes(web)
	web.GET(microsoftStartPath, s.microsoftStart)
	web.GET(microsoftCallbackPath, s.microsoftCallback)

	app := web.Group("", s.requireAdmin, s.requireRole, s.requireEnrolment)
	app.POST("/logout", s.logout)
	app.GET("/", s.dashboard)
	app.GET("/settings/integrations", s.integrations)
	app.GET("/settings/integrations/defender", s.defenderManage)
	app.POST("/settings/integrations/defender", s.defenderSave)
	app.POST("/settings/integrations/defender/certificate", s.defenderGenerateCertificate)
	app.GET("/settings/integrations/defender/certificate.pem", s.defenderCertificate)
	app.GET("/settings/integrations/defender/disable", s.defenderDisableConfirm)
	app.POST("/settings/integrations/defender/disable", s.defenderDisable)
	app.POST("/settings/integrations/defender/enable", s.defenderEnable)
	app.POST("/settings/integrations/defender/sync", s.defenderSync)
	app.GET("/settings/integrations/defender/card", s.defenderCardFragment)
	app.GET("/settings/integrations/defender/status", s.defenderStatusFragment)
	app.GET("/sync-runs", s.syncRuns)
	app.GET("/sync-runs/:id", s.syncRun)
	app.POST("/sync-runs/:id/accept", s.syncRunAccept)
	app.GET("/help/microsoft-defender", s.helpDefender)
	app.GET("/settings/api-tokens", s.apiTokens)
	app.POST("/settings/api-tokens", s.apiTokenCreate)
	app.POST("/settings/api-tokens/:id/revoke", s.apiTokenRevoke)
	app.GET("/settings/webhooks", s.webhooksList)
	app.POST("/settings/webhooks", s.webhookCreate)
	app.GET("/settings/webhooks/:id", s.webhookShow)
	app.POST("/settings/webhooks/:id/rotate", s.webhookRotate)
	app.POST("/settings/webhooks/:id/enable", s.webhookEnable)
	app.POST("/settings/webhooks/:id/disable", s.webhookDisable)
	app.POST("/settings/webhooks/:id/delete", s.webhookDelete)
	app.POST("/settings/webhooks/:id/deliveries/:oid/redeliver", s.webhookRedeliver)
	app.GET("/zero-trust/posture-checks", s.postureChecks)
	app.POST("/zero-trust/posture-checks", s.checkSave)
	app.GET("/zero-trust/posture-checks/new", s.checkNew)
	app.POST("/zero-trust/posture-checks/preview", s.checkPreview)
	app.GET("/zero-trust/posture-checks/preview", s.checkDenials)
	app.GET("/zero-trust/posture-checks/:id", s.checkEdit)
	app.GET("/zero-trust/posture-checks/:id/edit", s.checkEdit)
	app.POST("/zero-trust/posture-checks/:id", s.checkSave)
	app.GET("/zero-trust/posture-checks/:id/delete", s.checkDeleteConfirm)
	app.POST("/zero-trust/posture-checks/:id/delete", s.checkDelete)
	app.GET("/zero-trust/exceptions", s.exceptions)
	app.GET("/zero-trust/access-decisions", s.accessDecisions)
	// The pages' short routes, as the product's route table names them: both answer.
	app.GET("/exceptions", s.exceptions)
	app.GET("/access-decisions", s.accessDecisions)
	app.POST("/zero-trust/exceptions/:eid/revoke", s.exceptionsRevoke)
	app.GET("/devices", s.devices)
	app.GET("/devices.csv", s.devicesCSV)
	app.GET("/devices/:id", s.deviceDetail)
	app.GET("/access-changes", s.accessChanges)
	app.POST("/devices/:id/recheck", s.deviceRecheck)
	app.POST("/devices/:id/exceptions", s.exceptionCreate)
	app.POST("/devices/:id/exceptions/:eid/revoke", s.exceptionRevoke)
	s.adminRoutes(app)
	s.accountRoutes(app)
	app.GET("/audit", s.auditList)
	app.GET("/audit.csv", s.auditCSV)

	e.RouteNotFound("/*", func(c echo.Context) error { return echo.NewHTTPError(http.StatusNotFound) })
}
