package web

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"postern/internal/defender/vocab"
	"postern/internal/posture"
	"postern/views"
)

// queryID is the ?id= of the check being edited; 0 for a new one.
func queryID(c echo.Context) int64 {
	id, err := strconv.ParseInt(c.QueryParam("id"), 10, 64)
	if err != nil || id < 0 {
		return 0
	}
	return id
}

func previewURL(id int64) string {
	if id == 0 {
		return "/zero-trust/posture-checks/preview"
	}
	return "/zero-trust/posture-checks/preview?id=" + strconv.FormatInt(id, 10)
}

// conditionFields are the form fields that hold no condition.
var conditionFree = map[string]bool{"name": true, "description": true, "source": true, "form": true}

// keepStoredConditions handles a Defender check while the integration is
// disabled: a stored Defender check keeps its conditions as stored (the
// editor shows them read-only, so the form carries none) and stays
// editable otherwise. A new one, or another check switched to Defender,
// is left to policy.Service.SaveCheck, which refuses it: refused reports
// that case, so that no confirmation is asked for a save that will fail.
func (s *Server) keepStoredConditions(ctx context.Context, id int64, f *checkForm, errs map[string]string) (refused bool, err error) {
	if f.Source != posture.SourceDefender || s.policy.DefenderEnabled() {
		return false, nil
	}
	if id == 0 {
		return true, nil
	}
	stored, err := s.store.PostureCheck(ctx, id)
	if err != nil {
		return false, err
	}
	if stored.DataSource != posture.SourceDefender {
		return true, nil
	}
	kept, err := formOf(stored)
	if err != nil {
		return false, err
	}
	f.Spec, f.LastSeenHours, f.MinBuild, f.Signals = kept.Spec, kept.LastSeenHours, kept.MinBuild, kept.Signals
	for field := range errs {
		if !conditionFree[field] {
			delete(errs, field)
		}
	}
	return false, nil
}

// draftOf is the check the editor holds, as the engine would run it.
func draftOf(id int64, f checkForm) posture.Check {
	return posture.Check{ID: id, Name: f.Name, Source: f.Source, Mode: f.Mode, Enabled: f.Enabled,
		WhenUnavailable: f.WhenUnavailable, Spec: f.Spec}
}

// previewable says why a draft cannot be previewed over the synced
// devices, or "" when it can.
func previewable(f checkForm) string {
	switch {
	case f.Source == posture.SourceDeviceReport:
		return "Device report checks judge what the gateway sends with each request, so they are decided per request: synced devices cannot preview them, and the dashboard and the counts leave them out."
	case f.Source != posture.SourceDefender:
		return "Choose a data source and conditions to see which devices would be allowed or denied."
	case len(f.Spec.Validate(f.Source)) > 0:
		return "Complete the conditions to see which devices would be allowed or denied."
	}
	return ""
}

// impact previews a draft over the synced devices, in terms of access.
func (s *Server) impact(id int64, f checkForm) views.ImpactView {
	if note := previewable(f); note != "" {
		return views.ImpactView{Note: note}
	}
	imp := s.policy.Preview(draftOf(id, f), 5)
	if imp.Devices == 0 {
		return views.ImpactView{Note: "No devices are synced yet, so there is nothing to preview."}
	}
	v := views.ImpactView{Devices: imp.Devices, Discovered: imp.Discovered, Allowed: imp.Allowed, Denied: imp.Denied, NoData: imp.NoData,
		Excepted: imp.Excepted, UnavailableDeny: f.WhenUnavailable != posture.UnavailableAllow, Monitor: imp.Monitor,
		Failing: imp.Failing, NewlyDenied: imp.NewlyDenied, NewlyAllowed: imp.NewlyAllowed, DenialsURL: denialsURL(id, f)}
	for _, ex := range imp.Examples {
		v.Examples = append(v.Examples, views.ImpactExample{ID: ex.DeviceID, Host: ex.Host, Result: string(ex.Result), Reasons: ex.Reasons})
	}
	return v
}

