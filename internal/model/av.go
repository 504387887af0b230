package model

import "time"

// DeviceAV is one machine's antivirus health, the latest row Defender's
// antivirus health report (deviceavinfo) holds for it.
type DeviceAV struct {
	MachineID string
	// Mode is Defender's avMode: "0" Active, "1" Passive, "2" Disabled,
	// "3" Other, "4" EDR in block mode, "5" PassiveAudit; "" Other.
	Mode                 string
	SignatureVersion     string
	SignatureUpToDate    string // "True", "False", "Unknown" or ""
	SignaturePublishedAt *time.Time
	EngineVersion        string
	EngineUpToDate       string
	PlatformVersion      string
	PlatformUpToDate     string
	QuickScanAt          *time.Time
	QuickScanResult      string
	FullScanAt           *time.Time
	FullScanResult       string
	RefreshedAt          *time.Time // dataRefreshTimestamp
	Hash                 int64      // of every field above; a sync writes a row only when it changes
}

// AVRun is what one sync run got from the antivirus health report. When OK
// is false the run's antivirus signals are unknown and Error says why.
type AVRun struct {
	RunID     int64
	OK        bool
	Machines  int // machines the report listed
	Written   int // rows added, changed or deleted
	Error     string
	ErrorCode string
}
