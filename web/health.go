package web

import (
	"context"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
)

// healthz answers while the process serves requests.
func (s *Server) healthz(c echo.Context) error {
	return c.String(http.StatusOK, "ok\n")
}

// readyz answers 200 once the enforcement API can answer: the stored device
// snapshot is in memory. The database and the sync do not decide it, so a
// load balancer never drops every replica over the console's database;
// ?verbose reports them, as JSON, with the same status.
func (s *Server) readyz(c echo.Context) error {
	ready := s.fleet.Loaded()
	status := http.StatusOK
	if !ready {
		status = http.StatusServiceUnavailable
		c.Response().Header().Set("Retry-After", "1")
	}
	if _, verbose := c.QueryParams()["verbose"]; verbose {
		return c.JSON(status, s.readiness(c, ready))
	}
	if !ready {
		return c.String(status, "loading the device snapshot\n")
	}
	return c.String(status, "ready\n")
}

// readiness is the answer of /readyz?verbose.
type readiness struct {
	Ready    bool `json:"ready"`
	Snapshot struct {
		RunID      int64      `json:"run_id"`
		SyncedAt   *time.Time `json:"synced_at"`
		AgeSeconds *int64     `json:"age_seconds"`
		Devices    int        `json:"devices"`
		Active     int        `json:"active"`
	} `json:"snapshot"`
	// Policy says whether the console's counts match what the enforcement
	// API answers now, and which sync run's snapshot they counted.
	Policy struct {
		CountsCurrent bool  `json:"counts_current"`
		CountedRunID  int64 `json:"counted_run_id"`
	} `json:"policy"`
	Database struct {
		OK    bool   `json:"ok"`
		Error string `json:"error,omitempty"`
	} `json:"database"`
	Sync struct {
		Running             bool       `json:"running"`
		LastOutcome         string     `json:"last_outcome,omitempty"`
		LastSuccessAt       *time.Time `json:"last_success_at"`
		ConsecutiveFailures int        `json:"consecutive_failures"`
		Blocked             bool       `json:"blocked"`
		Stale               bool       `json:"stale"`
	} `json:"sync"`
	// MasterKey is the master keyring as this Postern last read it (its
	// key file is read again every minute): key ids only. During a
	// rotation across replicas each must hold the new key before
	// postern activate-key makes it active.
	MasterKey *keyReadiness `json:"master_key,omitempty"`
	// Replica is this replica among several on one PostgreSQL database;
	// absent on a single Postern.
	Replica *replicaReadiness `json:"replica,omitempty"`
}

type keyReadiness struct {
	Active string   `json:"active"`
	KeyIDs []string `json:"key_ids"`
}

type replicaReadiness struct {
	Name  string    `json:"name"`
	Role  string    `json:"role"`
	Epoch int64     `json:"epoch,omitempty"`
	Since time.Time `json:"since"`
	// Leader is the sync leader the database names, when it answers.
	Leader string `json:"leader,omitempty"`
}

// replicaText is this replica and its role as the console shows them
// ("db-b, follower"); "" on a single Postern.
func (s *Server) replicaText() string {
	if r := s.replicaStatus(); r != nil {
		return r.Name + ", " + r.Role
	}
	return ""
}

// replicaStatus is this replica's status, nil on a single Postern.
func (s *Server) replicaStatus() *ReplicaStatus {
	if s.replica == nil {
		return nil
	}
	r := s.replica()
	return &r
}

func (s *Server) readiness(c echo.Context, ready bool) readiness {
	r := readiness{Ready: ready}
	now := s.now()
	snap := s.fleet.Load()
	r.Snapshot.RunID, r.Snapshot.Devices, r.Snapshot.Active = snap.RunID, snap.Len(), snap.Active
	if !snap.SyncedAt.IsZero() {
		at, age := snap.SyncedAt.UTC(), int64(now.Sub(snap.SyncedAt)/time.Second)
		r.Snapshot.SyncedAt, r.Snapshot.AgeSeconds = &at, &age
	}
	t := s.policy.Tally()
	r.Policy.CountsCurrent, r.Policy.CountedRunID = t.Current, t.RunID
	ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		s.logger(c).Warn("readiness: the database does not answer", "err", err)
		r.Database.Error = "the database does not answer"
	} else {
		r.Database.OK = true
	}
	st := s.syncer.Status()
	r.Sync.Running, r.Sync.ConsecutiveFailures, r.Sync.Blocked = st.Running, st.ConsecutiveFailures, st.Blocked
	if st.LastRun != nil {
		r.Sync.LastOutcome = st.LastRun.Outcome
	}
	if st.LastSuccess != nil && st.LastSuccess.FinishedAt != nil {
		at := st.LastSuccess.FinishedAt.UTC()
		r.Sync.LastSuccessAt = &at
	}
	r.Sync.Stale = st.Stale(now)
	if s.keys != nil {
		k := s.keys()
		r.MasterKey = &keyReadiness{Active: k.Active, KeyIDs: k.IDs}
	}
	if rs := s.replicaStatus(); rs != nil {
		r.Replica = &replicaReadiness{Name: rs.Name, Role: rs.Role, Epoch: rs.Epoch, Since: rs.Since.UTC()}
		if l, found, err := s.store.SyncLeader(ctx); err == nil && found {
			r.Replica.Leader = l.Replica
		}
	}
	return r
}
