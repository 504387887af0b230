package views

import (
	"time"

	"postern/views/components"
)

// Outage states: why the banner shows.
const (
	// OutageUnavailable: the data is stale past the outage grace; checks
	// treat it as unavailable and devices are denied because of it.
	OutageUnavailable = "unavailable"
	// OutageKept: the data is stale and kept during the outage grace.
	OutageKept = "kept"
	// OutageFailing: the data is still fresh but syncing fails.
	OutageFailing = "failing"
)

// Outage is the banner every signed-in page shows while the Defender data's
// trouble affects access (see web's outage for when).
type Outage struct {
	State     string
	LastSync  time.Time // the last successful sync; zero: none yet
	StaleAt   time.Time // when the data became (or becomes) stale
	KeptUntil time.Time // when the outage grace ends (or ended)
	Grace     time.Duration
	Error     string // the sync's error, when it fails
	// Devices: in OutageUnavailable, the devices denied because of it (the
	// last synced data would allow them); in OutageKept, those that will be
	// denied when the grace ends. Counted is false while they are
	// recalculated.
	Devices int
	Counted bool
}

// outageCardURL is the Microsoft Defender card the banner links to.
const outageCardURL = "/settings/integrations#defender-card"

func (o *Outage) title() string {
	switch o.State {
	case OutageUnavailable:
		return "Access is affected: Microsoft Defender data is unavailable"
	case OutageKept:
		return "Microsoft Defender data is stale: the last synced data is kept during the outage"
	}
	return "Microsoft Defender sync is failing"
}

func (o *Outage) since() string {
	if o.LastSync.IsZero() {
		return "No successful sync yet."
	}
	return "No successful sync since " + components.DateTime(o.LastSync) + "."
}

// detail says what it does to access, in numbers.
func (o *Outage) detail() string {
	switch o.State {
	case OutageUnavailable:
		s := "The data went stale at " + components.DateTime(o.StaleAt)
		if o.Grace > 0 {
			s += " and the outage grace ended at " + components.DateTime(o.KeptUntil)
		}
		if !o.Counted {
			return s + ". Counting the devices denied because of it…"
		}
		return s + ": " + devicesWord(o.Devices) + " " + isAre(o.Devices) + " denied because of it."
	case OutageKept:
		s := "Posture checks keep deciding on it until " + components.DateTime(o.KeptUntil) + " (outage grace)"
		if !o.Counted {
			return s + "; counting the devices that will then be denied…"
		}
		return s + "; then " + devicesWord(o.Devices) + " will be denied."
	}
	if o.LastSync.IsZero() {
		return "No device has Defender data yet."
	}
	s := "Posture checks still use the data synced at " + components.DateTime(o.LastSync) + "; it goes stale at " + components.DateTime(o.StaleAt)
	if o.Grace > 0 {
		s += " and is kept until " + components.DateTime(o.KeptUntil)
	}
	return s + ". No device is denied because of it yet."
}

func isAre(n int) string {
	if n == 1 {
		return "is"
	}
	return "are"
}
