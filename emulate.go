package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"postern/internal/emulator"
)

// emulateDefender runs the local stand-in for Microsoft's token endpoint and
// the Defender API until ctx ends.
func emulateDefender(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("emulate-defender", flag.ContinueOnError)
	fs.SetOutput(stdout)
	addr := fs.String("addr", "127.0.0.1:8090", "listen address")
	cfg := emulator.Config{}
	fs.IntVar(&cfg.Machines, "machines", emulator.DefaultMachines, "how many machines to generate")
	fs.Int64Var(&cfg.Seed, "seed", 1, "seed for the generated fleet")
	fs.StringVar(&cfg.TenantID, "tenant-id", emulator.DemoTenantID, "the one tenant accepted (GUID)")
	fs.StringVar(&cfg.TenantDomain, "tenant-domain", emulator.DemoTenantDomain, "the tenant's verified domain")
	fs.StringVar(&cfg.ClientID, "client-id", emulator.DemoClientID, "the one app accepted")
	fs.StringVar(&cfg.ClientSecret, "client-secret", emulator.DemoClientSecret, "the app's secret value")
	clientCert := fs.String("client-cert", "", "a PEM file of a certificate registered on the app (for certificate credentials)")
	var f emulator.Faults
	fs.BoolVar(&f.ExpiredSecret, "expired-secret", false, "fault: the secret is expired (AADSTS7000222)")
	fs.BoolVar(&f.NoConsent, "no-consent", false, "fault: admin consent not granted (tokens without roles; the API answers 403)")
	fs.BoolVar(&f.DefenderNotProvisioned, "not-provisioned", false, "fault: Defender is not provisioned in the tenant (AADSTS500011)")
	fs.BoolVar(&f.TokenDown, "token-down", false, "fault: the token endpoint answers 503")
	fs.BoolVar(&f.ConditionalAccess, "conditional-access", false, "fault: a Conditional Access policy blocks the app (AADSTS53003)")
	fs.BoolVar(&f.AppDisabled, "app-disabled", false, "fault: the app is disabled (AADSTS7000112)")
	fs.BoolVar(&f.InvalidScope, "invalid-scope", false, "fault: every scope is refused (AADSTS70011)")
	fs.BoolVar(&f.WrongAudience, "wrong-audience", false, "fault: tokens are issued for Defender XDR's audience (the API answers 403)")
	fs.IntVar(&f.Token429, "token-429", 0, "fault: the next N token requests answer 429 with Retry-After")
	fs.BoolVar(&f.DisabledFeature, "disabled-feature", false, "fault: the API answers 403 DisabledFeature")
	fs.BoolVar(&f.DisallowedOperation, "disallowed-operation", false, "fault: the API answers 403 DisallowedOperation")
	fs.BoolVar(&f.AccountInactive, "account-inactive", false, "fault: the API answers 403 \"Account mode is inactive\"")
	fs.BoolVar(&f.APIDown, "api-down", false, "fault: the API answers 503")
	fs.IntVar(&f.Fail5xx, "fail-5xx", 0, "fault: the next N API requests answer 500")
	fs.DurationVar(&f.SlowPage, "slow", 0, "fault: wait this long before every API answer")
	fs.IntVar(&f.PageSize, "page-size", 0, "items per page without $top (default 10000)")
	fs.BoolVar(&f.NoNextLink, "no-next-link", false, "never send @odata.nextLink")
	fs.BoolVar(&f.EmptyCollection404, "empty-404", false, "an empty collection answers 404, as documented")
	fs.BoolVar(&f.DuplicateAcrossPages, "duplicate-rows", false, "fault: pages overlap by one row")
	fs.IntVar(&f.ShrinkFleet, "shrink-fleet", 0, "fault: the listing leaves out this percentage (0-100) of the machines")
	fs.BoolVar(&f.NoRateLimit, "no-rate-limit", false, "disable the 100/minute and 1,500/hour limits")
	fs.BoolVar(&f.HTML404, "html-404", false, "fault: the API answers 404 with an HTML page, as a proxy in front of a wrong path does")
	fs.BoolVar(&f.EmptyTenant, "empty-tenant", false, "an empty fleet answers JSON 404 ResourceNotFound on the first page (a tenant that never used Defender); use with -machines -1")
	fs.IntVar(&f.NotFoundOnPage, "not-found-on-page", 0, "fault: page N of every listing answers JSON 404 ResourceNotFound")
	fs.BoolVar(&f.StringRBACGroup, "string-rbac-group", false, `send rbacGroupId as a string ("140"), as the documentation types it`)
	fs.IntVar(&f.UnreadableEvery, "unreadable-every", 0, "fault: one machine in N sends an osBuild that is not a number")
	fs.DurationVar(&f.PageDelayPer1000, "page-delay", 0, "wait this long per 1,000 machines of a listing page (Microsoft: about 1s)")
	realistic := fs.Bool("realistic", false, "a real tenant's payload and latency: several extra ipAddresses per machine and -page-delay 1s unless set")
	fs.IntVar(&f.AVInfoStatus, "avinfo-status", 0, "fault: the antivirus health report (deviceavinfo) answers this HTTP status, e.g. 403 or 500")
	drift := fs.Duration("drift-every", 0, "change a few devices' signals this often (0: never)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *realistic {
		f.Realistic = true
		if f.PageDelayPer1000 == 0 {
			f.PageDelayPer1000 = emulator.RealisticDelayPer1000
		}
	}
	if f.ShrinkFleet < 0 || f.ShrinkFleet > 100 {
		return fmt.Errorf("emulator: --shrink-fleet is a percentage from 0 to 100, not %d", f.ShrinkFleet)
	}
	emu := emulator.New(cfg)
	emu.SetFaults(f)
	if *clientCert != "" {
		if err := emu.RegisterCertificateFile(*clientCert); err != nil {
			return err
		}
	}
	url, wait, err := emulator.Listen(ctx, *addr, emu)
	if err != nil {
		return fmt.Errorf("emulator: %w", err)
	}
	fmt.Fprintf(stdout, "emulator listening on %s\n", url)
	printCredentials(stdout, url, cfg.TenantID, cfg.ClientID, cfg.ClientSecret)
	if *drift > 0 {
		go emu.RunDrift(ctx, *drift)
	}
	return wait()
}

// printCredentials tells a person what to paste into Manage.
func printCredentials(w io.Writer, url, tenant, client, secretValue string) {
	fmt.Fprintf(w, `
  Microsoft Defender emulator (not Microsoft) at %s
  Paste into Settings → Integrations → Microsoft Defender → Manage:
    Tenant ID      %s
    Client ID      %s
    Client Secret  %s

`, url, tenant, client, secretValue)
}
