package emulator

import (
	"net/http"
	"strconv"
	"time"
)

// Refusals the real service sends for reasons that no permission fixes,
// with the real body shapes (docs/defender-api.md#api-errors,
// docs/defender-api.md#token-errors). Each has a switch in Faults.

// xdrAudience is Defender XDR's API: a token for it is one the MDE API
// refuses.
const xdrAudience = "https://api.security.microsoft.com"

// refuseAPI answers an authorised API request that a refusal fault turns
// away, and reports whether it did.
func refuseAPI(w http.ResponseWriter, f *Faults) bool {
	switch {
	case f.AccountInactive:
		writeAPIError(w, http.StatusForbidden, "Forbidden", "Account mode is inactive")
	case f.DisabledFeature:
		writeAPIError(w, http.StatusForbidden, "DisabledFeature", "The feature is disabled for this tenant: Microsoft Defender for Endpoint API.")
	case f.DisallowedOperation:
		writeAPIError(w, http.StatusForbidden, "DisallowedOperation", "The operation is not allowed: the tenant is being offboarded.")
	default:
		return false
	}
	return true
}

// refuseToken is the token endpoint's refusal of a well-formed request from
// the right client with the right secret, or nil.
func refuseToken(f *Faults, clientID, requested string) *aadError {
	switch {
	case f.ConditionalAccess:
		return aadErr(400, "access_denied", 53003, "Access has been blocked by Conditional Access policies. The access policy does not allow token issuance.")
	case f.AppDisabled:
		return aadErr(400, "unauthorized_client", 7000112, "Application '%s'(Postern) is disabled.", clientID)
	case f.InvalidScope:
		return aadErr(400, "invalid_scope", 70011, "The provided value for the input parameter 'scope' is not valid. The scope %s/.default is not valid.", requested)
	}
	return nil
}

// throttleToken consumes one Token429 and reports the Retry-After to send,
// or 0 when the request goes ahead.
func (e *Emulator) throttleToken() time.Duration {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.faults.Token429 <= 0 {
		return 0
	}
	e.faults.Token429--
	if d := e.faults.TokenRetryAfter; d > 0 {
		return max(d.Truncate(time.Second), time.Second)
	}
	return time.Second
}

// writeTokenThrottled is Entra's answer to too many token requests.
func writeTokenThrottled(w http.ResponseWriter, r *http.Request, now time.Time, d time.Duration) {
	w.Header().Set("Retry-After", strconv.Itoa(int(d/time.Second)))
	writeAADError(w, r, now, aadErr(http.StatusTooManyRequests, "temporarily_unavailable", 90055,
		"There are too many incoming requests. Please try again later."))
}
