package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"postern/internal/model"
)

// Every replica rebuilds its in-memory snapshot from the devices table
// after each sync (a follower on every notification), so the read is
// kept lean: only the columns the snapshot holds, the antivirus health
// joined in the same pass, the few values most devices share (platforms,
// statuses, versions, tag lists) interned instead of allocated per row,
// and on PostgreSQL pgx's own rows instead of database/sql's, whose
// driver.Value boxing cost about a hundred allocations a device. The
// mapping of the columns (fillSnapshotDevice) is one, for both engines.

// snapshotColumns are the devices columns of model.SnapshotDevice, in the
// order fillSnapshotDevice reads them.
const snapshotColumns = `d.id, d.host, d.aad_device_id, d.os_platform, d.os_version, d.os_build, d.health_status,
	d.risk_score, d.exposure_level, d.onboarding_status, d.av_status, d.is_aad_joined, d.merged_into,
	d.potential_duplicate, d.is_excluded, d.exclusion_reason, d.rbac_group, d.agent_version, d.device_value,
	d.first_seen, d.last_seen, d.removed_at IS NOT NULL, d.tags`

// snapshotAVColumns follow snapshotColumns when the antivirus health is
// read too: a device without a row has NULL in every one (av_mode is NOT
// NULL in a row).
const snapshotAVColumns = `, a.av_mode, a.signature_up_to_date, a.signature_version, a.signature_published_at,
	a.full_scan_at, a.refreshed_at`

// snapshotQuery is the statement EachSnapshotDevice runs. It has no ORDER
// BY: PostgreSQL would sort the whole join in its collation, which took
// longer than the rest of the read, for an order the caller sorts in Go's
// anyway (SQLite gives the table's order, often the id order already).
func snapshotQuery(withAV bool) string {
	if withAV {
		return "SELECT " + snapshotColumns + snapshotAVColumns + " FROM devices d LEFT JOIN device_av a ON a.machine_id = d.id"
	}
	return "SELECT " + snapshotColumns + " FROM devices d"
}

// EachSnapshotDevice calls fn with every device, in no set order, with its
// antivirus health (d.AV) when withAV, else with none. d and d.AV are
// reused: valid until fn returns (their strings and Tags stay valid).
func (s *Store) EachSnapshotDevice(ctx context.Context, withAV bool, fn func(d *model.SnapshotDevice) error) error {
	q := snapshotQuery(withAV)
	var err error
	if s.eng == postgresEngine {
		err = s.eachSnapshotRowPG(ctx, q, withAV, fn)
	} else {
		err = s.eachSnapshotRowSQL(ctx, q, withAV, fn)
	}
	return mapErr(err, "Devices")
}

// eachSnapshotRowSQL reads through database/sql (SQLite): each column
// scanned into an any, which holds the driver's value without a copy.
func (s *Store) eachSnapshotRowSQL(ctx context.Context, q string, withAV bool, fn func(*model.SnapshotDevice) error) error {
	rows, err := s.read.QueryContext(ctx, q)
	if err != nil {
		return err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return err
	}
	r := &anyCols{vals: make([]any, len(cols)), in: newInterner()}
	dest := make([]any, len(cols))
	for i := range dest {
		dest[i] = &r.vals[i]
	}
	var d model.SnapshotDevice
	var av model.SnapshotAV
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return err
		}
		if err := fillSnapshotDevice(r, &d, withAV, &av); err != nil {
			return err
		}
		if err := fn(&d); err != nil {
			return err
		}
	}
	return rows.Err()
}

// eachSnapshotRowPG reads on pgx's connection under the pool's: the raw
// text of each column, no driver.Value in between.
func (s *Store) eachSnapshotRowPG(ctx context.Context, q string, withAV bool, fn func(*model.SnapshotDevice) error) error {
	conn, err := s.read.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		rc, ok := dc.(*rebindConn)
		if !ok {
			return fmt.Errorf("store: a PostgreSQL connection of type %T", dc)
		}
		rows, err := rc.Conn.Conn().Query(ctx, q, pgx.QueryResultFormats{pgx.TextFormatCode})
		if err != nil {
			return err
		}
		defer rows.Close()
		r := &textCols{in: newInterner()}
		var d model.SnapshotDevice
		var av model.SnapshotAV
		for rows.Next() {
			r.vals = rows.RawValues()
			if err := fillSnapshotDevice(r, &d, withAV, &av); err != nil {
				return err
			}
			if err := fn(&d); err != nil {
				return err
			}
		}
		return rows.Err()
	})
}

// errSnapshotColumn names a column whose value does not fit its field.
var errSnapshotColumn = errors.New("store: unexpected snapshot column value")

// fillSnapshotDevice sets d (and av, pointed to by d.AV when the device
// has antivirus health) from row r of snapshotQuery(withAV).
func fillSnapshotDevice(r snapshotCols, d *model.SnapshotDevice, withAV bool, av *model.SnapshotAV) error {
	*d = model.SnapshotDevice{
		ID: r.str(0), Host: r.str(1), AADDeviceID: r.str(2), OSPlatform: r.enum(3), OSVersion: r.enum(4),
		OSBuild: r.num(5), HealthStatus: r.enum(6), RiskScore: r.enum(7), ExposureLevel: r.enum(8),
		OnboardingStatus: r.enum(9), AVStatus: r.enum(10), IsAADJoined: r.flag(11), MergedInto: r.str(12),
		PotentialDuplicate: r.flag(13), IsExcluded: r.flag(14), ExclusionReason: r.enum(15), RBACGroup: r.enum(16),
		AgentVersion: r.enum(17), DeviceValue: r.enum(18), Removed: r.flag(21),
	}
	var err error
	if d.FirstSeen, err = r.when(19); err != nil {
		return err
	}
	if d.LastSeen, err = r.when(20); err != nil {
		return err
	}
	if d.Tags, err = r.tags(22); err != nil {
		return err
	}
	if !withAV || r.null(23) {
		return r.err()
	}
	*av = model.SnapshotAV{Mode: r.enum(23), SignatureUpToDate: r.enum(24), SignatureVersion: r.enum(25)}
	if av.SignaturePublishedAt, err = r.when(26); err != nil {
		return err
	}
	if av.FullScanAt, err = r.when(27); err != nil {
		return err
	}
	if av.RefreshedAt, err = r.when(28); err != nil {
		return err
	}
	d.AV = av
	return r.err()
}
