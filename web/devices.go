package web

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"postern/internal/apperr"
	"postern/internal/defender"
	"postern/internal/defender/vocab"
	"postern/internal/model"
	"postern/internal/syncer"
	"postern/views"
	"postern/views/components"
)

const (
	maxSearchLen = 200
	// maxFacetTags mirrors Store.Facets' limit: past it the Tag select is
	// incomplete, so a tag from a link is accepted without being listed.
	maxFacetTags = 500
)

// Defender's documented values (vocab, docs/defender-api.md#the-machine-entity),
// in the order the filters offer them: the scales worst first. Anything
// else in a query is ignored.
var (
	healthValues     = vocab.Health.Names()
	riskValues       = worstFirst(vocab.Risk)
	exposureValues   = worstFirst(vocab.Exposure)
	onboardingValues = vocab.Onboarding.Names()
	deviceSortKeys   = []string{"host", "health", "risk", "exposure", "platform", "last_seen"}
)

// worstFirst is an ordered enum's names from worst to best.
func worstFirst(e *vocab.Enum) []string {
	names := e.Names()
	slices.Reverse(names)
	return names
}

// deviceQuery reads the list's query string, keeping only values the
// filters offer; the rest is dropped, never passed on.
func deviceQuery(c echo.Context, facets model.DeviceFacets) views.DeviceQuery {
	oneOf := func(name string, allowed []string) string {
		if v := c.QueryParam(name); slices.Contains(allowed, v) {
			return v
		}
		return ""
	}
	q := views.DeviceQuery{
		Search:     searchTerm(c.QueryParam("q")),
		Health:     oneOf("health", healthValues),
		Risk:       oneOf("risk", slices.Concat(riskValues, []string{views.RiskUnscored})),
		Exposure:   oneOf("exposure", exposureValues),
		Onboarding: oneOf("onboarding", onboardingValues),
		Platform:   oneOf("platform", facets.Platforms),
		Tag:        oneOf("tag", facets.Tags),
		Show:       oneOf("show", []string{"removed", "all"}),
		Kind:       oneOf("kind", []string{views.KindDiscovered, views.KindAll}),
		Verdict:    oneOf("verdict", []string{views.VerdictAllowed, views.VerdictDenied, views.VerdictUnknown}),
		Sort:       oneOf("sort", deviceSortKeys),
	}
	if tag := c.QueryParam("tag"); q.Tag == "" && len(facets.Tags) >= maxFacetTags && tag != "" && len(tag) <= 256 {
		q.Tag = tag
	}
	if q.Sort == "host" {
		q.Sort = ""
	}
	if q.Verdict != "" && q.Kind == "" {
		// Verdicts, like the dashboard's compliance figures, cover every
		// synced device: the Verdict filter lists both kinds unless asked.
		q.Kind = views.KindAll
	}
	q.Desc = views.DefaultSortDesc(q.Sort)
	switch c.QueryParam("dir") {
	case "asc":
		q.Desc = false
	case "desc":
		q.Desc = true
	}
	q.Page = components.ParsePage(c.QueryParam("page"))
	if n, err := strconv.Atoi(c.QueryParam("per_page")); err == nil && slices.Contains(views.PageSizes, n) {
		q.PerPage = n
	}
	return q
}

// searchTerm trims the search box and caps its length.
func searchTerm(s string) string {
	s = strings.TrimSpace(s)
	if !utf8.ValidString(s) {
		return ""
	}
	if utf8.RuneCountInString(s) > maxSearchLen {
		s = string([]rune(s)[:maxSearchLen])
	}
	return s
}

func deviceFilter(q views.DeviceQuery) model.DeviceFilter {
	f := model.DeviceFilter{Search: q.Search, Health: q.Health, Risk: q.Risk, Exposure: q.Exposure,
		Onboarding: q.Onboarding, Platform: q.Platform, Tag: q.Tag, Sort: q.Sort, Desc: q.Desc,
		Limit: q.Size(), Offset: components.Pager{Page: q.Page, PerPage: q.Size()}.Offset()}
	if q.Risk == views.RiskUnscored {
		f.Risk = "none"
	}
	switch {
	case q.Onboarding != "" || q.Kind == views.KindAll:
	case q.Kind == views.KindDiscovered:
		f.Kind = model.DeviceKindDiscovered
	default:
		f.Kind = model.DeviceKindProtected
	}
	switch q.Show {
	case "removed":
		f.Removed = "only"
	case "all":
		f.Removed = "all"
	}
	return f
}

// deviceURL is a device's detail page; ids come from Defender, so they are
// escaped rather than trusted to be hex.
func deviceURL(id string) string { return "/devices/" + url.PathEscape(id) }

