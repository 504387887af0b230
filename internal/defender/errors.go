package defender

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"golang.org/x/oauth2"
)

// Reason classifies a failure talking to Microsoft.
type Reason string

// Reasons, one per thing an admin does differently to fix it.
const (
	TenantNotFound         Reason = "tenant_not_found"
	TenantMalformed        Reason = "tenant_malformed"
	AppNotFound            Reason = "app_not_found"
	InvalidSecret          Reason = "invalid_secret"
	SecretExpired          Reason = "secret_expired"
	SecretMissing          Reason = "secret_missing"
	DefenderNotProvisioned Reason = "defender_not_provisioned"
	PermissionMissing      Reason = "permission_missing"
	TokenRejected          Reason = "token_rejected"
	Throttled              Reason = "throttled"
	Unreachable            Reason = "unreachable"
	ServiceError           Reason = "service_error"
	BadResponse            Reason = "bad_response"
	SignInRefused          Reason = "sign_in_refused"
	NotFound               Reason = "not_found"
)

// Form fields an error belongs to.
const (
	FieldTenantID     = "tenant_id"
	FieldClientID     = "client_id"
	FieldClientSecret = "client_secret"
)

// Sections of the in-app setup guide (/help/microsoft-defender#<anchor>) that
// an Error's Help names. The guide's tests check that each one exists there.
const (
	HelpPrerequisites   = "prerequisites"
	HelpRegisterApp     = "register-app"
	HelpTenantID        = "tenant-id"
	HelpClientSecret    = "client-secret"
	HelpSecretValue     = "secret-value"
	HelpPermission      = "permission"
	HelpCloudRegion     = "cloud-region"
	HelpTroubleshooting = "troubleshooting"
	HelpCertificate     = "certificate"
)

// HelpAnchors lists every anchor an Error's Help may hold, so that the setup
// guide cannot lose a section an error links to.
var HelpAnchors = []string{
	HelpPrerequisites, HelpRegisterApp, HelpTenantID, HelpClientSecret,
	HelpSecretValue, HelpPermission, HelpCloudRegion, HelpTroubleshooting, HelpCertificate,
}

// Error is a failure talking to Microsoft, in words an admin can act on. Its
// text never contains the client secret.
type Error struct {
	Reason  Reason
	Field   string // the form field it concerns, or "" for the form as a whole
	Code    string // Microsoft's code: "AADSTS7000215", "403 Forbidden", …
	Message string // plain words, with what to do
	Help    string // anchor in the setup guide that fixes it: one of HelpAnchors
	Err     error  // cause, for logs
}

func (e *Error) Error() string {
	s := "defender: " + string(e.Reason)
	if e.Code != "" {
		s += " (" + e.Code + ")"
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// ReasonOf returns the reason of the first *Error in err's chain, or "".
func ReasonOf(err error) Reason {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return ""
}

// entraError is the body of a failed token request.
type entraError struct {
	Error      string `json:"error"`
	ErrorCodes []int  `json:"error_codes"`
}

// tokenError maps a failed token fetch to an *Error.
func tokenError(err error) *Error {
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
	e := tokenErrorFor(code, re.ErrorCode)
	if re.Response != nil && re.Response.StatusCode >= 500 {
		e = &Error{Reason: ServiceError, Help: HelpTroubleshooting,
			Message: "Microsoft's sign-in service had a temporary problem. Postern will try again."}
	}
	if code != 0 {
		e.Code = "AADSTS" + strconv.Itoa(code)
	} else if re.ErrorCode != "" {
		e.Code = re.ErrorCode
	} else if re.Response != nil {
		e.Code = "HTTP " + strconv.Itoa(re.Response.StatusCode)
	}
	e.Err = fmt.Errorf("token request: %s %v", re.ErrorCode, body.ErrorCodes)
	return e
}

func tokenErrorFor(code int, class string) *Error {
	if e := certificateErrorFor(code); e != nil {
		return e
	}
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
	case 500011:
		return &Error{Reason: DefenderNotProvisioned, Help: HelpPrerequisites,
			Message: "Microsoft Defender for Endpoint is not set up in this tenant (its service principal was not found). Check that the tenant has a Defender for Endpoint licence and has been provisioned, and that the Cloud setting is right."}
	}
	if class == "invalid_client" {
		return &Error{Reason: InvalidSecret, Field: FieldClientSecret, Help: HelpSecretValue,
			Message: "Microsoft rejected the client credentials. Check the Client ID and paste the secret's Value, not its Secret ID."}
	}
	return &Error{Reason: SignInRefused, Help: HelpRegisterApp,
		Message: "Microsoft refused to issue a token for this app. Check the Tenant ID, Client ID and Client Secret, and the Cloud setting under Advanced."}
}

// networkError maps transport failures: timeouts, refused connections, DNS.
func networkError(err error) *Error {
	msg := "Could not reach Microsoft. Check this server's network access to the Microsoft sign-in and Defender hosts (and any proxy), then try again."
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		msg = "Microsoft did not answer in time. Try again; if it keeps happening, check this server's network access to Microsoft."
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		// url.Error names only the URL, which carries no secret.
		err = fmt.Errorf("%s %s: %w", ue.Op, ue.URL, ue.Err)
	}
	return &Error{Reason: Unreachable, Code: "network", Message: msg, Help: HelpTroubleshooting, Err: err}
}

