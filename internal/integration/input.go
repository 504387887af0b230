package integration

import (
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"postern/internal/defender"
	"postern/internal/secret"
)

// Problems maps form fields to messages. It is an error so that Configure
// can return it; the web layer renders each next to its field.
type Problems map[string]string

func (p Problems) Error() string { return "integration: invalid input" }

// Form field names, shared with the web layer.
const (
	FieldTenantID        = defender.FieldTenantID
	FieldClientID        = defender.FieldClientID
	FieldClientSecret    = defender.FieldClientSecret
	FieldSecretExpiresOn = "secret_expires_on"
	FieldCloud           = "cloud"
	FieldRegion          = "region"
)

// MaxSecretBytes bounds the client secret (Entra values are about 40 chars).
const MaxSecretBytes = 1024

var (
	guidRE   = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	domainRE = regexp.MustCompile(`^(?i:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(?:\.(?i:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?))+$`)
)

// clean trims and checks the input before anything is sent to Microsoft.
func clean(in Input, hasStoredSecret bool, now time.Time) (Input, *time.Time, Problems) {
	p := Problems{}
	in.TenantID = strings.TrimSpace(in.TenantID)
	in.ClientID = strings.TrimSpace(in.ClientID)
	in.ClientSecret = secret.Redacted(strings.TrimSpace(in.ClientSecret.Reveal()))
	in.SecretExpiresOn = strings.TrimSpace(in.SecretExpiresOn)
	in.Cloud = strings.TrimSpace(in.Cloud)
	in.Region = strings.TrimSpace(in.Region)

	switch {
	case in.TenantID == "":
		p[FieldTenantID] = "Enter the Directory (tenant) ID from the app's Overview page."
	case !guidRE.MatchString(in.TenantID) && (len(in.TenantID) > 253 || !domainRE.MatchString(in.TenantID)):
		p[FieldTenantID] = "Use the Directory (tenant) ID, a GUID such as 72f988bf-86f1-41af-91ab-2d7cd011db47, or a verified domain such as contoso.onmicrosoft.com."
	}
	switch {
	case in.ClientID == "":
		p[FieldClientID] = "Enter the Application (client) ID from the app's Overview page."
	case !guidRE.MatchString(in.ClientID):
		p[FieldClientID] = "The Application (client) ID is a GUID such as 1b7ea2f1-3e1c-4c43-8c8a-6f1f0d9a2b3c."
	}
	in.Credential = strings.TrimSpace(in.Credential)
	switch in.Credential {
	case "":
		in.Credential = CredentialSecret
	case CredentialSecret, CredentialCertificate:
	default:
		p[FieldCredential] = "Choose Client secret or Certificate."
	}
	sec := in.ClientSecret.Reveal()
	switch {
	case in.Credential == CredentialCertificate:
		// The certificate is read by chooseCredential; its expiry is its own.
		in.ClientSecret, in.SecretExpiresOn = "", ""
	case sec == "" && !hasStoredSecret:
		p[FieldClientSecret] = "Enter the client secret's Value."
	case len(sec) > MaxSecretBytes:
		p[FieldClientSecret] = "This is too long for a client secret (at most 1,024 bytes)."
	case !utf8.ValidString(sec) || strings.ContainsAny(sec, "\x00\r\n"):
		p[FieldClientSecret] = "The client secret contains characters a secret value never has. Paste it again."
	case guidRE.MatchString(sec):
		p[FieldClientSecret] = "This looks like the secret's ID (a GUID), not its value. In the Entra admin center, copy the Value column of the client secret; it is shown only once, right after it is created."
	}
	var expires *time.Time
	if in.SecretExpiresOn != "" {
		t, err := time.Parse(time.DateOnly, in.SecretExpiresOn)
		switch {
		case err != nil:
			p[FieldSecretExpiresOn] = "Use a date such as 2027-06-30."
		case t.Before(now.UTC().Truncate(24 * time.Hour)):
			p[FieldSecretExpiresOn] = "This date has passed. Enter the expiry shown next to the secret in the Entra admin center."
		default:
			expires = &t
		}
	}
	if in.Cloud == "" {
		in.Cloud = string(defender.Commercial)
	}
	if in.Region == "" || in.Cloud != string(defender.Commercial) {
		// Only the commercial cloud has API regions; the others have one host.
		in.Region = string(defender.Global)
	}
	if !defender.Valid(defender.Clouds, in.Cloud) {
		p[FieldCloud] = "Choose one of the listed clouds."
	}
	if !defender.Valid(defender.Regions, in.Region) {
		p[FieldRegion] = "Choose one of the listed API regions."
	}
	return in, expires, p
}
