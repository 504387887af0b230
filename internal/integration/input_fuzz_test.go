package integration

import (
	"strings"
	"testing"
	"time"

	"postern/internal/secret"
)

// FuzzCredentialsForm holds clean (the Manage form's checks) to never
// panicking and never accepting what Microsoft could not use.
func FuzzCredentialsForm(f *testing.F) {
	f.Add("72f988bf-86f1-41af-91ab-2d7cd011db47", "1b7ea2f1-3e1c-4c43-8c8a-6f1f0d9a2b3c", "Abc~def.ghi", "2030-01-01", "commercial", "global")
	f.Add("contoso.onmicrosoft.com", "x", "", "", "", "")
	f.Add(" bad tenant/../ ", "1b7ea2f1-3e1c-4c43-8c8a-6f1f0d9a2b3c", "0b7e6f4a-1c2d-4e5f-8a9b-0c1d2e3f4a5b", "31/12/2030", "dod", "mars")
	f.Add(strings.Repeat("a", 300)+".com", "1B7EA2F1-3E1C-4C43-8C8A-6F1F0D9A2B3C", "\x00secret\r\n", "1999-01-01", "gcc-high", "eu")
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, tenant, client, sec, expires, cloud, region string) {
		in, exp, problems := clean(Input{TenantID: tenant, ClientID: client, ClientSecret: secret.Redacted(sec),
			SecretExpiresOn: expires, Cloud: cloud, Region: region}, false, now)
		if len(problems) > 0 {
			return
		}
		if in.TenantID == "" || in.ClientID == "" || in.ClientSecret == "" {
			t.Fatalf("accepted empty credentials: %+v", in)
		}
		if strings.ContainsAny(in.TenantID, " /?#%") || len(in.TenantID) > 253 {
			t.Fatalf("accepted tenant %q", in.TenantID)
		}
		if len(in.ClientSecret.Reveal()) > MaxSecretBytes || strings.ContainsAny(in.ClientSecret.Reveal(), "\x00\r\n") {
			t.Fatalf("accepted secret of %d bytes", len(in.ClientSecret.Reveal()))
		}
		if exp != nil && exp.Before(now.Truncate(24*time.Hour)) {
			t.Fatalf("accepted a past expiry %v", exp)
		}
	})
}
