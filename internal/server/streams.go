package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/batchd/batchd/internal/apiserver/registry/pod"
	"github.com/batchd/batchd/internal/node/stream"
	"github.com/batchd/batchd/internal/pki"
)

// streamEndpoint is the node agent's streaming endpoint (exec, attach,
// port-forward): a listener of its own on the loopback address, served
// with the server's certificate to the API server's kubelet-client
// certificate only, as a kubelet serves kube-apiserver.
type streamEndpoint struct {
	ln        net.Listener
	cert      tls.Certificate
	clientCAs *x509.CertPool
	// transport is the API server's way there.
	transport *http.Transport
}

func newStreamEndpoint(b *pki.Bundle) (*streamEndpoint, error) {
	cert, err := tls.X509KeyPair(b.ServingCert, b.ServingKey)
	if err != nil {
		return nil, fmt.Errorf("stream endpoint certificate: %w", err)
	}
	client, err := tls.X509KeyPair(b.KubeletClientCert, b.KubeletClientKey)
	if err != nil {
		return nil, fmt.Errorf("kubelet client certificate: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b.CACert) {
		return nil, errors.New("stream endpoint: no CA certificate")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("stream endpoint: %w", err)
	}
	return &streamEndpoint{
		ln: ln, cert: cert, clientCAs: pool,
		transport: &http.Transport{
			TLSClientConfig:     &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{client}, MinVersion: tls.VersionTLS12},
			TLSHandshakeTimeout: 10 * time.Second,
			MaxIdleConnsPerHost: 10,
			IdleConnTimeout:     90 * time.Second,
		},
	}, nil
}

func (e *streamEndpoint) port() int32 {
	if e == nil {
		return 0
	}
	return int32(e.ln.Addr().(*net.TCPAddr).Port)
}

// serve serves the agent's streams until ctx ends.
func (e *streamEndpoint) serve(ctx context.Context, cfg stream.Config, log func(error)) {
	cfg.ClientUser = pki.KubeletClientUser
	go func() {
		if err := stream.Serve(ctx, e.ln, e.cert, &tls.Config{ClientCAs: e.clientCAs}, stream.Handler(cfg)); err != nil {
			log(err)
		}
	}()
}

// nodeStreams is the API server's pod.NodeConnection: this server's own
// agent at its endpoint. (Agents on other machines, issue 20, will be
// found by their Node's address and status.daemonEndpoints.)
type nodeStreams struct {
	name     string
	endpoint *streamEndpoint
}

func (n nodeStreams) Node(_ context.Context, name string) (*url.URL, http.RoundTripper, error) {
	if n.endpoint == nil || name != n.name {
		return nil, nil, apierrors.NewServiceUnavailable(fmt.Sprintf("no node agent serves streams for node %q", name))
	}
	return &url.URL{Scheme: "https", Host: n.endpoint.ln.Addr().String()}, n.endpoint.transport, nil
}

// nodeConnection is what pods/exec, attach and portforward reach (nil
// without a node agent: they answer 503).
func (n *nodeRuntime) nodeConnection() pod.NodeConnection {
	if n == nil || n.streams == nil {
		return nil
	}
	return nodeStreams{name: n.machine.Name, endpoint: n.streams}
}
