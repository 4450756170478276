package apiserver

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"syscall"
	"time"
)

// The server's own clients (post-start hooks, admission informers, the
// controllers, the scheduler, the node agent) share its process, so they
// reach its handler chain through in-memory connections instead of TLS over
// TCP: no handshake, no encryption of what never leaves the process, no
// HTTP/2 framing (their requests are HTTP/1.1, one connection each while in
// flight). Every request still goes through the whole chain — the loopback
// token authenticates it, admission and the wait groups of a graceful stop
// apply — and nothing outside the process can dial it.

// inProcessHost names the in-process server in its clients' URLs (it is
// never resolved: the transport dials the pipe listener).
const inProcessHost = "batchd.in-process"

// pipeListener is a net.Listener whose connections are net.Pipes dialled
// from this process.
type pipeListener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func newPipeListener() *pipeListener {
	return &pipeListener{conns: make(chan net.Conn), done: make(chan struct{})}
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *pipeListener) Addr() net.Addr { return pipeAddr{} }

// DialContext hands the server one end of a new pipe once it accepts it.
func (l *pipeListener) DialContext(ctx context.Context, _, _ string) (net.Conn, error) {
	client, server := net.Pipe()
	select {
	case l.conns <- serverConn{server}:
		return client, nil
	case <-l.done:
	case <-ctx.Done():
	}
	client.Close()
	server.Close()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return nil, &net.OpError{Op: "dial", Net: "pipe", Addr: pipeAddr{}, Err: net.ErrClosed}
}

// serverConn is the server's end of a pipe. A write to a pipe whose other
// end has closed fails with io.ErrClosedPipe; here it fails as a write to a
// socket whose peer has gone does (EPIPE), so that a response cut short by
// its client leaving (a watch stopped mid-event) is known as such
// (ClientHungUp) and not logged as the server's error.
type serverConn struct{ net.Conn }

func (c serverConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	if errors.Is(err, io.ErrClosedPipe) {
		err = &net.OpError{Op: "write", Net: "pipe", Addr: pipeAddr{}, Err: syscall.EPIPE}
	}
	return n, err
}

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return inProcessHost }

// inProcess serves a handler to the process's own clients.
type inProcess struct {
	listener  *pipeListener
	server    *http.Server
	transport *http.Transport
}

func newInProcess() *inProcess {
	l := newPipeListener()
	return &inProcess{
		listener: l,
		transport: &http.Transport{
			DialContext: l.DialContext,
			// No proxy from the environment, no gzip (see secureServing).
			Proxy:              nil,
			DisableCompression: true,
			// A burst (a CronJob slot) has dozens of requests in flight:
			// keep their connections for the next one.
			MaxIdleConnsPerHost: 64,
			IdleConnTimeout:     90 * time.Second,
		},
	}
}

// serve serves h until close; the timeouts are the secure server's
// (k8s.io/apiserver SecureServingInfo.Serve).
func (p *inProcess) serve(h http.Handler) {
	p.server = &http.Server{
		Handler:           h,
		MaxHeaderBytes:    1 << 20,
		IdleTimeout:       90 * time.Second,
		ReadHeaderTimeout: 32 * time.Second,
	}
	go p.server.Serve(p.listener) //nolint:errcheck // ends with net.ErrClosed at close
}

// close ends every in-process connection: called once the API server has
// stopped, so only stragglers are cut.
func (p *inProcess) close() {
	p.transport.CloseIdleConnections()
	if p.server != nil {
		p.server.Close()
	}
	p.listener.Close()
}