// apiError is the body of a failed Defender API call.
type apiError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// statusError maps a non-2xx Defender API answer.
func statusError(status int, body []byte) *Error {
	var ae apiError
	_ = json.Unmarshal(body, &ae)
	code := strconv.Itoa(status)
	if ae.Error.Code != "" {
		code += " " + ae.Error.Code
	}
	e := &Error{Code: code, Err: fmt.Errorf("defender api: status %d %s", status, ae.Error.Code)}
	switch {
	case status == 403:
		e.Reason, e.Help = PermissionMissing, HelpPermission
		e.Message = "The app has no access to Defender machines. In the Entra admin center add the application permission WindowsDefenderATP → Machine.Read.All to the app, then click Grant admin consent."
	case status == 401:
		e.Reason, e.Help = TokenRejected, HelpCloudRegion
		e.Message = "The Defender API rejected the app's token. Check that the Cloud and API region match the tenant."
	case status == 429:
		e.Reason, e.Help = Throttled, HelpTroubleshooting
		e.Message = "Microsoft is throttling this app (Defender allows 100 calls a minute). Postern will wait and try again."
	case status >= 500:
		e.Reason, e.Help = ServiceError, HelpTroubleshooting
		e.Message = "The Defender API had a temporary problem. Postern will try again."
	default:
		e.Reason, e.Help = ServiceError, HelpTroubleshooting
		e.Message = "The Defender API answered with an unexpected error."
	}
	return e
}

// HelpForCode returns the setup guide anchor for an error kept only as its
// Code (Error.Code), such as the integration's stored last error; a code
// it does not know gets HelpTroubleshooting.
func HelpForCode(code string) string { return errorForCode(code).Help }

// ReasonForCode returns the Reason of an error kept only as its Code, such
// as a recorded sync run's; ServiceError when the code is not known.
func ReasonForCode(code string) Reason { return errorForCode(code).Reason }

// errorForCode rebuilds what the mapping that made an error says about its
// Code, so that readers of a stored code and the error itself agree.
func errorForCode(code string) *Error {
	if n, ok := strings.CutPrefix(code, "AADSTS"); ok {
		if c, err := strconv.Atoi(n); err == nil {
			return tokenErrorFor(c, "")
		}
	}
	if n, ok := strings.CutPrefix(code, "HTTP "); ok {
		// A token endpoint answer without an AADSTS code or error class.
		if c, err := strconv.Atoi(n); err == nil && c >= 400 && c < 500 {
			return tokenErrorFor(0, "")
		}
		return &Error{Reason: ServiceError, Help: HelpTroubleshooting}
	}
	if oauthClass.MatchString(code) {
		return tokenErrorFor(0, code)
	}
	status, _, _ := strings.Cut(code, " ")
	if c, err := strconv.Atoi(status); err == nil && c >= 400 && c < 600 {
		return statusError(c, nil)
	}
	return &Error{Reason: ServiceError, Help: HelpTroubleshooting}
}

// oauthClass matches an OAuth error class ("invalid_client"), the code of a
// token error that carried no AADSTS number.
var oauthClass = regexp.MustCompile(`^[a-z]+(_[a-z]+)+$`)
