package pod

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/conversion"
	"k8s.io/apimachinery/pkg/runtime"
	utilproxy "k8s.io/apimachinery/pkg/util/proxy"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/apiserver/pkg/endpoints/handlers/responsewriters"
	"k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/apiserver/pkg/util/proxy"
	"k8s.io/streaming/pkg/httpstream/wsstream"
)

// NodeConnection reaches the streaming endpoint of a node's agent (the
// kubelet's /exec, /attach, /portForward), as kube-apiserver's
// ConnectionInfoGetter reaches a kubelet: its base URL, and the transport
// that authenticates the API server to it.
type NodeConnection interface {
	Node(ctx context.Context, node string) (*url.URL, http.RoundTripper, error)
}

// Streams configures pods/exec, attach and portforward.
type Streams struct {
	// Nodes reaches the nodes' agents (nil: 503).
	Nodes NodeConnection
	// Authorizer checks that the user may create the subresource when
	// the request came as a GET (a WebSocket upgrade, authorized as get),
	// as kube-apiserver does since 1.35
	// (AuthorizePodWebsocketUpgradeCreatePermission): nil, no second check.
	Authorizer authorizer.Authorizer
}

// authorizeCreate is that second check.
func (s *Streams) authorizeCreate(ctx context.Context, subresource, name string) error {
	if s == nil || s.Authorizer == nil {
		return nil
	}
	info, ok := request.RequestInfoFrom(ctx)
	if !ok || info.Verb == "create" {
		return nil
	}
	u, ok := request.UserFrom(ctx)
	if !ok {
		return apierrors.NewUnauthorized("no user")
	}
	attrs := authorizer.AttributesRecord{User: u, Verb: "create", Namespace: info.Namespace, APIGroup: info.APIGroup, APIVersion: info.APIVersion,
		Resource: "pods", Subresource: subresource, Name: name, ResourceRequest: true}
	d, reason, err := s.Authorizer.Authorize(ctx, attrs)
	if d == authorizer.DecisionAllow {
		return nil
	}
	if err != nil && reason == "" {
		reason = err.Error()
	}
	return responsewriters.ForbiddenStatusError(attrs, reason)
}

func (s *Streams) nodes() NodeConnection {
	if s == nil {
		return nil
	}
	return s.Nodes
}

// upgradeMethods: GET as well as POST, for browsers' WebSockets.
var upgradeMethods = []string{"GET", "POST"}

// ExecREST serves pods/exec: the API server checks the pod and container and
// proxies the connection to the node's agent; WebSocket clients speaking
// v5.channel.k8s.io are translated to SPDY, as kube-apiserver does.
type ExecREST struct {
	Store   *registry.Store
	Streams *Streams
}

var _ rest.Connecter = &ExecREST{}

func (r *ExecREST) New() runtime.Object { return &corev1.Pod{} }
func (r *ExecREST) Destroy()            {}

func (r *ExecREST) NewConnectOptions() (runtime.Object, bool, string) {
	return &corev1.PodExecOptions{}, false, ""
}

func (r *ExecREST) ConnectMethods() []string { return upgradeMethods }

func (r *ExecREST) Connect(ctx context.Context, name string, opts runtime.Object, responder rest.Responder) (http.Handler, error) {
	o, ok := opts.(*corev1.PodExecOptions)
	if !ok {
		return nil, fmt.Errorf("invalid options object: %#v", opts)
	}
	if err := r.Streams.authorizeCreate(ctx, "exec", name); err != nil {
		return nil, err
	}
	params := url.Values{}
	for _, c := range o.Command {
		params.Add("command", c)
	}
	streamParams(params, o.Stdin, o.Stdout, o.Stderr, o.TTY)
	location, transport, err := streamLocation(ctx, r.Store, r.Streams.nodes(), name, o.Container, "exec", params)
	if err != nil {
		return nil, err
	}
	return remoteCommandHandler(location, transport, responder, proxy.Options{Stdin: o.Stdin, Stdout: o.Stdout, Stderr: o.Stderr, Tty: o.TTY}), nil
}

// AttachREST serves pods/attach, as ExecREST serves exec.
type AttachREST struct {
	Store   *registry.Store
	Streams *Streams
}

var _ rest.Connecter = &AttachREST{}

func (r *AttachREST) New() runtime.Object { return &corev1.Pod{} }
func (r *AttachREST) Destroy()            {}

func (r *AttachREST) NewConnectOptions() (runtime.Object, bool, string) {
	return &corev1.PodAttachOptions{}, false, ""
}

func (r *AttachREST) ConnectMethods() []string { return upgradeMethods }

