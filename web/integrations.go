package web

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"postern/internal/actor"
	"postern/internal/apperr"
	"postern/internal/defender"
	"postern/internal/integration"
	"postern/internal/model"
	"postern/internal/policy"
	"postern/internal/secret"
	"postern/internal/syncer"
	"postern/views"
	"postern/views/components"
)

// secretWarningWindow is how early the card warns about an expiring secret.
const secretWarningWindow = 30 * 24 * time.Hour

func isHTMX(c echo.Context) bool { return c.Request().Header.Get("HX-Request") == "true" }

// integrations shows the integration cards.
func (s *Server) integrations(c echo.Context) error {
	card, err := s.defenderCard(c)
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, views.Integrations(views.IntegrationsPage{Chrome: s.chrome(c, "Integrations", "integrations"), Defender: card}))
}

func (s *Server) defenderCard(c echo.Context) (views.DefenderCard, error) {
	d, err := s.integration.Defender(c.Request().Context())
	if err != nil {
		return views.DefenderCard{}, err
	}
	now := s.now()
	card := views.DefenderCard{
		TenantID: d.TenantID, ClientID: d.ClientID,
		Cloud: defender.Label(defender.Clouds, string(d.Cloud)), Region: defender.Label(defender.Regions, string(d.Region)),
		ConfiguredBy: d.ConfiguredBy, ConfiguredAt: d.ConfiguredAt,
		LastError: d.LastError, LastErrorCode: d.LastErrorCode, LastErrorAt: d.LastErrorAt,
		CSRF: csrfToken(c), Now: now,
		MayManage: allowedTo(c, http.MethodPost, "/settings/integrations/defender"),
		MaySync:   allowedTo(c, http.MethodPost, "/settings/integrations/defender/sync"),
	}
	if d.LastError != "" {
		card.LastErrorHelp = defender.HelpForCode(d.LastErrorCode)
	}
	snap := s.fleet.Load()
	card.Devices, card.Discovered = snap.Active, snap.Discovered
	st := s.syncer.Status()
	if st.LastSuccess != nil {
		card.LastSuccess, card.SyncedBy = st.LastSuccess.FinishedAt, st.LastSuccess.Replica
	}
	card.Replica = s.replicaText()
	if st.Held != nil {
		card.Held = heldRun(*st.Held, true)
		card.Held.Latest = st.LastRun != nil && st.LastRun.ID == st.Held.ID
	}
	if st.LastRun != nil && st.LastRun.Outcome == model.RunFailed {
		card.RunError, card.RunErrorCode = st.LastRun.Error, st.LastRun.ErrorCode
		card.RunErrorHelp = defender.HelpForCode(st.LastRun.ErrorCode)
	}
	if st.LastRun != nil && st.LastRun.Outcome == model.RunSuccess {
		card.RunNote = st.LastRun.Note
	}
	// The next sync is only promised when one will run: enabled, not
	// paused by a 403, not running, and still ahead.
	if d.Configured && d.Enabled && !st.Blocked && !st.Running && st.NextRun.After(now) {
		next := st.NextRun
		card.NextSync = &next
	}
	card.Paused = d.Configured && d.Enabled && st.Blocked
	card.Commercial = d.Cloud == defender.Commercial || d.Cloud == ""
	switch {
	case !d.Configured:
		card.State = views.StateNotConfigured
	case !d.Enabled:
		card.State = views.StateDisabled
	case st.Running:
		card.State = views.StateSyncing
		card.Fetched = st.Fetched
	case d.LastError != "" || card.RunError != "":
		card.State = views.StateError
	case card.Held != nil:
		card.State = views.StateHeld
	default:
		card.State = views.StateConnected
	}
	if d.Configured && d.Enabled {
		card.Degraded = degradedText(st, s.policy.Freshness(), now)
		if st.Stretched > 0 {
			card.Stretched = syncer.StretchedText(st.Stretched)
		}
	}
	if d.Configured {
		card.OutageGrace = graceCardText(d.OutageGraceHours)
	}
	if d.Configured {
		card.Credential = credentialText(d)
	}
	if d.SecretExpiresOn != nil {
		card.SecretNotice, card.SecretNoticeKind = secretNotice(*d.SecretExpiresOn, now)
		if d.Credential == integration.CredentialCertificate {
			card.SecretNotice, card.SecretNoticeKind = certificateNotice(*d.SecretExpiresOn, now)
		}
	}
	return card, nil
}

