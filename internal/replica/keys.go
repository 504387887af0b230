package replica

import (
	"time"

	"postern/internal/model"
)

// Each replica reports the master key ids it holds (model.ReplicaKeys) at
// start, whenever it reads its key file again, and at least every
// KeyReportEvery (--key-reread-interval, at most this); a report younger than KeyReportLive is a live replica's,
// which postern activate-key waits for.
const (
	KeyReportEvery = time.Minute
	KeyReportLive  = 2 * time.Minute
)

// Live keeps the reports younger than KeyReportLive at now.
func Live(reports []model.ReplicaKeys, now time.Time) []model.ReplicaKeys {
	var out []model.ReplicaKeys
	for _, r := range reports {
		if now.Sub(r.SeenAt) < KeyReportLive {
			out = append(out, r)
		}
	}
	return out
}