func (r *AttachREST) Connect(ctx context.Context, name string, opts runtime.Object, responder rest.Responder) (http.Handler, error) {
	o, ok := opts.(*corev1.PodAttachOptions)
	if !ok {
		return nil, fmt.Errorf("invalid options object: %#v", opts)
	}
	if err := r.Streams.authorizeCreate(ctx, "attach", name); err != nil {
		return nil, err
	}
	params := url.Values{}
	streamParams(params, o.Stdin, o.Stdout, o.Stderr, o.TTY)
	location, transport, err := streamLocation(ctx, r.Store, r.Streams.nodes(), name, o.Container, "attach", params)
	if err != nil {
		return nil, err
	}
	return remoteCommandHandler(location, transport, responder, proxy.Options{Stdin: o.Stdin, Stdout: o.Stdout, Stderr: o.Stderr, Tty: o.TTY}), nil
}

// PortForwardREST serves pods/portforward: SPDY proxied to the node's
// agent; WebSocket clients tunnelling SPDY (kubectl's default since 1.31)
// are unwrapped here, as kube-apiserver does.
type PortForwardREST struct {
	Store   *registry.Store
	Streams *Streams
}

var _ rest.Connecter = &PortForwardREST{}

func (r *PortForwardREST) New() runtime.Object { return &corev1.Pod{} }
func (r *PortForwardREST) Destroy()            {}

func (r *PortForwardREST) NewConnectOptions() (runtime.Object, bool, string) {
	return &corev1.PodPortForwardOptions{}, false, ""
}

func (r *PortForwardREST) ConnectMethods() []string { return upgradeMethods }

func (r *PortForwardREST) Connect(ctx context.Context, name string, opts runtime.Object, responder rest.Responder) (http.Handler, error) {
	o, ok := opts.(*corev1.PodPortForwardOptions)
	if !ok {
		return nil, fmt.Errorf("invalid options object: %#v", opts)
	}
	if err := r.Streams.authorizeCreate(ctx, "portforward", name); err != nil {
		return nil, err
	}
	p, err := getPod(ctx, r.Store, name)
	if err != nil {
		return nil, err
	}
	if p.Spec.NodeName == "" {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("pod %s does not have a host assigned", name))
	}
	base, transport, err := nodeLocation(ctx, r.Streams.nodes(), p.Spec.NodeName)
	if err != nil {
		return nil, err
	}
	params := url.Values{}
	for _, port := range o.Ports {
		params.Add("port", strconv.Itoa(int(port)))
	}
	location := *base
	location.Path = fmt.Sprintf("/portForward/%s/%s", p.Namespace, p.Name)
	location.RawQuery = params.Encode()
	upgrade := upgradeHandler(&location, transport, responder)
	return proxy.NewTranslatingHandler(upgrade, proxy.NewTunnelingHandler(upgrade), wsstream.IsWebSocketRequestWithTunnelingProtocol), nil
}

func nodeLocation(ctx context.Context, nodes NodeConnection, node string) (*url.URL, http.RoundTripper, error) {
	if nodes == nil {
		return nil, nil, apierrors.NewServiceUnavailable(fmt.Sprintf("no node agent serves streams for node %q", node))
	}
	base, transport, err := nodes.Node(ctx, node)
	if err != nil {
		return nil, nil, err
	}
	return base, transport, nil
}

func getPod(ctx context.Context, store *registry.Store, name string) (*corev1.Pod, error) {
	obj, err := store.Get(ctx, name, &metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	return obj.(*corev1.Pod), nil
}

// streamLocation is the node agent's URL for a container of the pod, with
// kube-apiserver's checks: the container is the pod's (its only one when
// not named), and the pod is bound to a node.
func streamLocation(ctx context.Context, store *registry.Store, nodes NodeConnection, name, container, path string, params url.Values) (*url.URL, http.RoundTripper, error) {
	p, err := getPod(ctx, store, name)
	if err != nil {
		return nil, nil, err
	}
	if container == "" {
		switch len(p.Spec.Containers) {
		case 1:
			container = p.Spec.Containers[0].Name
		case 0:
			return nil, nil, apierrors.NewBadRequest(fmt.Sprintf("a container name must be specified for pod %s", name))
		default:
			msg := fmt.Sprintf("a container name must be specified for pod %s, choose one of: %v", name, containerNames(p.Spec.Containers))
			if len(p.Spec.InitContainers) > 0 {
				msg += fmt.Sprintf(" or one of the init containers: %v", containerNames(p.Spec.InitContainers))
			}
			return nil, nil, apierrors.NewBadRequest(msg)
		}
	} else if !hasContainer(p, container) {
		return nil, nil, apierrors.NewBadRequest(fmt.Sprintf("container %s is not valid for pod %s", container, name))
	}
	if p.Spec.NodeName == "" {
		return nil, nil, apierrors.NewBadRequest(fmt.Sprintf("pod %s does not have a host assigned", name))
	}
	base, transport, err := nodeLocation(ctx, nodes, p.Spec.NodeName)
	if err != nil {
		return nil, nil, err
	}
	loc := *base
	loc.Path = fmt.Sprintf("/%s/%s/%s/%s", path, p.Namespace, p.Name, container)
	loc.RawQuery = params.Encode()
	return &loc, transport, nil
}

func containerNames(cs []corev1.Container) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.Name
	}
	return out
}