// degradedText says why the synced data needs attention, or "".
func degradedText(st syncer.Status, f policy.Freshness, now time.Time) string {
	switch {
	case st.Blocked:
		return "Syncing is paused: Defender refused access (403). Grant admin consent for Machine.Read.All, then Save in Manage to resume."
	case st.BreakerOpen:
		return fmt.Sprintf("%d syncs in a row failed, so Postern now waits longer between attempts. Fix the error above, then choose Sync now.", st.ConsecutiveFailures)
	case f.Phase == policy.Kept:
		return "The device data is stale: the last successful sync is older than three sync intervals. Posture checks keep using it until " +
			components.DateTime(f.KeptUntil) + " (outage grace), then treat it as unavailable."
	case st.Stale(now):
		return "The device data is stale: the last successful sync is older than three sync intervals. Posture checks treat stale data as unknown."
	}
	return ""
}

// secretNotice warns within 30 days of the client secret's expiry and
// errors after it.
func secretNotice(expires, now time.Time) (string, string) {
	day := components.Date(expires)
	today := now.UTC().Truncate(24 * time.Hour)
	days := int(expires.Sub(today).Hours() / 24) // calendar days left; the secret works through its expiry day
	switch {
	case days < 0:
		return "The client secret expired on " + day + ". Syncing fails until you create a new secret in the Entra admin center and paste its Value in Manage.", components.FlashError
	case days <= int(secretWarningWindow.Hours()/24):
		when := fmt.Sprintf("in %d days", days)
		switch days {
		case 0:
			when = "today"
		case 1:
			when = "tomorrow"
		}
		return "The client secret expires " + when + " (" + day + "). Create a new secret in the Entra admin center and paste its Value in Manage before then.", components.FlashWarning
	}
	return "", ""
}

func options(opts []defender.Option) []views.Option {
	out := make([]views.Option, len(opts))
	for i, o := range opts {
		out[i] = views.Option{Value: o.Value, Label: o.Label}
	}
	return out
}

// manageForm is the form filled from the stored state.
func (s *Server) manageForm(c echo.Context) (views.ManageForm, error) {
	d, err := s.integration.Defender(c.Request().Context())
	if err != nil {
		return views.ManageForm{}, err
	}
	f := views.ManageForm{CSRF: csrfToken(c), TenantID: d.TenantID, ClientID: d.ClientID, SecretSet: d.SecretSet,
		Cloud: string(d.Cloud), Region: string(d.Region), Clouds: options(defender.Clouds), Regions: options(defender.Regions),
		OutageGrace: strconv.Itoa(d.OutageGraceHours)}
	if d.SecretExpiresOn != nil && d.Credential != integration.CredentialCertificate {
		f.SecretExpiresOn = d.SecretExpiresOn.Format(time.DateOnly)
	}
	return f, s.certificateForm(c, &f, d)
}

func (s *Server) renderManage(c echo.Context, status int, f views.ManageForm, fragment bool) error {
	switch {
	case fragment:
		return render(c, status, views.ManageFormView(f))
	case isHTMX(c):
		return render(c, status, views.ManageDialog(f))
	default:
		return render(c, status, views.ManageFull(views.ManagePage{Chrome: s.chrome(c, "Manage Microsoft Defender", "integrations"), Form: f}))
	}
}

// defenderManage opens the Manage dialog (or page).
func (s *Server) defenderManage(c echo.Context) error {
	f, err := s.manageForm(c)
	if err != nil {
		return err
	}
	return s.renderManage(c, http.StatusOK, f, false)
}

// defenderSave validates the input, then the credentials against Microsoft,
// and only then stores them. Failures re-render the form with the input
// (never the secret) and each message next to its field.
func (s *Server) defenderSave(c echo.Context) error {
	r := c.Request()
	if err := r.ParseForm(); err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, "The form could not be read.")
	}
	in := integration.Input{
		TenantID: r.PostFormValue("tenant_id"), ClientID: r.PostFormValue("client_id"),
		ClientSecret:    secret.Redacted(r.PostFormValue("client_secret")),
		SecretExpiresOn: r.PostFormValue("secret_expires_on"),
		Credential:      r.PostFormValue(integration.FieldCredential),
		CertificatePEM:  r.PostFormValue(integration.FieldCertificate),
		PrivateKeyPEM:   secret.Redacted(r.PostFormValue(integration.FieldPrivateKey)),
		Cloud:           r.PostFormValue("cloud"), Region: r.PostFormValue("region"),
		OutageGraceHours: r.PostFormValue(integration.FieldOutageGrace),
	}
	change, err := s.integration.Configure(r.Context(), in)
	if err != nil {
		f, ferr := s.manageForm(c)
		if ferr != nil {
			return ferr
		}
		f.TenantID, f.ClientID, f.SecretExpiresOn, f.Cloud, f.Region = in.TenantID, in.ClientID, in.SecretExpiresOn, in.Cloud, in.Region
		f.OutageGrace = in.OutageGraceHours
		keepCredentialInput(&f, in)
		if !applyErrors(&f, err) {
			return err
		}
		s.logger(c).Info("defender credentials refused", "reason", defender.ReasonOf(err), "err", err)
		return s.renderManage(c, http.StatusUnprocessableEntity, f, isHTMX(c))
	}
	if change == integration.GraceSet {
		return s.afterAction(c, components.FlashSuccess, "Outage grace saved.", false)
	}
	s.logger(c).Info("defender integration configured", "admin", actor.Name(r.Context()))
	return s.afterAction(c, components.FlashSuccess, "Microsoft Defender is connected. Postern checked the credentials with Microsoft and stored them encrypted.", true)
}

