package emulator

import (
	"slices"
	"time"
)

// Machine is one Defender for Endpoint device record with the exact JSON names
// and nullability of docs/defender-api.md#the-machine-entity (pointers are the nullable fields).
// Field order matches the real payload so encoded pages read like captures.
type Machine struct {
	ID                     string      `json:"id"`
	MergedIntoMachineID    *string     `json:"mergedIntoMachineId"`
	IsPotentialDuplication bool        `json:"isPotentialDuplication"`
	IsExcluded             bool        `json:"isExcluded"`
	ExclusionReason        *string     `json:"exclusionReason"`
	ComputerDNSName        string      `json:"computerDnsName"`
	FirstSeen              time.Time   `json:"firstSeen"`
	LastSeen               time.Time   `json:"lastSeen"`
	OSPlatform             string      `json:"osPlatform"`
	OSVersion              *string     `json:"osVersion"`
	OSProcessor            string      `json:"osProcessor"`
	Version                *string     `json:"version"`
	LastIPAddress          *string     `json:"lastIpAddress"`
	LastExternalIPAddress  *string     `json:"lastExternalIpAddress"`
	AgentVersion           *string     `json:"agentVersion"`
	OSBuild                *int64      `json:"osBuild"`
	HealthStatus           string      `json:"healthStatus"`
	DeviceValue            *string     `json:"deviceValue"`
	RBACGroupID            int64       `json:"rbacGroupId"` // a JSON number, although the docs say String
	RBACGroupName          *string     `json:"rbacGroupName"`
	RiskScore              *string     `json:"riskScore"`
	ExposureLevel          *string     `json:"exposureLevel"`
	IsAADJoined            bool        `json:"isAadJoined"`
	AADDeviceID            *string     `json:"aadDeviceId"` // can be null even when IsAADJoined
	MachineTags            []string    `json:"machineTags"`
	DefenderAVStatus       *string     `json:"defenderAvStatus"`
	OnboardingStatus       string      `json:"onboardingStatus"`
	OSArchitecture         *string     `json:"osArchitecture"`
	ManagedBy              *string     `json:"managedBy"`
	ManagedByStatus        *string     `json:"managedByStatus"`
	IPAddresses            []IPAddress `json:"ipAddresses"`
	VMMetadata             *VMMetadata `json:"vmMetadata"`

	// replacedAt is when a reinstall gave the device a new record: Defender
	// keeps this old one Active until 7 days without signals pass, then
	// Inactive (Drift applies it). Not part of the JSON.
	replacedAt time.Time
}

// IPAddress is one network interface address; MACAddress is null for loopback.
type IPAddress struct {
	IPAddress         string  `json:"ipAddress"`
	MACAddress        *string `json:"macAddress"`
	Type              string  `json:"type"`
	OperationalStatus string  `json:"operationalStatus"`
}

// VMMetadata is present only for cloud virtual machines.
type VMMetadata struct {
	VMID           string `json:"vmId"`
	CloudProvider  string `json:"cloudProvider"`
	ResourceID     string `json:"resourceId"`
	SubscriptionID string `json:"subscriptionId"`
}

// clone returns a deep copy so callers can edit it without touching the
// emulator's snapshot (and without racing the handlers that read it).
func (m Machine) clone() Machine {
	c := m
	c.MergedIntoMachineID = clonePtr(m.MergedIntoMachineID)
	c.ExclusionReason = clonePtr(m.ExclusionReason)
	c.OSVersion = clonePtr(m.OSVersion)
	c.Version = clonePtr(m.Version)
	c.LastIPAddress = clonePtr(m.LastIPAddress)
	c.LastExternalIPAddress = clonePtr(m.LastExternalIPAddress)
	c.AgentVersion = clonePtr(m.AgentVersion)
	c.OSBuild = clonePtr(m.OSBuild)
	c.DeviceValue = clonePtr(m.DeviceValue)
	c.RBACGroupName = clonePtr(m.RBACGroupName)
	c.RiskScore = clonePtr(m.RiskScore)
	c.ExposureLevel = clonePtr(m.ExposureLevel)
	c.AADDeviceID = clonePtr(m.AADDeviceID)
	c.DefenderAVStatus = clonePtr(m.DefenderAVStatus)
	c.OSArchitecture = clonePtr(m.OSArchitecture)
	c.ManagedBy = clonePtr(m.ManagedBy)
	c.ManagedByStatus = clonePtr(m.ManagedByStatus)
	c.MachineTags = slices.Clone(m.MachineTags)
	if c.MachineTags == nil {
		c.MachineTags = []string{}
	}
	c.IPAddresses = make([]IPAddress, len(m.IPAddresses))
	for i, ip := range m.IPAddresses {
		ip.MACAddress = clonePtr(ip.MACAddress)
		c.IPAddresses[i] = ip
	}
	c.VMMetadata = clonePtr(m.VMMetadata)
	return c
}

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

// ptr returns a pointer to v; nullable literals in generation and tests use it.
func ptr[T any](v T) *T { return &v }

// orNull maps "" to null, for weighted choices where "" stands for null.
func orNull(s string) *string {
	if s == "" {
		return nil
	}
	return lit(s)
}
