package store

import (
	"context"
	"database/sql/driver"
	"strconv"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5/stdlib"
)

// PostgreSQL numbers its placeholders ($1, $2, …) where SQLite and the
// store's statements use ?. The rewrite happens in the PostgreSQL
// connection itself (rebindConn), so that every statement, in a
// transaction or not, prepared or not, goes through it, and the SQLite
// path never pays for it. Each distinct text is rewritten once.

// rebindConnector makes connections that rewrite placeholders.
type rebindConnector struct{ driver.Connector }

func (c rebindConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &rebindConn{conn.(*stdlib.Conn)}, nil
}

// rebindConn is pgx's database/sql connection with ? rewritten; every
// other method (transactions, ping, session reset, argument checks) is
// pgx's own.
type rebindConn struct{ *stdlib.Conn }

func (c *rebindConn) Prepare(query string) (driver.Stmt, error) {
	return c.Conn.Prepare(rebind(query))
}

func (c *rebindConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	return c.Conn.PrepareContext(ctx, rebind(query))
}

func (c *rebindConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	if len(args) > 0 { // a script (a migration) has no placeholders and may hold $$ bodies
		query = rebind(query)
	}
	return c.Conn.ExecContext(ctx, query, args)
}

func (c *rebindConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	if len(args) > 0 {
		query = rebind(query)
	}
	return c.Conn.QueryContext(ctx, query, args)
}

// rebinds caches rewritten statements. The store builds a bounded set of
// texts (IN lists and multi-row INSERTs vary in length), so the cache stops
// growing at rebindCacheMax and rewrites the rare extra text each time.
var rebinds = struct {
	sync.RWMutex
	m map[string]string
}{m: map[string]string{}}

const rebindCacheMax = 4096

// rebind rewrites the ? placeholders of query as $1, $2, …, leaving string
// literals, quoted identifiers and comments alone.
func rebind(query string) string {
	rebinds.RLock()
	out, ok := rebinds.m[query]
	rebinds.RUnlock()
	if ok {
		return out
	}
	out = rebindText(query)
	rebinds.Lock()
	if len(rebinds.m) < rebindCacheMax {
		rebinds.m[query] = out
	}
	rebinds.Unlock()
	return out
}

func rebindText(q string) string {
	if !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 16)
	n := 0
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case c == '\'' || c == '"':
			end := closing(q, i+1, c)
			b.WriteString(q[i:end])
			i = end - 1
		case c == '-' && i+1 < len(q) && q[i+1] == '-':
			end := strings.IndexByte(q[i:], '\n')
			if end < 0 {
				end = len(q) - i
			}
			b.WriteString(q[i : i+end])
			i += end - 1
		case c == '/' && i+1 < len(q) && q[i+1] == '*':
			end := strings.Index(q[i+2:], "*/")
			if end < 0 {
				end = len(q) - i - 2
			} else {
				end += 2
			}
			b.WriteString(q[i : i+2+end])
			i += 1 + end
		case c == '?':
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// closing is the index just past the quote q that closes a literal opened
// before from; a doubled quote is part of the literal.
func closing(s string, from int, q byte) int {
	for i := from; i < len(s); i++ {
		if s[i] == q {
			if i+1 < len(s) && s[i+1] == q {
				i++
				continue
			}
			return i + 1
		}
	}
	return len(s)
}
