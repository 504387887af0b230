package emulator

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Listen serves e on addr (e.g. "127.0.0.1:0") until ctx ends. It returns the
// base URL, which is both the login host and the API host, and wait, which
// blocks until the server has shut down and reports why it stopped (nil after
// a clean shutdown). In-flight requests see ctx as their base context, so slow
// pages end promptly on shutdown.
func Listen(ctx context.Context, addr string, e *Emulator) (url string, wait func() error, err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{
		Handler:           e,
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	done := make(chan error, 1)
	go func() {
		select {
		case err := <-served:
			done <- err
		case <-ctx.Done():
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			err := srv.Shutdown(sctx)
			if err != nil {
				srv.Close()
			}
			if serr := <-served; !errors.Is(serr, http.ErrServerClosed) {
				err = errors.Join(err, serr)
			}
			done <- err
		}
	}()
	return baseURL(ln.Addr()), sync.OnceValue(func() error { return <-done }), nil
}

// baseURL turns a listener address into a URL a client can dial: an
// unspecified host (":0", "[::]:0") becomes 127.0.0.1.
func baseURL(a net.Addr) string {
	tcp, ok := a.(*net.TCPAddr)
	if !ok {
		return "http://" + a.String()
	}
	ip := tcp.IP
	if ip == nil || ip.IsUnspecified() {
		ip = net.IPv4(127, 0, 0, 1) // Go's "tcp" listeners are dual-stack
	}
	return "http://" + net.JoinHostPort(ip.String(), strconv.Itoa(tcp.Port))
}