// devices is the synced inventory: filters, sorting and paging run in SQL.
func (s *Server) devices(c echo.Context) error {
	ctx := c.Request().Context()
	facets, err := s.store.DeviceFilterValues(ctx)
	if err != nil {
		return err
	}
	q := deviceQuery(c, facets)
	f := deviceFilter(q)
	dv := s.policy.DeviceVerdicts()
	var list []model.Device
	total := 0
	if q.Verdict == "" || dv.Current {
		f.Within = verdictSet(dv, q.Verdict)
		if list, total, err = s.store.DevicePage(ctx, f); err != nil {
			return err
		}
	}
	pg := components.Pager{Page: q.Page, PerPage: q.Size(), Total: total}
	if len(list) == 0 && total > 0 { // past the last page: show the last one
		pg = pg.Clamp()
		q.Page, f.Offset = pg.Page, pg.Offset()
		if list, pg.Total, err = s.store.DevicePage(ctx, f); err != nil {
			return err
		}
	}
	p := views.DevicesPage{
		Chrome: s.chrome(c, "Devices", "devices"), Query: q, Pager: pg,
		Choices: views.DeviceFilterChoices{Health: healthValues, Risk: riskValues, Exposure: exposureValues,
			Onboarding: onboardingValues, Platforms: facets.Platforms, Tags: facets.Tags},
		// Every device has a platform, so no platform means no device at all.
		Empty: len(facets.Platforms) == 0, Recalculating: !dv.Current,
	}
	snap := s.fleet.Load()
	p.Protected, p.Discovered = snap.Active-snap.Discovered, snap.Discovered
	if p.Empty {
		if p.Connected, err = s.defenderConnected(c); err != nil {
			return err
		}
	}
	if st := s.syncer.Status(); st.LastSuccess != nil {
		p.LastSync = st.LastSuccess.FinishedAt
	}
	d, err := s.integration.Defender(ctx)
	if err != nil {
		return err
	}
	p.Disabled = d.Configured && !d.Enabled
	p.Rows = make([]views.DeviceRow, len(list))
	for i, d := range list {
		p.Rows[i] = deviceRow(d)
		p.Rows[i].Verdict = verdictOf(dv, d.ID)
	}
	return render(c, http.StatusOK, views.Devices(p))
}

func (s *Server) defenderConnected(c echo.Context) (bool, error) {
	d, err := s.integration.Defender(c.Request().Context())
	return d.Configured && d.Enabled, err
}

func deviceRow(d model.Device) views.DeviceRow {
	return views.DeviceRow{
		ID: d.ID, Href: deviceURL(d.ID), Host: d.Host, Health: d.HealthStatus, Risk: deref(d.RiskScore),
		Exposure: deref(d.ExposureLevel), Onboarding: d.OnboardingStatus, AV: deref(d.AVStatus),
		Platform: d.OSPlatform, OSVersion: osVersion(d.OSVersion, d.OSBuild), LastSeen: d.LastSeen,
		Tags: d.Tags, Removed: d.RemovedAt != nil,
	}
}

