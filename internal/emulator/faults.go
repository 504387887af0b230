package emulator

import (
	"slices"
	"time"
)

// Faults switches the emulator's misbehaviour. The zero value is a healthy
// service with the real limits. SetFaults may be called at any time; counters
// (Fail5xx, Throttle) count down as requests consume them, and Faults()
// reports what is left.
type Faults struct {
	// Token endpoint.
	TokenDown              bool          // 503 temporarily_unavailable (AADSTS90033)
	TokenDelay             time.Duration // wait before answering a token request
	TokenLifetime          time.Duration // expires_in/exp of issued tokens; 0 → 3599 s; whole seconds, at least 1
	ExpiredSecret          bool          // the right secret gets 401 invalid_client AADSTS7000222
	NoConsent              bool          // tokens are issued with no roles claim (the API then answers 403)
	Roles                  []string      // roles of issued MDE tokens; nil → ["Machine.Read.All"]
	DefenderNotProvisioned bool          // MDE scopes get 400 invalid_resource AADSTS500011
	ConditionalAccess      bool          // 400 access_denied AADSTS53003: a Conditional Access policy blocks the app
	AppDisabled            bool          // 400 unauthorized_client AADSTS7000112: the app is disabled
	InvalidScope           bool          // 400 invalid_scope AADSTS70011, whatever the scope
	WrongAudience          bool          // MDE scopes get tokens for Defender XDR's audience (the API answers 403)
	Token429               int           // the next N token requests get 429 with Retry-After
	TokenRetryAfter        time.Duration // Retry-After of Token429 answers; 0 → 1 s

	// Refusals by the API that no permission fixes (after authentication).
	DisabledFeature     bool // 403 DisabledFeature
	DisallowedOperation bool // 403 DisallowedOperation
	AccountInactive     bool // 403 Forbidden "Account mode is inactive"

	// API availability and errors.
	APIDown    bool          // every API request gets 503 ServiceUnavailable
	APIHangUp  bool          // every API request has its connection closed without an answer
	Fail5xx    int           // the next N authorised API requests get 500 InternalServerError
	FailOnPage int           // page k (1-based) of every listing gets 500 until cleared
	SlowPage   time.Duration // wait before every API answer (listing pages and by-id)

	// Paging.
	PageSize             int  // items per page without $top; 0 → 10,000
	NoNextLink           bool // never send @odata.nextLink (the client must page with $top/$skip)
	ClampTop             bool // $top over 10,000 is clamped instead of answering 400 ODataError
	EmptyCollection404   bool // an empty result answers 404 NotFound, as documented
	DuplicateAcrossPages bool // a page with $skip>0 starts one row early: the last row repeats
	SkipAcrossPages      bool // a page with $skip>0 starts one row late: a row is never listed
	// ShrinkFleet hides this percentage (0–100) of the fleet from the
	// listing, the last machines by id: a tenant that lost them, or a
	// listing that silently lost them (the mass-removal guard's case).
	ShrinkFleet int

	// Broken bodies (200 OK with bad content) on page BadPage (1-based; 0 = every page).
	MalformedJSON bool // the body is not valid JSON
	TruncateBody  bool // the body stops halfway and the connection is closed
	BadPage       int

	// Content encoding.
	RawDeflate bool // "deflate" without the zlib wrapper (as some .NET servers send)

	// Rate limits, per (appid, tid). Only requests with a valid token count.
	NoRateLimit        bool          // disable the limits (benchmarks)
	RateLimitPerMinute int           // 0 → 100
	RateLimitPerHour   int           // 0 → 1,500
	Throttle           int           // the next N authorised API requests get 429
	RetryAfter         time.Duration // Retry-After of Throttle 429s; 0 → 1 s
	RetryAfterHTTPDate bool          // send every Retry-After as an HTTP date instead of seconds

	Realism // answers as the real service gives them (realism.go)

	// Antivirus health report (GET /api/deviceavinfo).
	AVInfoStatus   int // non-zero: every report request answers this HTTP status with Defender's error shape
	AVInfoPageSize int // rows per page without $top; 0 → 20, as documented
}

// SetFaults replaces the fault switches.
func (e *Emulator) SetFaults(f Faults) {
	f.Roles = slices.Clone(f.Roles)
	e.mu.Lock()
	e.faults = f
	e.mu.Unlock()
}

// Faults returns the current switches, with counters as far as they have run down.
func (e *Emulator) Faults() Faults {
	e.mu.Lock()
	defer e.mu.Unlock()
	f := e.faults
	f.Roles = slices.Clone(f.Roles)
	return f
}

// UpdateFaults edits the switches atomically, for changing one field without
// racing the counters.
func (e *Emulator) UpdateFaults(fn func(*Faults)) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.faults.Roles = slices.Clone(e.faults.Roles) // requests in flight may hold the old slice
	fn(&e.faults)
}

const (
	defaultPageSize    = 10000
	maxTop             = 10000
	defaultPerMinute   = 100
	defaultPerHour     = 1500
	defaultTokenExpiry = 3599 * time.Second
)

func (f *Faults) pageSize() int {
	if f.PageSize > 0 {
		return f.PageSize
	}
	return defaultPageSize
}

func (f *Faults) tokenLifetime() time.Duration {
	if f.TokenLifetime <= 0 {
		return defaultTokenExpiry
	}
	return max(f.TokenLifetime.Truncate(time.Second), time.Second)
}

func (f *Faults) badPage(page int) bool {
	return (f.MalformedJSON || f.TruncateBody) && (f.BadPage == 0 || f.BadPage == page)
}