func hasContainer(p *corev1.Pod, name string) bool {
	for _, list := range [][]corev1.Container{p.Spec.Containers, p.Spec.InitContainers, ephemeral(p)} {
		for _, c := range list {
			if c.Name == name {
				return true
			}
		}
	}
	return false
}

// streamParams are the kubelet's query parameters for the streams asked for.
func streamParams(params url.Values, stdin, stdout, stderr, tty bool) {
	for _, p := range []struct {
		on   bool
		name string
	}{{stdin, "input"}, {stdout, "output"}, {stderr, "error"}, {tty, "tty"}} {
		if p.on {
			params.Add(p.name, "1")
		}
	}
}

// remoteCommandHandler proxies exec and attach: SPDY (and the older
// WebSocket protocols) as they are, WebSocket v5 translated to SPDY.
func remoteCommandHandler(location *url.URL, transport http.RoundTripper, responder rest.Responder, opts proxy.Options) http.Handler {
	return proxy.NewTranslatingHandler(upgradeHandler(location, transport, responder),
		proxy.NewStreamTranslatorHandler(location, transport, 0, opts), wsstream.IsWebSocketRequestWithStreamCloseProtocol)
}

func upgradeHandler(location *url.URL, transport http.RoundTripper, responder rest.Responder) http.Handler {
	h := utilproxy.NewUpgradeAwareHandler(location, transport, false, true, errorResponder{responder})
	return h
}

// errorResponder reports a proxy's errors through the API's responder.
type errorResponder struct{ rest.Responder }

func (e errorResponder) Error(_ http.ResponseWriter, _ *http.Request, err error) {
	e.Responder.Error(err)
}

// RegisterStreamOptionsConversion teaches the scheme to read the exec,
// attach and port-forward options from a query string (upstream generates
// these conversions; k8s.io/api does not ship them).
func RegisterStreamOptionsConversion(s *runtime.Scheme) error {
	// stdout and stderr default to true, as upstream's v1 defaults say.
	flag := func(q url.Values, name string) (bool, error) {
		v := q.Get(name)
		if v == "" {
			return name == "stdout" || name == "stderr", nil
		}
		b, err := strconv.ParseBool(v)
		if err != nil {
			return false, fmt.Errorf("%s: %w", name, err)
		}
		return b, nil
	}
	flags := func(q url.Values, dst map[string]*bool) error {
		for name, p := range dst {
			v, err := flag(q, name)
			if err != nil {
				return err
			}
			*p = v
		}
		return nil
	}
	if err := s.AddConversionFunc((*url.Values)(nil), (*corev1.PodExecOptions)(nil), func(a, b any, _ conversion.Scope) error {
		q, o := *a.(*url.Values), b.(*corev1.PodExecOptions)
		o.Container, o.Command = q.Get("container"), q["command"]
		return flags(q, map[string]*bool{"stdin": &o.Stdin, "stdout": &o.Stdout, "stderr": &o.Stderr, "tty": &o.TTY})
	}); err != nil {
		return err
	}
	if err := s.AddConversionFunc((*url.Values)(nil), (*corev1.PodAttachOptions)(nil), func(a, b any, _ conversion.Scope) error {
		q, o := *a.(*url.Values), b.(*corev1.PodAttachOptions)
		o.Container = q.Get("container")
		return flags(q, map[string]*bool{"stdin": &o.Stdin, "stdout": &o.Stdout, "stderr": &o.Stderr, "tty": &o.TTY})
	}); err != nil {
		return err
	}
	return s.AddConversionFunc((*url.Values)(nil), (*corev1.PodPortForwardOptions)(nil), func(a, b any, _ conversion.Scope) error {
		q, o := *a.(*url.Values), b.(*corev1.PodPortForwardOptions)
		o.Ports = nil
		for _, v := range q["ports"] {
			n, err := strconv.ParseInt(v, 10, 32)
			if err != nil {
				return fmt.Errorf("ports: %w", err)
			}
			o.Ports = append(o.Ports, int32(n))
		}
		return nil
	})
}
