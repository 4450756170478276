// Package stream is the node agent's streaming endpoint, the kubelet's
// /exec, /attach and /portForward: `kubectl exec`, `cp`, `attach`, `run -i`
// and `port-forward` reach a pod's containers through it. The API server
// authenticates and authorizes the client (create on pods/exec …), then
// proxies the upgraded connection here, over TLS with its client
// certificate of the cluster's CA, as kube-apiserver reaches a kubelet;
// WebSocket clients (v5.channel.k8s.io, port-forward tunnelling) are
// translated to SPDY by the API server, as upstream does. This endpoint is
// the agent's own (an address and port of its own, published in the Node's
// status.daemonEndpoints), so that an agent on another machine serves its
// pods the same way. It also serves /containerLogs (logs.go): pods/log of a
// pod on another machine than the API server's.
//
// The wire protocols are not ours: k8s.io/cri-streaming's remotecommand and
// portforward servers (the CRI streaming server's) negotiate the
// subprotocols and channels; this package maps a request to a container run
// and hands its streams to the runtime.
package stream

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"

	"k8s.io/cri-streaming/pkg/streaming/portforward"
	"k8s.io/cri-streaming/pkg/streaming/remotecommand"
	utilexec "k8s.io/utils/exec"

	"github.com/batchd/batchd/internal/node/runtime"
)

// ErrPodNotFound is Find's answer for a pod this node does not run.
var ErrPodNotFound = errors.New("pod does not exist")

// Runtime is what the endpoint asks of the container runtime.
type Runtime interface {
	ExecStream(ctx context.Context, id runtime.ID, argv []string, s runtime.Streams) (int, error)
	Attach(ctx context.Context, id runtime.ID, s runtime.Streams) error
}

// Config configures the endpoint's handler.
type Config struct {
	Runtime Runtime
	// Find is the running run of a container of a pod bound to this node:
	// ErrPodNotFound, or runtime.ErrNotRunning when it does not run.
	Find func(namespace, pod, container string) (runtime.ID, error)
	// Running tells whether the pod has a running container (port-forward's
	// target): ErrPodNotFound when not.
	Running func(namespace, pod string) error
	// Dial reaches a port of the pod (default: TCP to 127.0.0.1, as pods
	// share the host's network).
	Dial func(ctx context.Context, namespace, pod string, port int32) (net.Conn, error)
	// ClientUser is the only client certificate's common name served (the
	// API server's); "" serves any verified client (tests).
	ClientUser string
	// Logs serves /containerLogs (nil: 503).
	Logs LogsFunc
	// IdleTimeout ends a session without traffic (default 4h, the
	// kubelet's --streaming-connection-idle-timeout).
	IdleTimeout time.Duration
}

// streamCreationTimeout is how long a client may take to open its streams.
const streamCreationTimeout = remotecommand.DefaultStreamCreationTimeout

// Handler serves /exec, /attach and /portForward as the kubelet does.
func Handler(cfg Config) http.Handler {
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = 4 * time.Hour
	}
	if cfg.Dial == nil {
		cfg.Dial = func(ctx context.Context, _, _ string, port int32) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "tcp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(int(port))))
		}
	}
	s := &server{cfg: cfg}
	mux := http.NewServeMux()
	for _, m := range []string{"GET", "POST"} {
		mux.HandleFunc(m+" /exec/{namespace}/{pod}/{container}", s.exec)
		mux.HandleFunc(m+" /attach/{namespace}/{pod}/{container}", s.attach)
		mux.HandleFunc(m+" /portForward/{namespace}/{pod}", s.portForward)
	}
	mux.HandleFunc("GET /containerLogs/{namespace}/{pod}/{container}", s.containerLogs)
	return s.authorize(mux)
}

type server struct{ cfg Config }

