package replica

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
)

// The roles a replica reports on /readyz, in /metrics and on the
// Integrations card.
const (
	RoleLeader   = "sync leader"
	RoleFollower = "follower"
)

// leaderLock is the key of the session advisory lock the sync leader
// holds. The keys of one database must differ: the high bytes spell
// "postern", and the store holds ...01 (migrations) and ...02 (writes) in
// store/postgres.go.
const leaderLock int64 = 0x706f737465726e03

// Defaults of ElectorOptions.
const (
	DefaultLease = 10 * time.Second
	DefaultRetry = 2 * time.Second
)

// ErrLeadershipLost is the cause of a leader's context ending because the
// lock's session ended (the database ended it, or the connection broke).
var ErrLeadershipLost = errors.New("replica: the sync leader lock was lost")

// ElectorOptions configure an Elector.
type ElectorOptions struct {
	// URL is the PostgreSQL connection URL.
	URL string
	// Name is this replica as the others and the admins see it.
	Name string
	// Lease bounds how long a holder that stopped answering keeps the
	// lock: its session ends after Lease without a statement. A live
	// holder runs one every Lease/3. Takeover after a freeze takes at most
	// Lease + Retry.
	Lease time.Duration
	// Retry is how often a follower tries to take the lock.
	Retry time.Duration
	Log   *slog.Logger
}

// Status is what an Elector reports.
type Status struct {
	Role string
	// Epoch is this replica's term as leader (0 as a follower): it grows
	// with every election, and the apply's transaction checks it (the fence).
	Epoch int64
	// Since is when the replica took its present role.
	Since time.Time
}

// Elector campaigns for the sync leader lock.
type Elector struct {
	opts   ElectorOptions
	status atomic.Pointer[Status]
}

// NewElector returns an Elector that has not campaigned yet: a follower.
func NewElector(opts ElectorOptions) *Elector {
	if opts.Lease <= 0 {
		opts.Lease = DefaultLease
	}
	if opts.Retry <= 0 {
		opts.Retry = DefaultRetry
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	e := &Elector{opts: opts}
	e.status.Store(&Status{Role: RoleFollower, Since: time.Now()})
	return e
}

// Status reports the replica's present role.
func (e *Elector) Status() Status { return *e.status.Load() }

// Run campaigns until ctx ends. Whenever this replica holds the lock it
// calls lead with the term's epoch and a context that ends when the lock
// is lost (its cause is then ErrLeadershipLost) or ctx ends, and waits for
// lead to return; then it releases the lock, if it still holds it, and
// campaigns again. Run returns ctx's error.
func (e *Elector) Run(ctx context.Context, lead func(ctx context.Context, epoch int64) error) error {
	for {
		err := e.term(ctx, lead)
		e.setRole(RoleFollower, 0)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil && !errors.Is(err, errNotElected) {
			e.opts.Log.Warn("sync leader election", "err", err)
		}
		// A leader that lost its lock (its session ended: the network, the
		// database, an operator) leaves the next term to a healthier
		// replica for a lease before it campaigns again.
		wait := e.opts.Retry
		if errors.Is(err, ErrLeadershipLost) {
			wait += e.opts.Lease
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}

var errNotElected = errors.New("another replica holds the lock")

// term is one attempt: connect, try the lock, and lead while it holds.
func (e *Elector) term(ctx context.Context, lead func(ctx context.Context, epoch int64) error) error {
	conn, err := acquire(ctx, e.opts.URL, e.opts.Lease)
	if err != nil {
		return err
	}
	// Closing the session releases the lock, whatever happened.
	defer conn.Close(context.WithoutCancel(ctx))
	epoch, err := elect(ctx, conn, e.opts.Name)
	if err != nil {
		return err
	}
	// A deposed leader whose session the database ended notices at its
	// next read, within milliseconds: let it stop before this term's work
	// begins. (Correctness does not rest on this: the fence refuses its
	// apply whatever it does; this keeps its run from overlapping ours.)
	select {
	case <-ctx.Done():
		return nil
	case <-time.After(e.opts.Lease / 10):
	}
	e.setRole(RoleLeader, epoch)
	e.opts.Log.Info("this replica is the sync leader", "replica", e.opts.Name, "epoch", epoch)

	leadCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	done := make(chan error, 1)
	go func() { done <- lead(leadCtx, epoch) }()
	stepDown := func(err error) error {
		cancel(ErrLeadershipLost)
		<-done
		e.opts.Log.Warn("this replica lost the sync leader lock", "replica", e.opts.Name, "epoch", epoch, "err", err)
		return ErrLeadershipLost
	}
	for {
		// Wait on the lock's session for a third of the lease: a session
		// the database ends (pg_terminate_backend, a restart) or a broken
		// connection is noticed at once, as the read fails; a quiet third
		// is followed by a statement, which keeps the session from being
		// idle for the lease and proves the database still answers.
		wctx, stop := context.WithTimeout(ctx, e.opts.Lease/3)
		err := conn.PgConn().WaitForNotification(wctx)
		waited := wctx.Err() != nil
		stop()
		select {
		case err := <-done:
			if err != nil && ctx.Err() == nil {
				return fmt.Errorf("replica: the sync leader's work ended: %w", err)
			}
			return nil
		default:
		}
		switch {
		case ctx.Err() != nil:
			cancel(nil)
			<-done
			return nil
		case err != nil && !waited:
			return stepDown(err)
		}
		pctx, stop := context.WithTimeout(ctx, e.opts.Lease/3)
		_, err = conn.Exec(pctx, "SELECT 1")
		stop()
		if err != nil && ctx.Err() == nil {
			return stepDown(err)
		}
	}
}

func (e *Elector) setRole(role string, epoch int64) {
	if cur := e.status.Load(); cur.Role == role && cur.Epoch == epoch {
		return
	}
	e.status.Store(&Status{Role: role, Epoch: epoch, Since: time.Now()})
}

// acquire opens a lock session and takes the leader lock without waiting;
// errNotElected when another session holds it. The session ends by itself
// once idle for lease, or idle for lease inside a transaction.
func acquire(ctx context.Context, url string, lease time.Duration) (*pgx.Conn, error) {
	conn, err := connect(ctx, url, map[string]string{
		"idle_session_timeout":                millis(lease),
		"idle_in_transaction_session_timeout": millis(lease),
	})
	if err != nil {
		return nil, err
	}
	var got bool
	if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", leaderLock).Scan(&got); err != nil {
		conn.Close(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("replica: take the sync leader lock: %w", err)
	}
	if !got {
		conn.Close(context.WithoutCancel(ctx))
		return nil, errNotElected
	}
	return conn, nil
}

// elect starts a term on the lock's session: the next epoch, with this
// replica's name, in the one-row sync_leader table. The row's lock waits
// for an apply of the previous term still in its transaction, so that
// apply either commits before the new term begins or sees the new epoch
// and is refused (the fence).
func elect(ctx context.Context, conn *pgx.Conn, name string) (int64, error) {
	var epoch int64
	err := conn.QueryRow(ctx, `INSERT INTO sync_leader (id, epoch, replica, elected_at) VALUES (1, 1, $1, $2)
		ON CONFLICT (id) DO UPDATE SET epoch = sync_leader.epoch + 1, replica = EXCLUDED.replica, elected_at = EXCLUDED.elected_at
		RETURNING epoch`, name, time.Now().UTC().Format(time.RFC3339Nano)).Scan(&epoch)
	if err != nil {
		return 0, fmt.Errorf("replica: begin a sync leader term: %w", err)
	}
	return epoch, nil
}
