package defender

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
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

// bodies are the read buffers of one listing. A page of 10,000 machines
// is about 12 MB: read into a fresh slice that doubles as it grows, every
// page allocated twice its size. A listing hands each page's buffer back
// once the page is decoded (response.release), and the next page is read
// into it. (A sync.Pool would lose them at every garbage collection, and a
// sync collects often.) The buffers go with the listing.
type bodies struct {
	mu   sync.Mutex
	free []*bytes.Buffer
}

func (b *bodies) get() *bytes.Buffer {
	if b != nil {
		b.mu.Lock()
		defer b.mu.Unlock()
		if n := len(b.free); n > 0 {
			buf := b.free[n-1]
			b.free = b.free[:n-1]
			return buf
		}
	}
	return new(bytes.Buffer)
}

func (b *bodies) put(buf *bytes.Buffer) {
	buf.Reset()
	b.mu.Lock()
	defer b.mu.Unlock()
	b.free = append(b.free, buf)
}

// do sends req under the limits and reads its body whole, into a buffer
// from bodies (nil: a new one), which it returns beside the answer.
func (c *Client) do(ctx context.Context, req *http.Request, b *bodies) (*http.Response, *bytes.Buffer, error) {
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
	buf := b.get()
	_, err = buf.ReadFrom(&progressReader{r: io.LimitReader(res.Body, c.limits.MaxBody+1), t: watch, idle: c.limits.Idle})
	switch {
	case err != nil:
		return nil, nil, causeOf(ctx, err)
	case int64(buf.Len()) > c.limits.MaxBody:
		return nil, nil, tooLarge(c.limits.MaxBody)
	}
	return res, buf, nil
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