// authorize serves only the API server's client certificate.
func (s *server) authorize(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.cfg.ClientUser != "" {
			if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 || r.TLS.PeerCertificates[0].Subject.CommonName != s.cfg.ClientUser {
				http.Error(w, "Forbidden", http.StatusForbidden)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// find maps the request to a running run, or answers as the kubelet does.
func (s *server) find(w http.ResponseWriter, r *http.Request) (runtime.ID, bool) {
	ns, pod, container := r.PathValue("namespace"), r.PathValue("pod"), r.PathValue("container")
	id, err := s.cfg.Find(ns, pod, container)
	switch {
	case errors.Is(err, ErrPodNotFound):
		http.Error(w, "pod does not exist", http.StatusNotFound)
		return id, false
	case errors.Is(err, runtime.ErrNotRunning):
		// The kubelet's words, which kubectl shows after "unable to upgrade connection: ".
		http.Error(w, fmt.Sprintf("container not found (%q)", container), http.StatusInternalServerError)
		return id, false
	case err != nil:
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return id, false
	}
	return id, true
}

// session reads an exec's or attach's stream options and finds its run;
// false when it answered the request itself.
func (s *server) session(w http.ResponseWriter, r *http.Request) (*remotecommand.Options, runtime.ID, bool) {
	opts, err := remotecommand.NewOptions(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return nil, runtime.ID{}, false
	}
	id, ok := s.find(w, r)
	return opts, id, ok
}

func (s *server) exec(w http.ResponseWriter, r *http.Request) {
	opts, id, ok := s.session(w, r)
	if !ok {
		return
	}
	cmd := r.URL.Query()["command"]
	remotecommand.ServeExec(w, r, executor{rt: s.cfg.Runtime, id: id}, r.PathValue("pod"), "", r.PathValue("container"), cmd,
		opts, s.cfg.IdleTimeout, streamCreationTimeout, remotecommand.SupportedStreamingProtocols)
}

func (s *server) attach(w http.ResponseWriter, r *http.Request) {
	opts, id, ok := s.session(w, r)
	if !ok {
		return
	}
	remotecommand.ServeAttach(w, r, executor{rt: s.cfg.Runtime, id: id}, r.PathValue("pod"), "", r.PathValue("container"),
		opts, s.cfg.IdleTimeout, streamCreationTimeout, remotecommand.SupportedStreamingProtocols)
}

func (s *server) portForward(w http.ResponseWriter, r *http.Request) {
	ns, pod := r.PathValue("namespace"), r.PathValue("pod")
	opts, err := portforward.NewV4Options(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if err := s.cfg.Running(ns, pod); err != nil {
		if errors.Is(err, ErrPodNotFound) {
			http.Error(w, fmt.Sprintf("pod not found (%q)", pod+"_"+ns), http.StatusNotFound)
		} else {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
		return
	}
	portforward.ServePortForward(w, r, forwarder{dial: s.cfg.Dial, namespace: ns}, pod, "", opts,
		s.cfg.IdleTimeout, streamCreationTimeout, portforward.SupportedProtocols)
}

// executor runs exec and attach sessions in one run.
type executor struct {
	rt Runtime
	id runtime.ID
}

func (e executor) streams(ctx context.Context, in io.Reader, out, errw io.WriteCloser, tty bool, resize <-chan remotecommand.TerminalSize) runtime.Streams {
	s := runtime.Streams{TTY: tty}
	// Interfaces holding nil pointers are no streams.
	if in != nil {
		s.Stdin = in
	}
	if out != nil {
		s.Stdout = out
	}
	if errw != nil {
		s.Stderr = errw
	}
	if resize != nil {
		sizes := make(chan runtime.TerminalSize)
		s.Resize = sizes
		go func() {
			defer close(sizes)
			for {
				select {
				case size, ok := <-resize:
					if !ok {
						return
					}
					select {
					case sizes <- runtime.TerminalSize{Width: size.Width, Height: size.Height}:
					case <-ctx.Done():
						return
					}
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	return s
}

func (e executor) ExecInContainer(ctx context.Context, _, _, _ string, cmd []string, in io.Reader, out, errw io.WriteCloser, tty bool, resize <-chan remotecommand.TerminalSize, _ time.Duration) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	code, err := e.rt.ExecStream(ctx, e.id, cmd, e.streams(ctx, in, out, errw, tty, resize))
	if err != nil {
		return err
	}
	if code != 0 {
		// Reported in the error channel as NonZeroExitCode: kubectl exits
		// with it, saying "command terminated with exit code N".
		return utilexec.CodeExitError{Err: fmt.Errorf("command terminated with exit code %d", code), Code: code}
	}
	return nil
}

func (e executor) AttachContainer(ctx context.Context, _, _, _ string, in io.Reader, out, errw io.WriteCloser, tty bool, resize <-chan remotecommand.TerminalSize) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	return e.rt.Attach(ctx, e.id, e.streams(ctx, in, out, errw, tty, resize))
}

// forwarder connects port-forward streams to the pod's ports.
type forwarder struct {
	dial      func(ctx context.Context, namespace, pod string, port int32) (net.Conn, error)
	namespace string
}

func (f forwarder) PortForward(ctx context.Context, pod, _ string, port int32, stream io.ReadWriteCloser) error {
	defer stream.Close()
	conn, err := f.dial(ctx, f.namespace, pod, port)
	if err != nil {
		return fmt.Errorf("failed to connect to localhost:%d inside namespace %q: %w", port, pod, err)
	}
	defer conn.Close()
	go func() {
		// The client's end of the stream half-closes the connection: the
		// pod's server still answers.
		_, _ = io.Copy(conn, stream)
		if c, ok := conn.(interface{ CloseWrite() error }); ok {
			_ = c.CloseWrite()
		}
	}()
	done := make(chan struct{})
	go func() {
		_, _ = io.Copy(stream, conn)
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
	}
	return nil
}

// Serve serves h on ln with TLS until ctx ends: the server's certificate,
// and client certificates required and verified against clientCAs.
func Serve(ctx context.Context, ln net.Listener, cert tls.Certificate, clientCAs *tls.Config, h http.Handler) error {
	cfg := clientCAs.Clone()
	cfg.Certificates = []tls.Certificate{cert}
	cfg.ClientAuth = tls.RequireAndVerifyClientCert
	cfg.MinVersion = tls.VersionTLS12
	// Upgrades (SPDY, WebSocket) are HTTP/1.1's.
	cfg.NextProtos = []string{"http/1.1"}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 30 * time.Second}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	err := srv.Serve(tls.NewListener(ln, cfg))
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}
