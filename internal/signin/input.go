package signin

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"postern/internal/actor"
	"postern/internal/defender"
	"postern/internal/model"
	"postern/internal/secret"
)

// Input is what an Owner submits in Settings → Sign-in. The role mapping
// is one list per role, of app role values and of group object ids
// (separated by commas, spaces or new lines).
type Input struct {
	TenantID, ClientID string
	ClientSecret       secret.Redacted // empty keeps the stored secret
	Cloud              string
	AppRoles           map[actor.Role]string
	Groups             map[actor.Role]string
	AutoProvision      bool
	Version            int64 // the version the form was loaded at (0: none stored)
}

// Form field names, shared with the web layer.
const (
	FieldTenantID      = "tenant_id"
	FieldClientID      = "client_id"
	FieldClientSecret  = "client_secret"
	FieldCloud         = "cloud"
	FieldAutoProvision = "auto_provision"
	FieldVersion       = "version"
	FieldMapping       = "mapping"
)

// FieldAppRoles and FieldGroups name role's mapping fields.
func FieldAppRoles(role actor.Role) string { return "app_roles_" + string(role) }

// FieldGroups names role's group mapping field.
func FieldGroups(role actor.Role) string { return "groups_" + string(role) }

// MaxSecretBytes bounds the client secret (Entra values are about 40 chars).
const MaxSecretBytes = 1024

var (
	guidRE    = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	appRoleRE = regexp.MustCompile(`^[\x21-\x7e]{1,250}$`) // Entra: no spaces, at most 250 characters
)

// IsGUID reports whether s has the shape of an Entra id.
func IsGUID(s string) bool { return guidRE.MatchString(s) }

// clean checks in and returns the provider to store, or the problems by field.
func clean(in Input, hasSecret bool) (model.SignInProvider, map[string]string) {
	p := map[string]string{}
	out := model.SignInProvider{Name: model.SignInEntra, TenantID: strings.ToLower(strings.TrimSpace(in.TenantID)),
		ClientID: strings.ToLower(strings.TrimSpace(in.ClientID)), Cloud: strings.TrimSpace(in.Cloud),
		AutoProvision: in.AutoProvision, RoleMap: model.RoleMap{AppRoles: map[string]actor.Role{}, Groups: map[string]actor.Role{}}}
	switch {
	case out.TenantID == "":
		p[FieldTenantID] = "Enter the Directory (tenant) ID from the app registration's Overview page."
	case !IsGUID(out.TenantID):
		p[FieldTenantID] = "Use the Directory (tenant) ID, a GUID such as 72f988bf-86f1-41af-91ab-2d7cd011db47: id tokens name the tenant by it (tid), not by a domain."
	}
	switch {
	case out.ClientID == "":
		p[FieldClientID] = "Enter the Application (client) ID from the app registration's Overview page."
	case !IsGUID(out.ClientID):
		p[FieldClientID] = "The Application (client) ID is a GUID such as 1b7ea2f1-3e1c-4c43-8c8a-6f1f0d9a2b3c."
	}
	sec := strings.TrimSpace(in.ClientSecret.Reveal())
	switch {
	case sec == "" && !hasSecret:
		p[FieldClientSecret] = "Enter the client secret's Value."
	case len(sec) > MaxSecretBytes:
		p[FieldClientSecret] = "This is too long for a client secret (at most 1,024 bytes)."
	case !utf8.ValidString(sec) || strings.ContainsAny(sec, "\x00\r\n"):
		p[FieldClientSecret] = "The client secret contains characters a secret value never has. Paste it again."
	case IsGUID(sec):
		p[FieldClientSecret] = "This looks like the secret's ID (a GUID), not its value. Copy the Value column of the client secret; Entra shows it only once, right after it is created."
	}
	if out.Cloud == "" {
		out.Cloud = string(defender.Commercial)
	}
	if !defender.Valid(defender.Clouds, out.Cloud) {
		p[FieldCloud] = "Choose one of the listed clouds."
	}
	for _, role := range actor.AdminRoles {
		mapValues(p, FieldAppRoles(role), in.AppRoles[role], role, out.RoleMap.AppRoles, appRoleRE,
			"An app role value has no spaces and at most 250 characters, such as Postern.Owner")
		mapValues(p, FieldGroups(role), in.Groups[role], role, out.RoleMap.Groups, guidRE,
			"A group is named by its Object ID, a GUID such as 5f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f")
	}
	if len(out.RoleMap.AppRoles)+len(out.RoleMap.Groups) == 0 && len(p) == 0 {
		p[FieldMapping] = "Map at least one app role (or group) to a Postern role: without one, nobody can sign in with Microsoft."
	}
	return out, p
}

// mapValues reads one role's list of values into m, noting a malformed
// value, or one already mapped to another role, under field.
func mapValues(p map[string]string, field, list string, role actor.Role, m map[string]actor.Role, shape *regexp.Regexp, hint string) {
	for _, v := range strings.FieldsFunc(list, func(r rune) bool { return r == ',' || r == ';' || r == ' ' || r == '\n' || r == '\r' || r == '\t' }) {
		key := v
		if shape == guidRE {
			key = strings.ToLower(v)
		}
		switch prev, dup := m[key]; {
		case !shape.MatchString(v):
			p[field] = fmt.Sprintf("%q is not valid here. %s.", trim(v), hint)
		case dup && prev != role:
			p[field] = fmt.Sprintf("%q is mapped to %s already: give each value one role.", v, prev.Label())
		default:
			m[key] = role
		}
	}
}

func trim(s string) string {
	if r := []rune(s); len(r) > 60 {
		return string(r[:60]) + "…"
	}
	return s
}

// summary describes p for the audit log (no secret in it).
func summary(p model.SignInProvider) string {
	auto := "off"
	if p.AutoProvision {
		auto = "on"
	}
	return fmt.Sprintf("tenant %s, client %s, cloud %s, %d app role and %d group mappings, auto-provisioning %s",
		p.TenantID, p.ClientID, p.Cloud, len(p.RoleMap.AppRoles), len(p.RoleMap.Groups), auto)
}

// MappingText is role's mapped values in m, one per line, for the form.
func MappingText(m map[string]actor.Role, role actor.Role) string {
	var out []string
	for v, r := range m {
		if r == role {
			out = append(out, v)
		}
	}
	slices.Sort(out)
	return strings.Join(out, "\n")
}
