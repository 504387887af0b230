package web

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"postern/internal/apperr"
	"postern/internal/model"
	"postern/internal/policy"
	"postern/internal/posture"
	"postern/views"
	"postern/views/components"
)

// postureChecks lists the checks with their current counts.
func (s *Server) postureChecks(c echo.Context) error {
	checks, err := s.store.PostureChecks(c.Request().Context())
	if err != nil {
		return err
	}
	t := s.policy.Tally()
	enabled := s.policy.DefenderEnabled()
	p := views.PostureChecksPage{Chrome: s.chrome(c, "Device Posture Checks", "posture-checks")}
	for _, ch := range checks {
		n := t.PerCheck[ch.ID]
		p.Checks = append(p.Checks, views.CheckRow{ID: ch.ID, Name: ch.Name, Description: ch.Description,
			Source: posture.SourceLabel(ch.DataSource), SourceDisabled: ch.DataSource == posture.SourceDefender && !enabled,
			Mode: ch.Mode, Enabled: ch.Enabled, Pass: n.Pass, Fail: n.Fail, Unknown: n.Unknown, Counted: t.Current})
	}
	return render(c, http.StatusOK, views.PostureChecks(p))
}

// editorPage fills the editor around a form.
func (s *Server) editorPage(c echo.Context, id int64, f checkForm, errs map[string]string) views.CheckEditorPage {
	title := "New posture check"
	if id != 0 {
		title = "Edit posture check"
	}
	enabled := s.policy.DefenderEnabled()
	p := views.CheckEditorPage{Chrome: s.chrome(c, title, "posture-checks"), ID: id, Errors: errs,
		RiskLevels: posture.RiskLevels, ExposureLevels: posture.ExposureLevels, AVStatuses: posture.AVStatuses,
		ReportOSes: posture.ReportOSes, Platforms: s.platforms(c)}
	if enabled {
		p.Sources = append(p.Sources, views.Option{Value: posture.SourceDefender, Label: posture.SourceLabel(posture.SourceDefender)})
	}
	p.Sources = append(p.Sources, views.Option{Value: posture.SourceDeviceReport, Label: posture.SourceLabel(posture.SourceDeviceReport)})
	if f.Source == posture.SourceDefender && !enabled {
		if id == 0 {
			f.Source = ""
		} else {
			p.SourceDisabled = true
		}
	}
	p.Form = editorForm(f)
	p.Impact = s.impact(f)
	if id != 0 {
		if exc, err := s.store.Exceptions(c.Request().Context(), model.ExceptionFilter{CheckID: id}); err != nil {
			s.logger(c).Error("list exceptions of check", "check", id, "err", err)
		} else {
			names := map[int64]string{}
			for _, ch := range s.policy.Checks() {
				names[ch.ID] = ch.Name
			}
			p.Exceptions = s.exceptionRows(exc, names, s.now())
		}
	}
	return p
}

// platforms offers the common Defender platforms and any seen in the fleet.
func (s *Server) platforms(c echo.Context) []string {
	out := slices.Clone(posture.OSPlatforms)
	if facets, err := s.store.DeviceFilterValues(c.Request().Context()); err == nil {
		for _, p := range facets.Platforms {
			if p != "" && !slices.Contains(out, p) && len(out) < 30 {
				out = append(out, p)
			}
		}
	}
	return out
}

func editorForm(f checkForm) views.CheckEditorForm {
	sp := f.Spec
	return views.CheckEditorForm{Name: f.Name, Description: f.Description, Source: f.Source, Mode: f.Mode,
		WhenUnavailable: f.WhenUnavailable, Enabled: f.Enabled, HealthActive: sp.HealthActive, MaxRisk: sp.MaxRisk,
		MaxExposure: sp.MaxExposure, RequireOnboarded: sp.RequireOnboarded, AVStatuses: sp.AVStatuses,
		LastSeenHours: f.LastSeenHours, OSPlatforms: sp.OSPlatforms, MinBuild: f.MinBuild,
		RequiredTags: strings.Join(sp.RequiredTags, ", "), ForbiddenTags: strings.Join(sp.ForbiddenTags, ", "),
		RequireEntraJoined: sp.RequireEntraJoined, ReportOS: sp.ReportOS, ReportMinOSVersion: sp.ReportMinOSVersion,
		ReportFirewall: sp.ReportFirewall, ReportDiskEncrypted: sp.ReportDiskEncrypted,
		ReportMinClientVersion: sp.ReportMinClientVersion}
}

// impact previews a draft over the synced devices.
func (s *Server) impact(f checkForm) views.ImpactView {
	switch {
	case f.Source == posture.SourceDeviceReport:
		return views.ImpactView{Note: "Device report checks judge what the gateway sends with each request, so synced devices cannot preview them."}
	case f.Source != posture.SourceDefender:
		return views.ImpactView{Note: "Choose a data source and conditions to see how many devices would pass."}
	case len(f.Spec.Validate(f.Source)) > 0:
		return views.ImpactView{Note: "Complete the conditions to see how many devices would pass."}
	}
	imp := s.policy.Preview(posture.Check{Name: f.Name, Source: f.Source, Mode: f.Mode, WhenUnavailable: f.WhenUnavailable, Spec: f.Spec}, 5)
	v := views.ImpactView{Devices: imp.Devices, Pass: imp.Pass, Fail: imp.Fail, Unknown: imp.Unknown}
	if imp.Devices == 0 {
		v.Note = "No devices are synced yet, so there is nothing to preview."
	}
	for _, ex := range imp.Examples {
		v.Examples = append(v.Examples, views.ImpactExample{ID: ex.DeviceID, Host: ex.Host, Result: string(ex.Result), Reasons: ex.Reasons})
	}
	return v
}