func osVersion(version *string, build *int64) string {
	var parts []string
	if v := deref(version); v != "" {
		parts = append(parts, v)
	}
	if build != nil {
		parts = append(parts, "build "+strconv.FormatInt(*build, 10))
	}
	return strings.Join(parts, " · ")
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// deviceParam is the :id of the path, unescaped; ok is false for an id
// that cannot be one.
func deviceParam(c echo.Context) (string, bool) {
	id, err := url.PathUnescape(c.Param("id"))
	if err != nil || id == "" || len(id) > 256 {
		return "", false
	}
	return id, true
}

// deviceDetail shows one device with every field Defender sent.
func (s *Server) deviceDetail(c echo.Context) error {
	id, ok := deviceParam(c)
	if !ok {
		return echo.NewHTTPError(http.StatusNotFound)
	}
	return s.renderDevice(c, id, http.StatusOK, nil, nil)
}

// renderDevice renders a device's page with status. form and errs carry a
// failed Add exception back into its form (nil when there is none).
func (s *Server) renderDevice(c echo.Context, id string, status int, form *views.DevicePostureView, errs map[string]string) error {
	d, err := s.store.Device(c.Request().Context(), id)
	if err != nil {
		return err
	}
	var m defender.Machine
	if err := json.Unmarshal(d.Raw, &m); err != nil {
		// The columns still show; only the extra fields are missing.
		s.logger(c).Error("decode stored machine", "device", id, "err", err)
	}
	title := d.Host
	if title == "" {
		title = d.ID
	}
	p := deviceDetailPage(d, m)
	p.Chrome = s.chrome(c, title, "devices")
	def, err := s.integration.Defender(c.Request().Context())
	if err != nil {
		return err
	}
	switch {
	case def.Configured && !def.Enabled:
		p.DefenderDisabled = true
		p.RecheckHint = "Microsoft Defender is disabled: this is the data of the last sync before Disable, kept read-only. Enable it in Settings → Integrations to re-check devices."
	case !def.Configured:
		p.RecheckHint = "Microsoft Defender is not connected. Connect it in Settings → Integrations to re-check devices."
	}
	if p.AVHealth, err = s.deviceAVView(c.Request().Context(), d.ID); err != nil {
		return err
	}
	posture, err := s.devicePosture(c, d.ID)
	if err != nil {
		return err
	}
	if form != nil {
		posture.FormCheck, posture.FormReason, posture.FormExpires = form.FormCheck, form.FormReason, form.FormExpires
	}
	posture.FormErrors = errs
	p.Posture = &posture
	if err := s.deviceDecisions(c.Request().Context(), &p); err != nil {
		return err
	}
	return render(c, status, views.DeviceDetail(p))
}

func deviceDetailPage(d model.Device, m defender.Machine) views.DeviceDetailPage {
	p := views.DeviceDetailPage{
		ID: d.ID, Host: d.Host, RecheckURL: deviceURL(d.ID) + "/recheck",
		Health: d.HealthStatus, Risk: deref(d.RiskScore), Exposure: deref(d.ExposureLevel),
		Onboarding: d.OnboardingStatus, AV: deref(d.AVStatus), EntraJoined: d.IsAADJoined,
		EntraDeviceID: deref(d.AADDeviceID), DeviceValue: deref(m.DeviceValue), Excluded: m.IsExcluded,
		ExclusionReason: deref(m.ExclusionReason),
		OSPlatform:      d.OSPlatform, OSVersion: deref(d.OSVersion), Release: deref(m.Version),
		Architecture: deref(m.OSArchitecture), Processor: deref(m.OSProcessor), AgentVersion: deref(m.AgentVersion),
		ManagedBy: deref(m.ManagedBy), ManagedByStatus: deref(m.ManagedByStatus), RBACGroupName: deref(m.RBACGroupName),
		LastIP: deref(d.LastIP), ExternalIP: deref(m.LastExternalIPAddress), Tags: d.Tags,
		MergedInto: deref(d.MergedInto), PotentialDuplicate: d.PotentialDuplicate,
		FirstSeen: d.FirstSeen, LastSeen: d.LastSeen,
		FirstSynced: d.FirstSyncedAt, Changed: d.ChangedAt, ChangedRunID: d.ChangedRunID,
		MissedRuns: d.MissedRuns, RemovedAt: d.RemovedAt,
	}
	if d.OSBuild != nil {
		p.OSBuild = strconv.FormatInt(*d.OSBuild, 10)
	}
	if m.RBACGroupID != nil && (*m.RBACGroupID != 0 || m.RBACGroupName != nil) {
		p.RBACGroupID = strconv.FormatInt(int64(*m.RBACGroupID), 10)
	}
	if p.MergedInto != "" {
		p.MergedIntoHref = deviceURL(p.MergedInto)
	}
	for _, ip := range m.IPAddresses {
		p.IPs = append(p.IPs, views.DeviceIP{Address: ip.IPAddress, MAC: macAddress(deref(ip.MACAddress)),
			Type: deref(ip.Type), Status: deref(ip.OperationalStatus)})
	}
	if vm := m.VMMetadata; vm != nil {
		p.VM = &views.DeviceVM{VMID: deref(vm.VMID), CloudProvider: deref(vm.CloudProvider),
			ResourceID: deref(vm.ResourceID), SubscriptionID: deref(vm.SubscriptionID)}
	}
	return p
}

// macAddress writes Defender's 12 bare hex digits in the usual pairs.
func macAddress(s string) string {
	if len(s) != 12 {
		return s
	}
	for _, r := range s {
		if !strings.ContainsRune("0123456789abcdefABCDEF", r) {
			return s
		}
	}
	pairs := make([]string, 6)
	for i := range pairs {
		pairs[i] = strings.ToUpper(s[2*i : 2*i+2])
	}
	return strings.Join(pairs, "-")
}

// deviceRecheck fetches one machine from Defender now (Re-check now) and
// comes back to the device with a flash saying what happened.
func (s *Server) deviceRecheck(c echo.Context) error {
	id, ok := deviceParam(c)
	if !ok {
		return echo.NewHTTPError(http.StatusNotFound)
	}
	changed, err := s.syncer.Recheck(c.Request().Context(), id)
	if apperr.Is(err, apperr.NotFound) || apperr.Is(err, apperr.Forbidden) {
		return err
	}
	kind, text := recheckOutcome(changed, err)
	if err != nil {
		if kind == components.FlashError && defender.ReasonOf(err) == "" && !errors.Is(err, syncer.ErrNotConnected) {
			s.logger(c).Error("re-check device", "device", id, "err", err)
		} else {
			s.logger(c).Info("re-check device refused", "device", id, "reason", defender.ReasonOf(err))
		}
	}
	if err := flash(c, kind, text); err != nil {
		return err
	}
	return redirect(c, deviceURL(id))
}

// recheckOutcome picks the flash for a re-check's result.
func recheckOutcome(changed bool, err error) (kind, text string) {
	switch {
	case err == nil && changed:
		return components.FlashSuccess, "Device re-checked: updated from Defender."
	case err == nil:
		return components.FlashSuccess, "Device re-checked: no change."
	case errors.Is(err, syncer.ErrNotConnected):
		return components.FlashWarning, syncer.RecheckFailure(err)
	default:
		return components.FlashError, syncer.RecheckFailure(err)
	}
}
