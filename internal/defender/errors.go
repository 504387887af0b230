package defender

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
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

	// Refusals by Defender that no permission fixes: they never pause syncing.
	AccountInactive     Reason = "account_inactive"     // "Account mode is inactive"
	FeatureDisabled     Reason = "feature_disabled"     // 403 DisabledFeature
	OperationDisallowed Reason = "operation_disallowed" // 403 DisallowedOperation
	WrongAudience       Reason = "wrong_audience"       // a token issued for another API

	// Refusals by Entra ID's token endpoint.
	SignInBlocked Reason = "sign_in_blocked" // AADSTS53003, Conditional Access
	AppDisabled   Reason = "app_disabled"    // AADSTS7000112
	InvalidScope  Reason = "invalid_scope"   // AADSTS70011
)

// Stage is what Postern was doing when Microsoft refused. What an Error
// advises doing next depends on it: a failed sync is tried again by the
// next one, while a failed check of credentials stored nothing and
// nothing tries it again but the admin.
type Stage int

const (
	// StageSync: a sync, which the next sync repeats by itself.
	StageSync Stage = iota
	// StageCheck: the check of credentials before they are stored or the
	// integration enabled (Validate: Save in Manage, Enable).
	StageCheck
)

// advise picks the advice for the stage: sync when a sync follows by
// itself, check when only the admin saving again retries.
func (s Stage) advise(sync, check string) string {
	if s == StageCheck {
		return check
	}
	return sync
}

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

	// What Microsoft itself said, sanitized and capped (see said): its own
	// code ("Forbidden", "AADSTS53003") and message, shown before Message.
	MicrosoftCode    string
	MicrosoftMessage string
	// SupportID is what Microsoft support asks for: Defender's target or
	// request id, or Entra's trace and correlation ids.
	SupportID string
	// RetryAfter is how long a throttled token request was asked to wait.
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	s := "defender: " + string(e.Reason)
	if e.Code != "" {
		s += " (" + e.Code + ")"
	}
	if e.SupportID != "" {
		s += " [support id " + e.SupportID + "]"
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// Said is what Microsoft said, as it is shown first: its message and, in
// brackets, its code; "" when it said nothing Postern could read.
func (e *Error) Said() string {
	switch {
	case e.MicrosoftMessage == "":
		return ""
	case e.MicrosoftCode == "":
		return e.MicrosoftMessage
	}
	return e.MicrosoftMessage + " (" + e.MicrosoftCode + ")"
}

// Text is the whole error as one line, for the sync run's record, the card
// and flashes: Microsoft's own words first, then Postern's advice, then the
// support id.
func (e *Error) Text() string {
	s := e.Message
	if said := e.Said(); said != "" {
		s = "Microsoft said: " + said + ". " + s
	}
	if e.SupportID != "" {
		s += " Support ID " + e.SupportID + "."
	}
	return s
}

// SupportIDOf returns the support id of the first *Error in err's chain.
func SupportIDOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.SupportID
	}
	return ""
}

// ReasonOf returns the reason of the first *Error in err's chain, or "".
func ReasonOf(err error) Reason {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return ""
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

// HelpForCode returns the setup guide anchor for an error kept only as its
// Code (Error.Code), such as the integration's stored last error; a code
// it does not know gets HelpTroubleshooting.
func HelpForCode(code string) string { return errorForCode(code).Help }

// ReasonForCode returns the Reason of an error kept only as its Code, such
// as a recorded sync run's; ServiceError when the code is not known.
func ReasonForCode(code string) Reason { return errorForCode(code).Reason }

// errorForCode rebuilds what the mapping that made an error says about its
// Code, so that readers of a stored code and the error itself agree. Only
// its Reason and Help are read, which no Stage changes.
func errorForCode(code string) *Error {
	if n, ok := strings.CutPrefix(code, "AADSTS"); ok {
		if c, err := strconv.Atoi(n); err == nil {
			return tokenErrorFor(c, "", StageSync)
		}
	}
	if n, ok := strings.CutPrefix(code, "HTTP "); ok {
		// A token endpoint answer without an AADSTS code or error class.
		c, err := strconv.Atoi(n)
		switch {
		case err == nil && c == 429:
			return tokenThrottled(StageSync)
		case err == nil && c >= 400 && c < 500:
			return tokenErrorFor(0, "", StageSync)
		}
		return &Error{Reason: ServiceError, Help: HelpTroubleshooting}
	}
	if oauthClass.MatchString(code) {
		return tokenErrorFor(0, code, StageSync)
	}
	status, msCode, _ := strings.Cut(code, " ")
	if c, err := strconv.Atoi(status); err == nil && c >= 400 && c < 600 {
		return statusErrorFor(c, msCode, "", StageSync)
	}
	return &Error{Reason: ServiceError, Help: HelpTroubleshooting}
}

// oauthClass matches an OAuth error class ("invalid_client"), the code of a
// token error that carried no AADSTS number.
var oauthClass = regexp.MustCompile(`^[a-z]+(_[a-z]+)+$`)