// checkNew opens the editor for a new check; ?source= (the Data Source
// dropdown's htmx refresh) carries the rest of the form along.
func (s *Server) checkNew(c echo.Context) error {
	f := checkForm{Mode: posture.ModeEnforce, WhenUnavailable: posture.UnavailableDeny, Enabled: true, MinBuild: map[string]string{}}
	if c.QueryParam("source") != "" {
		f, _ = parseCheckForm(c.QueryParams())
	}
	return render(c, http.StatusOK, views.CheckEditor(s.editorPage(c, 0, f, nil)))
}

func checkID(c echo.Context) (int64, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, echo.NewHTTPError(http.StatusNotFound)
	}
	return id, nil
}

// formOf turns a stored check back into the editor's form.
func formOf(ch model.PostureCheck) (checkForm, error) {
	f := checkForm{Name: ch.Name, Description: ch.Description, Source: ch.DataSource, Mode: ch.Mode,
		WhenUnavailable: ch.WhenUnavailable, Enabled: ch.Enabled, MinBuild: map[string]string{}}
	if err := json.Unmarshal([]byte(ch.Spec), &f.Spec); err != nil {
		return f, err
	}
	if f.Spec.LastSeenHours > 0 {
		f.LastSeenHours = strconv.Itoa(f.Spec.LastSeenHours)
	}
	for k, v := range f.Spec.MinOSBuild {
		f.MinBuild[k] = strconv.FormatInt(v, 10)
	}
	return f, nil
}

// checkEdit opens the editor on a stored check.
func (s *Server) checkEdit(c echo.Context) error {
	id, err := checkID(c)
	if err != nil {
		return err
	}
	ch, err := s.store.PostureCheck(c.Request().Context(), id)
	if err != nil {
		return err
	}
	f, err := formOf(ch)
	if err != nil {
		return err
	}
	if c.QueryParam("source") != "" {
		f, _ = parseCheckForm(c.QueryParams())
	}
	return render(c, http.StatusOK, views.CheckEditor(s.editorPage(c, id, f, nil)))
}

// checkPreview recomputes the impact preview as the editor changes.
func (s *Server) checkPreview(c echo.Context) error {
	if err := c.Request().ParseForm(); err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, "The form could not be read.")
	}
	f, _ := parseCheckForm(c.Request().PostForm)
	if f.Source == posture.SourceDefender && !s.policy.DefenderEnabled() {
		return render(c, http.StatusOK, views.Impact(views.ImpactView{Note: "Microsoft Defender is disabled, so its conditions are unknown for every device."}))
	}
	return render(c, http.StatusOK, views.Impact(s.impact(f)))
}

// checkSave creates (no id) or updates a check.
func (s *Server) checkSave(c echo.Context) error {
	var id int64
	if c.Param("id") != "" {
		var err error
		if id, err = checkID(c); err != nil {
			return err
		}
	}
	if err := c.Request().ParseForm(); err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, "The form could not be read.")
	}
	f, errs := parseCheckForm(c.Request().PostForm)
	if f.Source == posture.SourceDefender && !s.policy.DefenderEnabled() {
		errs["source"] = "Microsoft Defender is disabled. Enable it in Settings → Integrations, or choose Device report."
	}
	if len(errs) > 0 {
		return render(c, http.StatusUnprocessableEntity, views.CheckEditor(s.editorPage(c, id, f, errs)))
	}
	_, err := s.checks.SaveCheck(c.Request().Context(), policy.CheckInput{ID: id, Name: f.Name, Description: f.Description,
		Source: f.Source, Mode: f.Mode, WhenUnavailable: f.WhenUnavailable, Enabled: f.Enabled, Spec: f.Spec})
	if apperr.Is(err, apperr.Conflict) {
		return render(c, http.StatusUnprocessableEntity, views.CheckEditor(s.editorPage(c, id, f, map[string]string{"name": "Another check already has this name."})))
	}
	if err != nil {
		return err
	}
	if err := flash(c, components.FlashSuccess, "Posture check “"+f.Name+"” is saved and in force."); err != nil {
		return err
	}
	return redirect(c, "/zero-trust/posture-checks")
}

// checkDeleteConfirm asks before deleting.
func (s *Server) checkDeleteConfirm(c echo.Context) error {
	id, err := checkID(c)
	if err != nil {
		return err
	}
	ch, err := s.store.PostureCheck(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, views.DeleteCheck(views.DeleteCheckPage{Chrome: s.chrome(c, "Delete posture check", "posture-checks"), ID: id, Name: ch.Name}))
}

// checkDelete removes a check.
func (s *Server) checkDelete(c echo.Context) error {
	id, err := checkID(c)
	if err != nil {
		return err
	}
	ch, err := s.checks.DeleteCheck(c.Request().Context(), id)
	if err != nil {
		return err
	}
	if err := flash(c, components.FlashSuccess, "Posture check “"+ch.Name+"” is deleted."); err != nil {
		return err
	}
	return redirect(c, "/zero-trust/posture-checks")
}
