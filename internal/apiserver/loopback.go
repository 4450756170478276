package apiserver

import (
	"context"
	"io"
	"net/http"
	"time"

	utilnet "k8s.io/apimachinery/pkg/util/net"
	restclient "k8s.io/client-go/rest"
)

// finishRequests is cfg whose requests, once sent, run to their end even if
// the caller's context ends meanwhile (within requestGrace); watches stay
// cancellable, and no request starts after its caller's context has ended.
// The server's own clients (post-start hooks, admission informers,
// controllers, the node agent) have contexts that end as the server stops:
// a request cut short mid-way makes the server log half a dozen errors
// ("Handler timeout", "post-timeout activity") for a clean stop, and it
// waits for its requests in flight anyway.
func finishRequests(cfg *restclient.Config) *restclient.Config {
	cfg = restclient.CopyConfig(cfg)
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { return finishingRoundTripper{rt} })
	return cfg
}

// requestGrace bounds a request that outlives its caller's context.
const requestGrace = 10 * time.Second

type finishingRoundTripper struct{ rt http.RoundTripper }

func (f finishingRoundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := req.Context().Err(); err != nil {
		return nil, err
	}
	if w := req.URL.Query().Get("watch"); w == "true" || w == "1" {
		return f.rt.RoundTrip(req)
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(req.Context()), requestGrace)
	resp, err := f.rt.RoundTrip(req.WithContext(ctx))
	if err != nil {
		cancel()
		return nil, err
	}
	resp.Body = cancelOnClose{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

// cancelOnClose ends its request's context once the body is closed.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b cancelOnClose) Close() error {
	defer b.cancel()
	return b.ReadCloser.Close()
}

// WrappedRoundTripper lets client-go reach the transport (to close its idle
// connections).
func (f finishingRoundTripper) WrappedRoundTripper() http.RoundTripper { return f.rt }

// CloseIdle closes the idle connections of the clients of cfgs: clients in
// the server's process that speak to its secure port (batchd run's), once
// they are done, before the HTTP server stops. (The loopback client's
// in-memory connections are not the HTTP server's: they end with the API
// server, see inProcess.close.) Closed from the client side, a connection
// ends at once; left open, each HTTP/2 connection stays
// until a second after the server's GOAWAY (x/net/http2's goAwayTimeout),
// as a client that got GOAWAY no longer holds it in its pool to close, and
// the server's stop waits for it.
func CloseIdle(cfgs ...*restclient.Config) {
	for _, cfg := range cfgs {
		if rt, err := restclient.TransportFor(cfg); err == nil {
			utilnet.CloseIdleConnectionsFor(rt)
		}
	}
}
