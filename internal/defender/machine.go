package defender

import (
	"bytes"
	"encoding/json"
	"strings"
	"time"
)

// Machine is one Defender for Endpoint device as the machines API returns
// it (docs/defender-api.md#the-machine-entity). Nullable fields are pointers; unknown fields are
// ignored, since Microsoft adds properties without notice.
type Machine struct {
	ID                     string      `json:"id"`
	MergedIntoMachineID    *string     `json:"mergedIntoMachineId"`
	IsPotentialDuplication bool        `json:"isPotentialDuplication"`
	IsExcluded             bool        `json:"isExcluded"`
	ExclusionReason        *string     `json:"exclusionReason"`
	ComputerDNSName        string      `json:"computerDnsName"`
	FirstSeen              *Time       `json:"firstSeen"`
	LastSeen               *Time       `json:"lastSeen"`
	OSPlatform             string      `json:"osPlatform"`
	OSVersion              *string     `json:"osVersion"`
	OSProcessor            *string     `json:"osProcessor"`
	Version                *string     `json:"version"`
	LastIPAddress          *string     `json:"lastIpAddress"`
	LastExternalIPAddress  *string     `json:"lastExternalIpAddress"`
	AgentVersion           *string     `json:"agentVersion"`
	OSBuild                *Int64      `json:"osBuild"`
	HealthStatus           string      `json:"healthStatus"`
	DeviceValue            *string     `json:"deviceValue"`
	RBACGroupID            *Int64      `json:"rbacGroupId"`
	RBACGroupName          *string     `json:"rbacGroupName"`
	RiskScore              *string     `json:"riskScore"`
	ExposureLevel          *string     `json:"exposureLevel"`
	IsAADJoined            bool        `json:"isAadJoined"`
	AADDeviceID            *string     `json:"aadDeviceId"`
	MachineTags            []string    `json:"machineTags"`
	DefenderAVStatus       *string     `json:"defenderAvStatus"`
	OnboardingStatus       string      `json:"onboardingStatus"`
	OSArchitecture         *string     `json:"osArchitecture"`
	ManagedBy              *string     `json:"managedBy"`
	ManagedByStatus        *string     `json:"managedByStatus"`
	IPAddresses            []IPAddress `json:"ipAddresses"`
	VMMetadata             *VMMetadata `json:"vmMetadata"`
}

// IPAddress is one network interface address of a machine.
type IPAddress struct {
	IPAddress         string  `json:"ipAddress"`
	MACAddress        *string `json:"macAddress"`
	Type              *string `json:"type"`
	OperationalStatus *string `json:"operationalStatus"`
}

// VMMetadata describes a machine that is a cloud VM.
type VMMetadata struct {
	VMID           *string `json:"vmId"`
	CloudProvider  *string `json:"cloudProvider"`
	ResourceID     *string `json:"resourceId"`
	SubscriptionID *string `json:"subscriptionId"`
}

// Time is a Defender timestamp: UTC with 0–7 fractional digits. Year 1 and
// earlier (seen as 0001-01-01) means unknown and decodes as the zero time.
type Time struct{ time.Time }

// UnmarshalJSON accepts RFC 3339 with any fraction, and null.
func (t *Time) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	var s string
	if n := len(b); n >= 2 && b[0] == '"' && b[n-1] == '"' && !bytes.ContainsAny(b[1:n-1], "\\\"") {
		// The usual plain string with a zone: parsed from the bytes, no copy.
		var p time.Time
		if n > 2 && p.UnmarshalText(b[1:n-1]) == nil {
			t.set(p)
			return nil
		}
		s = string(b[1 : n-1])
	} else if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	if s == "" {
		return nil
	}
	p, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		// Some answers omit the zone; Defender times are UTC.
		if p, err = time.Parse("2006-01-02T15:04:05.9999999", s); err != nil {
			return err
		}
	}
	t.set(p)
	return nil
}

// set keeps p in UTC, or zero for year 1 and earlier.
func (t *Time) set(p time.Time) {
	if p.Year() <= 1 {
		p = time.Time{}
	}
	t.Time = p.UTC()
}

// MarshalJSON writes RFC 3339 with the fraction kept.
func (t Time) MarshalJSON() ([]byte, error) {
	if t.IsZero() {
		return []byte("null"), nil
	}
	return t.appendJSON(make([]byte, 0, len(time.RFC3339Nano)+2)), nil
}

// appendJSON appends what MarshalJSON returns. RFC 3339 holds nothing
// JSON escapes: quoting it is encoding it.
func (t Time) appendJSON(b []byte) []byte {
	if t.IsZero() {
		return append(b, "null"...)
	}
	b = append(b, '"')
	b = t.UTC().AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

// Valid reports whether the machine has what Postern needs to track it.
func (m Machine) Valid() bool {
	return len(m.ID) >= 8 && len(m.ID) <= 128 && !strings.ContainsAny(m.ID, "/?#% ")
}
