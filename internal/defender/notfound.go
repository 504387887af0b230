package defender

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// Defender's not-found codes (docs/defender-api.md#api-errors): a JSON 404
// with one of them on the first page of the machine list is how a tenant
// that has never used Defender answers, and means "no machines".
var notFoundCodes = []string{"ResourceNotFound", "NotFound"}

// emptyTenant reports whether a 404 answer to the first page of the
// machine list is Defender's own "no machines": its JSON error shape with
// a not-found code. Anything else, a proxy's HTML page, a wrong host or
// path, is not.
func emptyTenant(body []byte) bool {
	code, ok := defenderErrorCode(body)
	if !ok {
		return false
	}
	for _, c := range notFoundCodes {
		if strings.EqualFold(code, c) {
			return true
		}
	}
	return false
}

// defenderErrorCode reads the code of Defender's error shape
// {"error":{"code":…}}; false when the body is not that shape.
func defenderErrorCode(body []byte) (string, bool) {
	var ae apiError
	if err := json.Unmarshal(body, &ae); err != nil || ae.Error.Code == "" {
		return "", false
	}
	return ae.Error.Code, true
}

// notFoundError is a 404 that does not mean "no machines": the run fails
// and the previous device data stays. page is the 1-based page of the
// listing (0 for a single call such as Validate).
func notFoundError(body []byte, page int) *Error {
	e := &Error{Reason: ServiceError, Help: HelpTroubleshooting}
	code, isJSON := defenderErrorCode(body)
	switch {
	case looksLikeHTML(body):
		e.Code = "404 HTML"
		e.Message = "Microsoft answered 404 Not Found with an HTML page: check the API region and any proxy. The previous device data was kept."
	case !isJSON:
		e.Code = "404 not JSON"
		e.Message = "Microsoft answered 404 Not Found with something that is not a Defender answer: check the API region and any proxy. The previous device data was kept."
	case page > 1:
		e.Code = "404 " + code
		e.Message = fmt.Sprintf("Defender answered 404 Not Found (%s) for page %d of the machine list, after the first page had machines: the listing was stopped and the previous device data was kept. The next sync tries again.", code, page)
	default:
		e.Code = "404 " + code
		e.Message = fmt.Sprintf("Defender answered 404 Not Found with the code %s, which does not mean \"no machines\": check the API region and any proxy. The previous device data was kept.", code)
	}
	e.Err = fmt.Errorf("defender api: status 404 %s on page %d", e.Code, page)
	return e
}

// looksLikeHTML reports whether a body is an HTML page (a proxy's or a web
// server's error page) rather than a JSON answer.
func looksLikeHTML(body []byte) bool {
	b := bytes.TrimSpace(body)
	if len(b) == 0 || b[0] != '<' {
		return false
	}
	head := bytes.ToLower(b[:min(len(b), 512)])
	return bytes.Contains(head, []byte("<html")) || bytes.Contains(head, []byte("<!doctype")) ||
		bytes.Contains(head, []byte("<head")) || bytes.Contains(head, []byte("<body")) ||
		bytes.Contains(head, []byte("<title"))
}
