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
			Mode: ch.Mode, Enabled: ch.Enabled, Pass: n.Pass, Fail: n.Fail, Unknown: n.Unknown, Counted: t.Current,
			PerRequest: ch.DataSource == posture.SourceDeviceReport})
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
	p.Impact, p.PreviewURL = s.impact(id, f), previewURL(id)
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
		ReportMinClientVersion: sp.ReportMinClientVersion, Signals: editorSignals(f)}
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
	f.Signals = signalsOf(f.Spec)
	return f, nil
}

// storedCheck reads the check the URL names.
func (s *Server) storedCheck(c echo.Context) (int64, model.PostureCheck, error) {
	id, err := checkID(c)
	if err != nil {
		return 0, model.PostureCheck{}, err
	}
	ch, err := s.store.PostureCheck(c.Request().Context(), id)
	return id, ch, err
}

// checkEdit opens the editor on a stored check.
func (s *Server) checkEdit(c echo.Context) error {
	id, ch, err := s.storedCheck(c)
	if err != nil {
		return err
	}
	f, err := formOf(ch)
	if err != nil {
		return err
	}
	if c.QueryParam("source") != "" {
		var errs map[string]string
		f, errs = parseCheckForm(c.QueryParams())
		if _, err := s.keepStoredConditions(c.Request().Context(), id, &f, errs); err != nil {
			return err
		}
	}
	return render(c, http.StatusOK, views.CheckEditor(s.editorPage(c, id, f, nil)))
}

// checkPreview recomputes the impact preview as the editor changes; ?id=
// is the check being edited.
func (s *Server) checkPreview(c echo.Context) error {
	if err := c.Request().ParseForm(); err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, "The form could not be read.")
	}
	id := queryID(c)
	f, errs := parseCheckForm(c.Request().PostForm)
	if _, err := s.keepStoredConditions(c.Request().Context(), id, &f, errs); err != nil {
		return err
	}
	return render(c, http.StatusOK, views.Impact(s.impact(id, f)))
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
	f, problems := parseCheckForm(c.Request().PostForm)
	if c.Request().PostForm.Get("show") == "conditions" {
		// Show conditions (the editor without JavaScript): the form again,
		// with the chosen source's conditions; nothing is saved.
		return render(c, http.StatusOK, views.CheckEditor(s.editorPage(c, id, f, nil)))
	}
	refused, err := s.keepStoredConditions(c.Request().Context(), id, &f, problems)
	if err != nil {
		return err
	}
	if len(problems) == 0 && !refused {
		if ask, ok := s.confirmCut(id, f, c.Request().PostForm); ok {
			p := s.editorPage(c, id, f, nil)
			p.Confirm = &ask
			return render(c, http.StatusOK, views.CheckEditor(p))
		}
	}
	_, err = s.checks.SaveCheck(c.Request().Context(), policy.CheckInput{ID: id, Name: f.Name, Description: f.Description,
		Source: f.Source, Mode: f.Mode, WhenUnavailable: f.WhenUnavailable, Enabled: f.Enabled, Spec: f.Spec, Problems: problems})
	if fields := apperr.FieldsOf(err); fields != nil {
		return render(c, http.StatusUnprocessableEntity, views.CheckEditor(s.editorPage(c, id, f, fields)))
	}
	if err != nil {
		return err
	}
	if err := flash(c, components.FlashSuccess, savedMessage(f.Name, f.Mode, f.Enabled)); err != nil {
		return err
	}
	return redirect(c, "/zero-trust/posture-checks")
}

// checkDeleteConfirm asks before deleting.
func (s *Server) checkDeleteConfirm(c echo.Context) error {
	id, ch, err := s.storedCheck(c)
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

// savedMessage confirms a save in the terms of what the check now does.
func savedMessage(name, mode string, enabled bool) string {
	switch {
	case !enabled:
		return "Posture check “" + name + "” is saved. It is turned off: it decides nothing until it is enabled."
	case mode == posture.ModeMonitor:
		return "Posture check “" + name + "” is saved, in Monitor only: its failures are reported, nobody is denied by it."
	}
	return "Posture check “" + name + "” is saved and in force."
}
