package defender

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"unicode"
)

// apiError is the body of a failed Defender API call
// (docs/defender-api.md#api-errors).
type apiError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Target  string `json:"target"` // per-request correlation id
	} `json:"error"`
}

// Codes Postern gives to Defender refusals that Microsoft sends under a
// generic code ("Forbidden") and tells apart only in its message. Stored
// with the status ("403 WrongAudience"), they read back to their reason.
const (
	codeWrongAudience   = "WrongAudience"
	codeAccountInactive = "AccountInactive"
)

// supportHeaders are the response headers that may carry a request id when
// the body has no target, in order of preference.
var supportHeaders = []string{"x-ms-correlation-id", "request-id", "x-ms-request-id", "client-request-id"}

// apiErrorOf maps a non-2xx Defender API answer met at stage, with the
// support id from its body or, failing that, its headers.
func (c *Client) apiErrorOf(res response, stage Stage) *Error {
	e := statusError(res.status, res.body, stage)
	for _, h := range supportHeaders {
		if e.SupportID != "" {
			break
		}
		e.SupportID = supportID(res.header.Get(h))
	}
	if e.Reason == PermissionMissing && res.audience != "" && !mdeAudience(res.audience) {
		// Microsoft answers a token for another API as it answers one
		// without the role; the token's own audience tells them apart.
		w := statusErrorFor(res.status, codeWrongAudience, "", stage)
		w.MicrosoftCode, w.MicrosoftMessage, w.SupportID, w.Err = e.MicrosoftCode, e.MicrosoftMessage, e.SupportID, e.Err
		e = w
	}
	return c.tokens.scrub(e)
}

// statusError maps a non-2xx Defender API answer from its status and body.
func statusError(status int, body []byte, stage Stage) *Error {
	var ae apiError
	_ = json.Unmarshal(body, &ae)
	msCode, msg := said(ae.Error.Code, 64), said(ae.Error.Message, maxRead)
	e := statusErrorFor(status, msCode, msg, stage)
	e.MicrosoftCode, e.MicrosoftMessage = msCode, msg
	e.SupportID = supportID(ae.Error.Target)
	e.Err = fmt.Errorf("defender api: status %d %s", status, msCode)
	return e
}

// statusErrorFor maps a status, Microsoft's code and its message. 401 and
// 403 are told apart by the code, and by the message where Microsoft uses
// one code for several causes; only a missing permission is
// PermissionMissing, the one reason that pauses syncing. The advice on
// what comes next is the stage's: a sync is tried again by the next one, a
// check of credentials on Save stored nothing.
func statusErrorFor(status int, msCode, msg string, stage Stage) *Error {
	code := strconv.Itoa(status)
	if msCode != "" {
		code += " " + msCode
	}
	e := &Error{Code: code, Help: HelpTroubleshooting}
	lower := strings.ToLower(msg)
	switch {
	case (status == 401 || status == 403) && (msCode == codeAccountInactive || strings.Contains(lower, "inactive")):
		e.Reason, e.Code = AccountInactive, strconv.Itoa(status)+" "+codeAccountInactive
		e.Message = "Defender for Endpoint is inactive in this tenant, which no permission or consent fixes: the tenant's Defender subscription has lapsed, was never set up, or is being offboarded. Check the licence and the tenant's state in the Microsoft Defender portal (Settings → Endpoints). " +
			stage.advise("Postern tries again at each sync.", "Nothing was saved: once it is fixed, save again.")
	case status == 403 && msCode == "DisabledFeature":
		e.Reason = FeatureDisabled
		e.Message = "Defender says a feature this read needs is turned off for the tenant. Check in the Microsoft Defender portal that Defender for Endpoint is set up and its API is available; Microsoft's message above names the feature. " +
			stage.advise("Postern tries again at each sync.", "Nothing was saved: once it is fixed, save again.")
	case status == 403 && msCode == "DisallowedOperation":
		e.Reason = OperationDisallowed
		e.Message = "Defender does not allow this app to list machines right now; Microsoft's message above says why. Postern only reads, so there is nothing to change in Postern: fix the cause in the tenant, or ask Microsoft support with the Support ID."
	case status == 403 && (msCode == codeWrongAudience || strings.Contains(lower, "audience")):
		e.Reason, e.Help, e.Code = WrongAudience, HelpCloudRegion, "403 "+codeWrongAudience
		e.Message = "Defender refused the token because it was issued for another API (wrong audience). Check the Cloud setting, and the server's defender-scope if it is set: a commercial tenant's scope is https://api.securitycenter.microsoft.com/.default."
	case status == 403:
		e.Reason, e.Help = PermissionMissing, HelpPermission
		e.Message = "The app has no access to Defender machines. In the Entra admin center add the application permission WindowsDefenderATP → Machine.Read.All to the app, then click Grant admin consent."
	case status == 401:
		e.Reason, e.Help = TokenRejected, HelpCloudRegion
		e.Message = "The Defender API rejected the app's token. Check that the Cloud and API region match the tenant."
	case status == 429:
		e.Reason = Throttled
		e.Message = "Microsoft is throttling this app (Defender allows 100 calls a minute). " +
			stage.advise("Postern will wait and try again.", "Nothing was saved: wait a minute, then save again.")
	case status >= 500:
		e.Reason = ServiceError
		e.Message = "The Defender API had a temporary problem. " +
			stage.advise("Postern will try again.", "Nothing was saved: save again in a few minutes.")
	default:
		e.Reason = ServiceError
		e.Message = "The Defender API answered with an unexpected error."
	}
	return e
}

