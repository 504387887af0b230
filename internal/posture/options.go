package posture

import (
	"slices"

	"postern/internal/defender/vocab"
)

// Values the check editor offers, in Defender's documented spelling and
// order (best to worst for the ordered scales).
var (
	RiskLevels     = slices.Clone(riskLevels)
	ExposureLevels = slices.Clone(exposureLevels)
	AVStatuses     = slices.Clone(avStatuses)
	ReportOSes     = slices.Clone(reportOSes)
	// OSPlatforms are the platforms Defender reports most; the editor also
	// offers any platform seen in the synced devices.
	OSPlatforms = slices.Clone(vocab.CommonPlatforms)
)
