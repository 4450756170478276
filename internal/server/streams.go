package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/batchd/batchd/internal/apiserver/registry/pod"
	"github.com/batchd/batchd/internal/node/stream"
	"github.com/batchd/batchd/internal/pki"
)

// streamEndpoint is the node agent's endpoint for logs and streams (the
// kubelet's /containerLogs, /exec, /attach, /portForward): a listener of
// its own, served with the node's serving certificate to the API servers'
// kubelet-client certificate only, as a kubelet serves kube-apiserver.
type streamEndpoint struct {
	ln        net.Listener
	cert      tls.Certificate
	clientCAs *x509.CertPool
}

// newStreamEndpoint listens on addr (host:port) with certPEM/keyPEM,
// accepting clients of caPEM's CA.
func newStreamEndpoint(certPEM, keyPEM, caPEM []byte, addr string) (*streamEndpoint, error) {
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("stream endpoint certificate: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, errors.New("stream endpoint: no CA certificate")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("stream endpoint: %w", err)
	}
	return &streamEndpoint{ln: ln, cert: cert, clientCAs: pool}, nil
}

func (e *streamEndpoint) port() int32 {
	if e == nil {
		return 0
	}
	return int32(e.ln.Addr().(*net.TCPAddr).Port)
}

// serve serves the agent's logs and streams until ctx ends.
func (e *streamEndpoint) serve(ctx context.Context, cfg stream.Config, log func(error)) {
	cfg.ClientUser = pki.KubeletClientUser
	go func() {
		if err := stream.Serve(ctx, e.ln, e.cert, &tls.Config{ClientCAs: e.clientCAs}, stream.Handler(cfg)); err != nil {
			log(err)
		}
	}()
}

// kubeletTransport is the API server's way to node agents: its
// kubelet-client certificate, agents' serving certificates verified
// against the cluster's CA.
func kubeletTransport(b *pki.Bundle) (*http.Transport, error) {
	client, err := tls.X509KeyPair(b.KubeletClientCert, b.KubeletClientKey)
	if err != nil {
		return nil, fmt.Errorf("kubelet client certificate: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b.CACert) {
		return nil, errors.New("kubelet client: no CA certificate")
	}
	return &http.Transport{
		TLSClientConfig:     &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{client}, MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout: 10 * time.Second,
		MaxIdleConnsPerHost: 10,
		IdleConnTimeout:     90 * time.Second,
	}, nil
}

// nodeStreams is the API server's pod.NodeConnection: this server's own
// agent at its endpoint, any other node at its Node's InternalIP and
// status.daemonEndpoints.kubeletEndpoint.Port, as kube-apiserver finds a
// kubelet.
type nodeStreams struct {
	local     string
	endpoint  *streamEndpoint // nil: no agent in this server
	transport *http.Transport
	// nodes reads a Node; set once the API server's loopback client exists.
	nodes atomic.Pointer[func(ctx context.Context, name string) (*corev1.Node, error)]
}

func (n *nodeStreams) Node(ctx context.Context, name string) (*url.URL, http.RoundTripper, error) {
	if n.endpoint != nil && name == n.local {
		return &url.URL{Scheme: "https", Host: n.endpoint.ln.Addr().String()}, n.transport, nil
	}
	get := n.nodes.Load()
	if get == nil {
		return nil, nil, apierrors.NewServiceUnavailable("the API server is starting")
	}
	node, err := (*get)(ctx, name)
	if err != nil {
		return nil, nil, err
	}
	host := ""
	for _, a := range node.Status.Addresses {
		if a.Type == corev1.NodeInternalIP && host == "" {
			host = a.Address
		}
	}
	port := node.Status.DaemonEndpoints.KubeletEndpoint.Port
	if host == "" || port == 0 {
		return nil, nil, apierrors.NewServiceUnavailable(fmt.Sprintf("node %q has no InternalIP address and kubelet endpoint port", name))
	}
	return &url.URL{Scheme: "https", Host: net.JoinHostPort(host, strconv.Itoa(int(port)))}, n.transport, nil
}

// nodeLogs is the API server's pod.LogSource: this server's own agent
// in-process, any other node's over its endpoint's /containerLogs.
type nodeLogs struct {
	local   pod.LogSource // nil: no agent in this server
	name    string
	streams *nodeStreams
}

func (l nodeLogs) Logs(ctx context.Context, p *corev1.Pod, container string, opts *corev1.PodLogOptions) (io.ReadCloser, error) {
	if l.local != nil && p.Spec.NodeName == l.name {
		return l.local.Logs(ctx, p, container, opts)
	}
	base, rt, err := l.streams.Node(ctx, p.Spec.NodeName)
	if err != nil {
		return nil, err
	}
	u := base.JoinPath("containerLogs", p.Namespace, p.Name, container)
	u.RawQuery = stream.LogQuery(opts).Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	resp, err := rt.RoundTrip(req)
	if err != nil {
		return nil, apierrors.NewServiceUnavailable(fmt.Sprintf("get logs of pod %q from node %q: %v", p.Name, p.Spec.NodeName, err))
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		return nil, stream.LogError(resp)
	}
	return resp.Body, nil
}
