package defender

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// Limits bound one API call. A page of a large tenant can take a while to
// arrive whole, so there is no deadline on the whole call: Microsoft must
// start answering within FirstByte, and then keep sending, never pausing
// longer than Idle. A body larger than MaxBody is an error that names it.
type Limits struct {
	FirstByte time.Duration // from sending the request to the response headers
	Idle      time.Duration // longest pause while the body arrives
	MaxBody   int64         // bytes
}

// DefaultLimits are the limits of a client whose base has no timeout.
var DefaultLimits = Limits{FirstByte: 20 * time.Second, Idle: 20 * time.Second, MaxBody: maxBody}

// maxBody bounds what Postern reads from one Microsoft answer: a page of
// 10,000 real machines is tens of MB.
const maxBody = 256 << 20

// limitsFor derives the limits from a base client's timeout, which then
// bounds the wait for the first byte and each pause, not the whole call.
func limitsFor(base *http.Client) Limits {
	l := DefaultLimits
	if base.Timeout > 0 {
		l.FirstByte, l.Idle = base.Timeout, base.Timeout
	}
	return l
}

// WithLimits replaces the client's limits (zero fields keep theirs) and
// returns it.
func (c *Client) WithLimits(l Limits) *Client {
	if l.FirstByte > 0 {
		c.limits.FirstByte = l.FirstByte
	}
	if l.Idle > 0 {
		c.limits.Idle = l.Idle
	}
	if l.MaxBody > 0 {
		c.limits.MaxBody = l.MaxBody
	}
	return c
}

// stalled is the cause of a call stopped by its limits; it is a timeout,
// so networkError words it as Microsoft not answering in time.
type stalled struct{ what string }

func (s *stalled) Error() string   { return s.what }
func (s *stalled) Timeout() bool   { return true }
func (s *stalled) Temporary() bool { return true }

// do sends req under the limits and reads its body whole.
func (c *Client) do(ctx context.Context, req *http.Request) (*http.Response, []byte, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	watch := time.AfterFunc(c.limits.FirstByte, func() {
		cancel(&stalled{fmt.Sprintf("no answer within %s", c.limits.FirstByte)})
	})
	defer watch.Stop()
	res, err := c.http.Do(req.WithContext(ctx))
	if err != nil {
		return nil, nil, causeOf(ctx, err)
	}
	defer res.Body.Close()
	watch.Stop()
	watch = time.AfterFunc(c.limits.Idle, func() {
		cancel(&stalled{fmt.Sprintf("the answer stopped for %s mid-way", c.limits.Idle)})
	})
	body, err := io.ReadAll(&progressReader{r: io.LimitReader(res.Body, c.limits.MaxBody+1), t: watch, idle: c.limits.Idle})
	if err != nil {
		return nil, nil, causeOf(ctx, err)
	}
	if int64(len(body)) > c.limits.MaxBody {
		return nil, nil, tooLarge(c.limits.MaxBody)
	}
	return res, body, nil
}

// causeOf prefers the limit that stopped a call over the error it caused.
func causeOf(ctx context.Context, err error) error {
	var s *stalled
	if cause := context.Cause(ctx); errors.As(cause, &s) {
		return fmt.Errorf("%w: %w", s, err)
	}
	return err
}

// progressReader pushes the idle deadline back each time bytes arrive.
type progressReader struct {
	r    io.Reader
	t    *time.Timer
	idle time.Duration
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if n > 0 {
		p.t.Reset(p.idle)
	}
	return n, err
}

func tooLarge(limit int64) *Error {
	return &Error{Reason: BadResponse, Code: "body too large", Help: HelpTroubleshooting,
		Message: fmt.Sprintf("Microsoft sent an answer larger than Postern's limit of %d MiB; nothing was changed. Lower --defender-page-size so that each page is smaller.", limit>>20),
		Err:     fmt.Errorf("response body over %d bytes", limit)}
}
