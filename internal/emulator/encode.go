package emulator

import (
	"strconv"
	"time"

	"postern/internal/jsonenc"
)

// appendMachine appends m as JSON. It produces the same bytes as
// encoding/json.Marshal (HTML-safe escaping included; a test pins this) at a
// fraction of the cost, because benchmarks stream 100k machines per sync.
// Times are written in UTC, so a non-UTC time may differ from encoding/json.
func appendMachine(b []byte, m *Machine) []byte {
	b = append(b, '{')
	return appendMachineFields(b, m, encoding{})
}

// encoding is how the faults change a machine's JSON.
type encoding struct {
	stringRBACGroup bool // rbacGroupId as a string, as the documentation types it
	unreadable      bool // an osBuild that is not a number
	realistic       bool // the extra adapters real devices report
}

// appendMachineFields appends the members of m and the closing brace, so a
// single-entity response can put "@odata.context" first.
func appendMachineFields(b []byte, m *Machine, enc encoding) []byte {
	b = appendMachineHost(b, m, enc)
	b = appendMachineState(b, m, enc)
	b = appendMachineNetwork(b, m, enc)
	return append(b, '}')
}

// appendMachineHost appends the members from "id" to "osBuild": what the
// machine is and where it runs.
func appendMachineHost(b []byte, m *Machine, enc encoding) []byte {
	b = append(b, `"id":`...)
	b = jsonenc.AppendString(b, m.ID)
	b = append(b, `,"mergedIntoMachineId":`...)
	b = appendNullString(b, m.MergedIntoMachineID)
	b = append(b, `,"isPotentialDuplication":`...)
	b = strconv.AppendBool(b, m.IsPotentialDuplication)
	b = append(b, `,"isExcluded":`...)
	b = strconv.AppendBool(b, m.IsExcluded)
	b = append(b, `,"exclusionReason":`...)
	b = appendNullString(b, m.ExclusionReason)
	b = append(b, `,"computerDnsName":`...)
	b = jsonenc.AppendString(b, m.ComputerDNSName)
	b = append(b, `,"firstSeen":`...)
	b = appendTime(b, m.FirstSeen)
	b = append(b, `,"lastSeen":`...)
	b = appendTime(b, m.LastSeen)
	b = append(b, `,"osPlatform":`...)
	b = jsonenc.AppendString(b, m.OSPlatform)
	b = append(b, `,"osVersion":`...)
	b = appendNullString(b, m.OSVersion)
	b = append(b, `,"osProcessor":`...)
	b = jsonenc.AppendString(b, m.OSProcessor)
	b = append(b, `,"version":`...)
	b = appendNullString(b, m.Version)
	b = append(b, `,"lastIpAddress":`...)
	b = appendNullString(b, m.LastIPAddress)
	b = append(b, `,"lastExternalIpAddress":`...)
	b = appendNullString(b, m.LastExternalIPAddress)
	b = append(b, `,"agentVersion":`...)
	b = appendNullString(b, m.AgentVersion)
	b = append(b, `,"osBuild":`...)
	if enc.unreadable {
		b = append(b, `"n/a"`...)
	} else if m.OSBuild == nil {
		b = append(b, "null"...)
	} else {
		b = strconv.AppendInt(b, *m.OSBuild, 10)
	}
	return b
}

// appendMachineState appends the members from "healthStatus" to
// "managedByStatus": health, risk, tags and management.
func appendMachineState(b []byte, m *Machine, enc encoding) []byte {
	b = append(b, `,"healthStatus":`...)
	b = jsonenc.AppendString(b, m.HealthStatus)
	b = append(b, `,"deviceValue":`...)
	b = appendNullString(b, m.DeviceValue)
	b = append(b, `,"rbacGroupId":`...)
	if enc.stringRBACGroup {
		b = append(b, '"')
		b = strconv.AppendInt(b, m.RBACGroupID, 10)
		b = append(b, '"')
	} else {
		b = strconv.AppendInt(b, m.RBACGroupID, 10)
	}
	b = append(b, `,"rbacGroupName":`...)
	b = appendNullString(b, m.RBACGroupName)
	b = append(b, `,"riskScore":`...)
	b = appendNullString(b, m.RiskScore)
	b = append(b, `,"exposureLevel":`...)
	b = appendNullString(b, m.ExposureLevel)
	b = append(b, `,"isAadJoined":`...)
	b = strconv.AppendBool(b, m.IsAADJoined)
	b = append(b, `,"aadDeviceId":`...)
	b = appendNullString(b, m.AADDeviceID)
	b = append(b, `,"machineTags":[`...)
	for i, t := range m.MachineTags {
		if i > 0 {
			b = append(b, ',')
		}
		b = jsonenc.AppendString(b, t)
	}
	b = append(b, `],"defenderAvStatus":`...)
	b = appendNullString(b, m.DefenderAVStatus)
	b = append(b, `,"onboardingStatus":`...)
	b = jsonenc.AppendString(b, m.OnboardingStatus)
	b = append(b, `,"osArchitecture":`...)
	b = appendNullString(b, m.OSArchitecture)
	b = append(b, `,"managedBy":`...)
	b = appendNullString(b, m.ManagedBy)
	b = append(b, `,"managedByStatus":`...)
	b = appendNullString(b, m.ManagedByStatus)
	return b
}

// appendMachineNetwork appends "ipAddresses" and "vmMetadata".
func appendMachineNetwork(b []byte, m *Machine, enc encoding) []byte {
	b = append(b, `,"ipAddresses":[`...)
	for i := range m.IPAddresses {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendIPAddress(b, &m.IPAddresses[i])
	}
	if enc.realistic {
		b = appendExtraAdapters(b, m, len(m.IPAddresses) > 0)
	}
	b = append(b, `],"vmMetadata":`...)
	b = appendVMMetadata(b, m.VMMetadata)
	return b
}

func appendIPAddress(b []byte, ip *IPAddress) []byte {
	b = append(b, `{"ipAddress":`...)
	b = jsonenc.AppendString(b, ip.IPAddress)
	b = append(b, `,"macAddress":`...)
	b = appendNullString(b, ip.MACAddress)
	b = append(b, `,"type":`...)
	b = jsonenc.AppendString(b, ip.Type)
	b = append(b, `,"operationalStatus":`...)
	b = jsonenc.AppendString(b, ip.OperationalStatus)
	return append(b, '}')
}

func appendVMMetadata(b []byte, vm *VMMetadata) []byte {
	if vm == nil {
		return append(b, "null"...)
	}
	b = append(b, `{"vmId":`...)
	b = jsonenc.AppendString(b, vm.VMID)
	b = append(b, `,"cloudProvider":`...)
	b = jsonenc.AppendString(b, vm.CloudProvider)
	b = append(b, `,"resourceId":`...)
	b = jsonenc.AppendString(b, vm.ResourceID)
	b = append(b, `,"subscriptionId":`...)
	b = jsonenc.AppendString(b, vm.SubscriptionID)
	return append(b, '}')
}

func appendTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.UTC().AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

func appendNullString(b []byte, s *string) []byte {
	if s == nil {
		return append(b, "null"...)
	}
	return jsonenc.AppendString(b, *s)
}