// confirmCut asks for confirmation before a save that would deny devices
// allowed today: unless the form's confirm_denied (the number the admin
// was shown) covers the number now, it returns what to ask and true.
func (s *Server) confirmCut(id int64, f checkForm, form url.Values) (views.SaveConfirm, bool) {
	if previewable(f) != "" {
		return views.SaveConfirm{}, false
	}
	imp := s.policy.Preview(draftOf(id, f), 0)
	confirmed, err := strconv.Atoi(form.Get("confirm_denied"))
	if imp.NewlyDenied == 0 || (err == nil && confirmed >= imp.NewlyDenied) {
		return views.SaveConfirm{}, false
	}
	return views.SaveConfirm{NewlyDenied: imp.NewlyDenied, DenialsURL: denialsURL(id, f)}, true
}

// denialsURL lists the devices the draft would deny that are allowed
// today. No device filter can express "denied by this draft", so the list
// is the preview's own page, computed from the draft in the query.
func denialsURL(id int64, f checkForm) string {
	v := formValues(f)
	if id != 0 {
		v.Set("id", strconv.FormatInt(id, 10))
	}
	return "/zero-trust/posture-checks/preview?" + v.Encode()
}

// maxDenialsListed bounds the denials page.
const maxDenialsListed = 500

// checkDenials lists the devices a draft (in the query) would deny that
// are allowed today: the preview's and the confirmation's link.
func (s *Server) checkDenials(c echo.Context) error {
	id := queryID(c)
	f, errs := parseCheckForm(c.QueryParams())
	if _, err := s.keepStoredConditions(c.Request().Context(), id, &f, errs); err != nil {
		return err
	}
	back := "/zero-trust/posture-checks/new"
	if id != 0 {
		back = "/zero-trust/posture-checks/" + strconv.FormatInt(id, 10) + "/edit"
	}
	p := views.DenialsPage{Chrome: s.chrome(c, "Devices this change would deny", "posture-checks"), Name: f.Name,
		BackURL: back + "?" + formValues(f).Encode()}
	if previewable(f) == "" {
		imp := s.policy.Preview(draftOf(id, f), maxDenialsListed)
		p.Total = imp.NewlyDenied
		for _, ex := range imp.Denials {
			p.Devices = append(p.Devices, views.ImpactExample{ID: ex.DeviceID, Host: ex.Host, Result: string(ex.Result), Reasons: ex.Reasons})
		}
	}
	p.Complete = len(p.Devices) == p.Total
	return render(c, http.StatusOK, views.Denials(p))
}

// formValues is the editor form that parseCheckForm reads back as f.
func formValues(f checkForm) url.Values {
	v := url.Values{"name": {f.Name}, "source": {f.Source}, "mode": {f.Mode}, "when_unavailable": {f.WhenUnavailable}}
	set := func(k, val string) {
		if val != "" {
			v.Set(k, val)
		}
	}
	on := func(k string, b bool) {
		if b {
			v.Set(k, "on")
		}
	}
	set("description", f.Description)
	on("enabled", f.Enabled)
	sp := f.Spec
	switch f.Source {
	case posture.SourceDefender:
		if sp.HealthActive {
			v.Set("health_status", vocab.HealthActive)
		}
		if sp.RequireOnboarded {
			v.Set("onboarding_status", vocab.Onboarded)
		}
		set("max_risk", sp.MaxRisk)
		set("max_exposure", sp.MaxExposure)
		v["av_statuses"], v["os_platforms"] = sp.AVStatuses, sp.OSPlatforms
		on("entra_joined", sp.RequireEntraJoined)
		set("required_tags", strings.Join(sp.RequiredTags, ", "))
		set("forbidden_tags", strings.Join(sp.ForbiddenTags, ", "))
		set("device_groups", strings.Join(sp.DeviceGroups, ", "))
		set("last_seen_hours", f.LastSeenHours)
		for p, b := range f.MinBuild {
			set("min_build."+p, b)
		}
		setSignals(v, f)
	case posture.SourceDeviceReport:
		v["report_os"] = sp.ReportOS
		set("report_min_os_version", sp.ReportMinOSVersion)
		on("report_firewall", sp.ReportFirewall)
		on("report_disk_encrypted", sp.ReportDiskEncrypted)
		set("report_min_client_version", sp.ReportMinClientVersion)
	}
	for k, vals := range v {
		if len(vals) == 0 {
			delete(v, k)
		}
	}
	return v
}