// applyErrors puts validation and Microsoft errors on the form; it reports
// false for errors that are ours (internal), which the error handler takes.
func applyErrors(f *views.ManageForm, err error) bool {
	var problems integration.Problems
	var de *defender.Error
	switch {
	case errors.As(err, &problems):
		f.Errors, f.Helps = problems, problemHelps(problems)
	case errors.As(err, &de):
		if de.Field != "" {
			f.Errors = map[string]string{de.Field: de.Text()}
			f.Codes = map[string]string{de.Field: de.Code}
			f.Helps = map[string]string{de.Field: de.Help}
		} else {
			f.FormError, f.FormCode, f.FormHelp = de.Message, de.Code, de.Help
			f.FormSaid, f.FormSupportID = de.Said(), de.SupportID
		}
	case apperr.Is(err, apperr.Conflict):
		f.FormError = apperr.MessageOf(err)
	default:
		return false
	}
	return true
}

// afterAction answers a successful card action: htmx gets the dialog closed,
// the card refreshed and a flash, all out of band; a plain form gets a
// redirect to the Integrations page with the flash.
func (s *Server) afterAction(c echo.Context, kind, text string, syncStarted bool) error {
	if !isHTMX(c) {
		if err := flash(c, kind, text); err != nil {
			return err
		}
		return c.Redirect(http.StatusSeeOther, "/settings/integrations")
	}
	card, err := s.defenderCard(c)
	if err != nil {
		return err
	}
	// A sync was just triggered; the worker picks it up at once. Show it
	// as started, and the 2-second refresh takes over.
	if syncStarted && card.Live() {
		card.State = views.StateSyncing
	}
	c.Response().Header().Set("HX-Retarget", "#dialog-root")
	c.Response().Header().Set("HX-Reswap", "innerHTML")
	return render(c, http.StatusOK, views.ActionResult(card, []views.Flash{{Kind: kind, Text: text}}))
}

// refusedAction answers a card action the current state refuses (Sync now
// while paused or disabled, Enable while enabled): a plain form returns to
// the card with the reason as a flash, never a bare error page; htmx gets
// the error handler's answer, which its error swap shows.
func (s *Server) refusedAction(c echo.Context, err error) error {
	if isHTMX(c) || !apperr.Is(err, apperr.Conflict) {
		return err
	}
	return s.afterAction(c, components.FlashWarning, apperr.MessageOf(err), false)
}

// defenderEnable re-validates the stored credentials and turns Defender on.
func (s *Server) defenderEnable(c echo.Context) error {
	err := s.integration.Enable(c.Request().Context())
	var de *defender.Error
	if errors.As(err, &de) {
		return s.afterAction(c, components.FlashError, "Microsoft Defender stays disabled: "+de.Text()+" ("+de.Code+")", false)
	}
	if err != nil {
		return s.refusedAction(c, err)
	}
	return s.afterAction(c, components.FlashSuccess, "Microsoft Defender is enabled and connected.", true)
}

// defenderSync starts a sync now (Sync now on the card).
func (s *Server) defenderSync(c echo.Context) error {
	if err := s.syncer.SyncNow(c.Request().Context()); err != nil {
		return s.refusedAction(c, err)
	}
	if isHTMX(c) {
		card, err := s.defenderCard(c)
		if err != nil {
			return err
		}
		// The worker picks the trigger up at once; show it as started, and
		// the 2-second refresh takes over from there.
		if card.Live() {
			card.State = views.StateSyncing
		}
		return render(c, http.StatusOK, views.DefenderCardView(card, false))
	}
	if err := flash(c, components.FlashInfo, "A sync has started. The card shows its progress."); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/settings/integrations")
}

// defenderCardFragment is the card alone, for its live refresh.
func (s *Server) defenderCardFragment(c echo.Context) error {
	card, err := s.defenderCard(c)
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, views.DefenderCardView(card, false))
}

// defenderStatusFragment is the card's self-refreshing part.
func (s *Server) defenderStatusFragment(c echo.Context) error {
	card, err := s.defenderCard(c)
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, views.DefenderStatus(card))
}
