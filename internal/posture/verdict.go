package posture

import (
	"strings"
)

// Verdict is one check's verdict on one device, kept in its parts for the
// impact preview: what the conditions said, and what counts for access
// once When data is unavailable and the device's exceptions apply.
type Verdict struct {
	// Raw is the conditions' verdict: Unknown stays Unknown.
	Raw Result
	// Result is the check's verdict as the enforcement API counts it.
	Result Result
	// Excepted: an exception turned a fail or unknown into Result's pass.
	Excepted bool
}

// Judge evaluates check c on one device, whether c is enabled or not, as
// Results would, and keeps the raw verdict. It keeps no reasons.
func Judge(c *Check, exceptions []Exception, in Input, matched Match) Verdict {
	in.terseFor(matched)
	raw, _ := c.conditionsResult(&in, nil)
	v := Verdict{Raw: raw, Result: raw}
	if raw == Unknown && c.WhenUnavailable == UnavailableAllow {
		v.Result = Pass
	}
	if v.Result != Pass {
		var exBuf [4]*Exception
		if pickException(deviceExceptions(exBuf[:0], exceptions, &in), c.ID) != nil {
			v.Result, v.Excepted = Pass, true
		}
	}
	return v
}

// Denies reports whether c's verdict v denies access: only an Enforce
// check denies, and only when it does not pass.
func (c *Check) Denies(v Verdict) bool { return c.mode() == ModeEnforce && v.Result != Pass }

// PerRequest reports whether c is decided only per request, from what the
// gateway sends (a Device report check): synced devices carry no report,
// so counts over them leave such checks out.
func (c *Check) PerRequest() bool { return c.Source == SourceDeviceReport }

// ReportsOSBuild reports whether Defender gives an OS build number for
// platform: it does for Windows only (osBuild is null elsewhere), so a
// minimum OS build is offered for Windows platforms alone.
func ReportsOSBuild(platform string) bool {
	return len(platform) >= 7 && strings.EqualFold(platform[:7], "Windows")
}