// maxSaid caps what Postern repeats of Microsoft's message; maxRead what
// it reads of it before the secret is taken out (tokenCache.scrub cuts to
// maxSaid after that, so a cut can never leave part of the secret).
const (
	maxSaid = 300
	maxRead = 4096
)

// jwtShape is a bearer token; Microsoft should never echo one, and Postern
// never repeats one.
var jwtShape = regexp.MustCompile(`eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*\.?[A-Za-z0-9_-]*`)

// said makes Microsoft's free text safe to show and store: control
// characters become spaces, runs of spaces one, anything shaped like a
// token is replaced, and the result is cut to at most n runes.
func said(s string, n int) string {
	s = jwtShape.ReplaceAllString(s, "[token]")
	s = strings.Join(strings.FieldsFunc(s, func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsControl(r) || r == unicode.ReplacementChar
	}), " ")
	return strings.TrimSuffix(cut(s, n), ".")
}

// cut shortens s to at most n runes, marking the cut with "…".
func cut(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return strings.TrimSpace(string(r[:n-1])) + "…"
	}
	return s
}

// supportIDShape is what a support id may look like: a GUID or a similar
// token of letters, digits and dashes. Anything else is not repeated.
var supportIDShape = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,79}$`)

func supportID(s string) string {
	s = strings.TrimSpace(s)
	if !supportIDShape.MatchString(s) {
		return ""
	}
	return s
}

// headerOf keeps a response's headers for apiErrorOf; only failed answers
// need them.
func headerOf(res *http.Response) http.Header {
	if res.StatusCode < 400 {
		return nil
	}
	return res.Header
}

// mdeAudiences are the audiences the Defender for Endpoint API accepts:
// its App ID URIs and appId in every cloud (docs/defender-api.md#wrong-audience).
var mdeAudiences = []string{
	"https://api.securitycenter.microsoft.com",
	"https://securitycenter.onmicrosoft.com/windowsatpservice",
	"https://api.securitycenter.windows.com",
	"fc780465-2017-40d4-a0c5-307022471b92",
	"https://securitycenter.onmicrosoft.us/windowsatpservice",
	"https://api-gov.securitycenter.microsoft.us",
	"https://api-gcc.securitycenter.microsoft.us",
}

func mdeAudience(aud string) bool {
	aud = strings.TrimSuffix(aud, "/")
	for _, a := range mdeAudiences {
		if strings.EqualFold(a, aud) {
			return true
		}
	}
	return false
}

// audienceOf reads the aud claim of an access token without verifying it:
// only to word an error, never to trust anything.
func audienceOf(tok string) string {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return ""
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return ""
	}
	var claims struct {
		Aud string `json:"aud"`
	}
	if json.Unmarshal(payload, &claims) != nil {
		return ""
	}
	return claims.Aud
}
