package defender

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"
)

// entraError is the body of a failed token request
// (docs/defender-api.md#token-errors).
type entraError struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
	ErrorCodes       []int  `json:"error_codes"`
	TraceID          string `json:"trace_id"`
	CorrelationID    string `json:"correlation_id"`
}

// tokenError maps a failed token fetch at stage to an *Error. now reads an
// HTTP-date Retry-After.
func tokenError(err error, now time.Time, stage Stage) *Error {
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		return networkError(err)
	}
	var body entraError
	_ = json.Unmarshal(re.Body, &body)
	code := 0
	if len(body.ErrorCodes) > 0 {
		code = body.ErrorCodes[0]
	}
	e := tokenErrorFor(code, re.ErrorCode, stage)
	status := 0
	if re.Response != nil {
		status = re.Response.StatusCode
	}
	switch {
	case status == http.StatusTooManyRequests:
		e = tokenThrottled(stage)
		e.RetryAfter, _ = ParseRetryAfter(re.Response.Header.Get("Retry-After"), now)
	case status >= 500:
		e = &Error{Reason: ServiceError, Help: HelpTroubleshooting,
			Message: "Microsoft's sign-in service had a temporary problem. " +
				stage.advise("Postern will try again.", "Nothing was saved: save again in a few minutes.")}
	}
	if code != 0 {
		e.Code = "AADSTS" + strconv.Itoa(code)
	} else if re.ErrorCode != "" {
		e.Code = re.ErrorCode
	} else if status != 0 {
		e.Code = "HTTP " + strconv.Itoa(status)
	}
	e.MicrosoftCode, e.MicrosoftMessage = entraSaid(body, code)
	e.SupportID = entraSupportID(body)
	e.Err = fmt.Errorf("token request: %s %v", re.ErrorCode, body.ErrorCodes)
	return e
}

// entraSaid is Microsoft's code and the first line of its description,
// without the "AADSTSnnnn: " that the code already says.
func entraSaid(body entraError, code int) (string, string) {
	msCode := said(body.Error, 64)
	if code != 0 {
		msCode = "AADSTS" + strconv.Itoa(code)
	}
	line, _, _ := strings.Cut(body.ErrorDescription, "\n")
	if _, rest, ok := strings.Cut(line, ": "); ok && strings.HasPrefix(line, "AADSTS") {
		line = rest
	}
	return msCode, said(line, maxRead)
}

// entraSupportID joins the trace and correlation ids Entra support asks for.
func entraSupportID(body entraError) string {
	var ids []string
	if t := supportID(body.TraceID); t != "" {
		ids = append(ids, "trace "+t)
	}
	if c := supportID(body.CorrelationID); c != "" {
		ids = append(ids, "correlation "+c)
	}
	return strings.Join(ids, ", ")
}

func tokenThrottled(stage Stage) *Error {
	return &Error{Reason: Throttled, Help: HelpTroubleshooting,
		Message: "Microsoft's sign-in service is throttling this app. " +
			stage.advise("Postern waits as long as Microsoft asks, then tries again", "Nothing was saved: wait a minute, then save again") +
			"; if another tool shares this app registration, give Postern an app of its own."}
}

func tokenErrorFor(code int, class string, stage Stage) *Error {
	if e := certificateErrorFor(code); e != nil {
		return e
	}
	if e := credentialErrorFor(code); e != nil {
		return e
	}
	switch code {
	case 500011:
		return &Error{Reason: DefenderNotProvisioned, Help: HelpPrerequisites,
			Message: "Microsoft found no Defender for Endpoint resource for this scope in the tenant: Defender for Endpoint is not provisioned there, or the resource belongs to another Microsoft cloud. Check the tenant's licence and provisioning, the Cloud setting, and the server's defender-scope if it is set."}
	case 53003:
		return &Error{Reason: SignInBlocked, Help: HelpTroubleshooting,
			Message: "A Conditional Access policy for workload identities blocked this app's sign-in. In the Entra admin center exclude the app's service principal from that policy, or add this server's outbound (egress) IP address to the policy's trusted named locations."}
	case 7000112:
		return &Error{Reason: AppDisabled, Help: HelpRegisterApp,
			Message: "The app is disabled in this tenant. In the Entra admin center, under Enterprise applications → the app → Properties, set Enabled for users to sign-in to Yes, or ask whoever disabled it."}
	case 70011:
		return &Error{Reason: InvalidScope, Help: HelpCloudRegion,
			Message: "Microsoft does not accept the scope Postern asked for. If the server sets defender-scope, correct it (an absolute URI ending in /.default); otherwise check the Cloud setting."}
	case 90055, 50196:
		return tokenThrottled(stage)
	}
	if class == "invalid_client" {
		return &Error{Reason: InvalidSecret, Field: FieldClientSecret, Help: HelpSecretValue,
			Message: "Microsoft rejected the client credentials. Check the Client ID and paste the secret's Value, not its Secret ID."}
	}
	return &Error{Reason: SignInRefused, Help: HelpRegisterApp,
		Message: "Microsoft refused to issue a token for this app. Check the Tenant ID, Client ID and Client Secret, and the Cloud setting under Advanced."}
}

// credentialErrorFor maps the codes that concern one field of the form.
func credentialErrorFor(code int) *Error {
	switch code {
	case 90002:
		return &Error{Reason: TenantNotFound, Field: FieldTenantID, Help: HelpTenantID,
			Message: "Microsoft does not know this tenant. Copy the Directory (tenant) ID from the app's Overview page in the Entra admin center, and check the Cloud setting under Advanced."}
	case 900023:
		return &Error{Reason: TenantMalformed, Field: FieldTenantID, Help: HelpTenantID,
			Message: "This is not a valid tenant identifier. Use the Directory (tenant) ID, a GUID, or a verified domain such as contoso.onmicrosoft.com."}
	case 700016:
		return &Error{Reason: AppNotFound, Field: FieldClientID, Help: HelpRegisterApp,
			Message: "No application with this Client ID exists in the tenant. Copy the Application (client) ID from the app's Overview page, and check that the Tenant ID is the app's own tenant."}
	case 7000215:
		return &Error{Reason: InvalidSecret, Field: FieldClientSecret, Help: HelpSecretValue,
			Message: "Microsoft rejected the client secret. Paste the secret's Value, not its Secret ID; if the value is lost, create a new client secret."}
	case 7000222:
		return &Error{Reason: SecretExpired, Field: FieldClientSecret, Help: HelpClientSecret,
			Message: "This client secret has expired. Create a new client secret for the app in the Entra admin center and paste its Value."}
	case 7000218, 90014:
		return &Error{Reason: SecretMissing, Field: FieldClientSecret, Help: HelpClientSecret,
			Message: "Microsoft received no client secret. Paste the secret's Value."}
	}
	return nil
}

// tokenWait reports how long to wait before retrying a call whose token
// request was throttled: Microsoft's Retry-After, or the backoff.
func tokenWait(err error, o *ListOptions, attempt int) (time.Duration, bool) {
	var e *Error
	if !errors.As(err, &e) || e.Reason != Throttled {
		return 0, false
	}
	d := e.RetryAfter
	if d <= 0 {
		d = backoff(o, attempt)
	}
	return min(d, o.MaxRetryAfter), true
}
