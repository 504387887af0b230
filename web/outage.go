package web

import (
	"postern/internal/integration"
	"postern/internal/model"
	"postern/internal/policy"
	"postern/internal/posture"
	"postern/internal/syncer"
	"postern/views"
)

// outage is the banner every signed-in page shows while the Defender
// data's trouble affects access, or nil. Affected means all of:
//   - the integration is enabled (Disable is a choice the admin confirmed,
//     and the card says so);
//   - an enabled Enforce check uses Microsoft Defender (otherwise no
//     access decision depends on the data; the card still shows the
//     trouble);
//   - and the data is stale (kept during the outage grace, or unavailable
//     after it), or the integration is in error: the last sync failed or
//     syncing is paused by a 403.
//
// It reads memory only (engine, worker): no query per page.
func (s *Server) outage() *views.Outage {
	if !s.policy.DefenderEnabled() || !enforcesDefender(s.policy.Checks()) {
		return nil
	}
	f := s.policy.Freshness()
	st := s.syncer.Status()
	failing := st.Blocked || st.LastRun != nil && st.LastRun.Outcome == model.RunFailed
	o := &views.Outage{LastSync: f.SyncedAt, StaleAt: f.StaleAt, KeptUntil: f.KeptUntil, Grace: f.Grace}
	switch {
	case f.Phase == policy.Unavailable && !f.SyncedAt.IsZero():
		o.State = views.OutageUnavailable
	case f.Phase == policy.Kept:
		o.State = views.OutageKept
	case failing:
		o.State = views.OutageFailing
	default:
		return nil
	}
	if failing {
		o.Error = runError(st)
	}
	t := s.policy.Tally()
	// The count is that of the phase shown: a pass still counting the
	// previous phase says nothing about this one.
	o.Counted = t.Current && t.Freshness.Phase == f.Phase
	o.Devices = t.Outage
	return o
}

// runError is the reason syncing fails, in the worker's words.
func runError(st syncer.Status) string {
	if st.LastRun != nil && st.LastRun.Outcome == model.RunFailed && st.LastRun.Error != "" {
		return st.LastRun.Error
	}
	if st.Blocked {
		return "Defender refused access (403): syncing is paused until the credentials change."
	}
	return ""
}

// enforcesDefender reports whether an enabled Enforce check reads Defender.
func enforcesDefender(checks []posture.Check) bool {
	for _, c := range checks {
		if c.Enabled && c.Source == posture.SourceDefender && c.Mode != posture.ModeMonitor {
			return true
		}
	}
	return false
}

// graceCardText is the card's "Outage grace" line.
func graceCardText(hours int) string {
	if hours == 0 {
		return "None: stale data is treated as unavailable at once"
	}
	return "Keeps using the last synced data for " + integration.GraceText(hours) + " after it goes stale"
}
