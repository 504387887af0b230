// Package replica coordinates Postern replicas that share one PostgreSQL.
// There is no replication or consensus of our own: PostgreSQL is the shared
// state. A session advisory lock, held on a connection of its own, elects
// the one replica that runs the sync worker (Elector); LISTEN/NOTIFY tells
// every replica that shared state changed, so that each reloads what it
// serves from memory (Notify, Listener).
//
// A replica that froze (SIGSTOP, a stalled VM) or lost its network keeps
// its PostgreSQL session for a while and with it the lock. The session is
// ended for it: the lock connection sets idle_session_timeout, and the
// holder runs a statement every third of that lease while alive, so a
// frozen holder's session ends after one lease and the lock is free; TCP
// keepalives on both ends notice a peer that vanished. What a frozen
// leader might still commit when it wakes is refused by the fence
// (Elector's epoch, checked in the apply's transaction).
package replica

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
)

// keepAlive probes an idle connection after 5 s, every 2 s, and gives up
// after 3 unanswered probes: a peer that vanished is noticed in about 11 s.
var keepAlive = net.KeepAliveConfig{Enable: true, Idle: 5 * time.Second, Interval: 2 * time.Second, Count: 3}

// connect opens a dedicated connection (not from a pool: a session lock and
// a LISTEN belong to one session) to the database at url, with TCP
// keepalives on our end and the server's, and the given session settings.
func connect(ctx context.Context, url string, settings map[string]string) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("replica: database URL: %w", err)
	}
	d := &net.Dialer{Timeout: 10 * time.Second, KeepAliveConfig: keepAlive}
	cfg.DialFunc = d.DialContext
	params := map[string]string{
		"tcp_keepalives_idle":     strconv.Itoa(int(keepAlive.Idle / time.Second)),
		"tcp_keepalives_interval": strconv.Itoa(int(keepAlive.Interval / time.Second)),
		"tcp_keepalives_count":    strconv.Itoa(keepAlive.Count),
		"application_name":        "postern",
	}
	for k, v := range settings {
		params[k] = v
	}
	for k, v := range params {
		cfg.RuntimeParams[k] = v
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("replica: connect to %s/%s: %w", cfg.Host, cfg.Database, err)
	}
	return conn, nil
}

// millis spells d as a PostgreSQL duration setting in milliseconds.
func millis(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) }
