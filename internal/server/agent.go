package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/pflag"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/kubernetes"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	restclient "k8s.io/client-go/rest"

	"github.com/batchd/batchd/internal/controller"
	"github.com/batchd/batchd/internal/eventsink"
	"github.com/batchd/batchd/internal/image"
	"github.com/batchd/batchd/internal/join"
	"github.com/batchd/batchd/internal/node/runtime"
)

// AgentOptions are the `batchd agent` flags.
type AgentOptions struct {
	DataDir          string
	Server           string
	Token            string
	TokenFile        string
	NodeName         string
	BindAddress      string
	AdvertiseAddress string
	SecurePort       int
	NodeLabels       []string
	NodeTaints       []string
	MaxPods          int
	DefaultRuntime   string
	OCIRuntime       string
}

// DefaultAgentPort is the kubelet's port, where an agent serves its pods'
// logs and streams to the API servers.
const DefaultAgentPort = 10250

// NewAgentOptions returns the defaults.
func NewAgentOptions() *AgentOptions {
	return &AgentOptions{DataDir: filepath.Join(filepath.Dir(DefaultDataDir()), "batchd-agent"), BindAddress: "127.0.0.1", SecurePort: DefaultAgentPort,
		MaxPods: 110, DefaultRuntime: "auto"}
}

// AddFlags registers the options on fs.
func (o *AgentOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.DataDir, "data-dir", o.DataDir, "Directory for the agent's credentials, pods, images and volumes.")
	fs.StringVar(&o.Server, "server", o.Server, "URL of a batchd server of the cluster, e.g. https://10.0.0.1:6443.")
	fs.StringVar(&o.Token, "token", o.Token, "The cluster's join token (<data-dir>/token on a server): K10<CA hash>::server:<secret>.")
	fs.StringVar(&o.TokenFile, "token-file", o.TokenFile, "File holding the join token, instead of --token (which other processes of the machine, and host pods, can read in the agent's command line).")
	fs.StringVar(&o.NodeName, "node-name", o.NodeName, "Name of this agent's Node (default: the hostname).")
	fs.StringVar(&o.BindAddress, "bind-address", o.BindAddress, "IP address the agent serves its pods' logs, exec, attach and port-forward on (to the API servers only).")
	fs.StringVar(&o.AdvertiseAddress, "advertise-address", o.AdvertiseAddress, "Address the API servers reach this agent at: its Node's InternalIP (default: --bind-address).")
	fs.IntVar(&o.SecurePort, "secure-port", o.SecurePort, "HTTPS port of the agent's endpoint for logs and streams (0 picks a free port).")
	fs.StringSliceVar(&o.NodeLabels, "node-labels", o.NodeLabels, "Labels of the Node, key=value,... (the kubelet's --node-labels).")
	fs.StringSliceVar(&o.NodeTaints, "node-taints", o.NodeTaints, "Taints the Node is registered with, key=value:Effect,... (the kubelet's --register-with-taints).")
	fs.IntVar(&o.MaxPods, "max-pods", o.MaxPods, "Pods this node accepts at once.")
	fs.StringVar(&o.DefaultRuntime, "default-runtime", o.DefaultRuntime, "Runtime of pods without runtimeClassName: auto, oci or host (as batchd server's flag).")
	fs.StringVar(&o.OCIRuntime, "oci-runtime", o.OCIRuntime, "The runc or crun binary of RuntimeClass oci (default: runc, else crun, on PATH).")
}

// Validate reports every problem with o.
func (o *AgentOptions) Validate() []error {
	var errs []error
	if o.DataDir == "" {
		errs = append(errs, errors.New("--data-dir must not be empty"))
	}
	if !strings.HasPrefix(o.Server, "https://") {
		errs = append(errs, fmt.Errorf("--server %q must be an https:// URL of a batchd server", o.Server))
	}
	if _, err := o.token(); err != nil {
		errs = append(errs, err)
	}
	bind := net.ParseIP(o.BindAddress)
	if bind == nil {
		errs = append(errs, fmt.Errorf("--bind-address %q is not an IP address", o.BindAddress))
	}
	if o.AdvertiseAddress != "" && net.ParseIP(o.AdvertiseAddress) == nil {
		errs = append(errs, fmt.Errorf("--advertise-address %q is not an IP address", o.AdvertiseAddress))
	}
	if o.AdvertiseAddress == "" && bind != nil && bind.IsUnspecified() {
		errs = append(errs, errors.New("--advertise-address must be set when --bind-address listens on every address"))
	}
	if o.SecurePort < 0 || o.SecurePort > 65535 {
		errs = append(errs, fmt.Errorf("--secure-port %d is out of range 0-65535", o.SecurePort))
	}
	if o.NodeName != "" {
		if msgs := validation.IsDNS1123Subdomain(o.NodeName); len(msgs) > 0 {
			errs = append(errs, fmt.Errorf("--node-name %q: %s", o.NodeName, strings.Join(msgs, "; ")))
		}
	}
	if _, err := ParseNodeLabels(o.NodeLabels); err != nil {
		errs = append(errs, err)
	}
	if _, err := ParseNodeTaints(o.NodeTaints); err != nil {
		errs = append(errs, err)
	}
	if o.MaxPods < 1 {
		errs = append(errs, fmt.Errorf("--max-pods %d must be at least 1", o.MaxPods))
	}
	switch o.DefaultRuntime {
	case "host", "oci", "auto":
	default:
		errs = append(errs, fmt.Errorf("--default-runtime %q must be host, oci or auto", o.DefaultRuntime))
	}
	return errs
}

// token is the join token of --token or --token-file.
func (o *AgentOptions) token() (join.Token, error) {
	switch {
	case o.Token != "" && o.TokenFile != "":
		return join.Token{}, errors.New("--token and --token-file exclude each other")
	case o.TokenFile != "":
		data, err := os.ReadFile(o.TokenFile)
		if err != nil {
			return join.Token{}, fmt.Errorf("--token-file: %w", err)
		}
		tok, err := join.ParseToken(string(data))
		if err != nil {
			return join.Token{}, fmt.Errorf("--token-file %s: %w", o.TokenFile, err)
		}
		return tok, nil
	}
	tok, err := join.ParseToken(o.Token)
	if err != nil {
		return join.Token{}, fmt.Errorf("--token: %w", err)
	}
	return tok, nil
}

// ParseNodeLabels reads key=value pairs, each a valid label.
func ParseNodeLabels(in []string) (map[string]string, error) {
	out := map[string]string{}
	for _, kv := range in {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, fmt.Errorf("--node-labels %q: want key=value", kv)
		}
		if msgs := validation.IsQualifiedName(k); len(msgs) > 0 {
			return nil, fmt.Errorf("--node-labels key %q: %s", k, strings.Join(msgs, "; "))
		}
		if msgs := validation.IsValidLabelValue(v); len(msgs) > 0 {
			return nil, fmt.Errorf("--node-labels value %q: %s", v, strings.Join(msgs, "; "))
		}
		out[k] = v
	}
	return out, nil
}

// ParseNodeTaints reads key[=value]:Effect taints.
func ParseNodeTaints(in []string) ([]corev1.Taint, error) {
	var out []corev1.Taint
	for _, s := range in {
		kv, effect, ok := strings.Cut(s, ":")
		if !ok {
			return nil, fmt.Errorf("--node-taints %q: want key=value:Effect", s)
		}
		k, v, _ := strings.Cut(kv, "=")
		switch e := corev1.TaintEffect(effect); e {
		case corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute:
		default:
			return nil, fmt.Errorf("--node-taints %q: effect must be NoSchedule, PreferNoSchedule or NoExecute", s)
		}
		if msgs := validation.IsQualifiedName(k); len(msgs) > 0 {
			return nil, fmt.Errorf("--node-taints key %q: %s", k, strings.Join(msgs, "; "))
		}
		if msgs := validation.IsValidLabelValue(v); len(msgs) > 0 {
			return nil, fmt.Errorf("--node-taints value %q: %s", v, strings.Join(msgs, "; "))
		}
		out = append(out, corev1.Taint{Key: k, Value: v, Effect: corev1.TaintEffect(effect)})
	}
	return out, nil
}

// AgentConfig is a validated agent configuration.
type AgentConfig struct {
	DataDir    string
	Server     string
	Token      join.Token
	NodeName   string
	Bind       net.IP
	Advertise  net.IP
	SecurePort int
	Labels     map[string]string
	Taints     []corev1.Taint
	MaxPods    int
	// DefaultRuntime and OCIRuntime are as the server's.
	DefaultRuntime, OCIRuntime string
	// Log receives the agent's own lines (nil: standard error).
	Log io.Writer
}

// Config returns the validated configuration.
func (o *AgentOptions) Config() (AgentConfig, error) {
	if errs := o.Validate(); len(errs) > 0 {
		return AgentConfig{}, errors.Join(errs...)
	}
	dir, err := filepath.Abs(o.DataDir)
	if err != nil {
		return AgentConfig{}, err
	}
	if err := CheckDataDir(dir); err != nil {
		return AgentConfig{}, err
	}
	tok, _ := o.token()
	labels, _ := ParseNodeLabels(o.NodeLabels)
	taints, _ := ParseNodeTaints(o.NodeTaints)
	c := AgentConfig{DataDir: dir, Server: strings.TrimSuffix(o.Server, "/"), Token: tok, NodeName: o.NodeName, Bind: net.ParseIP(o.BindAddress),
		Advertise: net.ParseIP(o.AdvertiseAddress), SecurePort: o.SecurePort, Labels: labels, Taints: taints, MaxPods: o.MaxPods,
		DefaultRuntime: o.DefaultRuntime, OCIRuntime: o.OCIRuntime}
	if c.Advertise == nil {
		c.Advertise = c.Bind
	}
	if c.NodeName == "" {
		h, _ := os.Hostname()
		c.NodeName = strings.ToLower(h)
	}
	return c, nil
}

// RunAgent runs a node agent only, for the cluster of the server at
// cfg.Server, until ctx ends: it gets its node credentials with the join
// token (once; they are kept in its data dir), registers its Node and
// renews its Lease, runs the pods bound to it and serves their logs and
// streams to the API servers. ready is called once it serves.
func RunAgent(ctx context.Context, cfg AgentConfig, ready func(endpoint string)) error {
	lock, err := claimDataDir(cfg.DataDir)
	if err != nil {
		return err
	}
	defer lock.release()
	hosts := []string{cfg.Advertise.String()}
	if !cfg.Bind.IsUnspecified() && !cfg.Bind.Equal(cfg.Advertise) {
		hosts = append(hosts, cfg.Bind.String())
	}
	creds, err := join.EnsureNodeCredentials(ctx, filepath.Join(cfg.DataDir, "pki"), cfg.Server, cfg.Token, cfg.NodeName, hosts)
	if err != nil {
		return err
	}
	endpoint, err := newStreamEndpoint(creds.ServingCert, creds.ServingKey, creds.CACert, net.JoinHostPort(cfg.Bind.String(), strconv.Itoa(cfg.SecurePort)))
	if err != nil {
		return err
	}
	defer endpoint.ln.Close()
	addr := "https://" + net.JoinHostPort(cfg.Advertise.String(), strconv.Itoa(int(endpoint.port())))
	if err := lock.setURL(addr); err != nil {
		return err
	}
	ncfg := Config{DataDir: cfg.DataDir, NodeName: cfg.NodeName, MaxPods: cfg.MaxPods, DefaultRuntime: cfg.DefaultRuntime, OCIRuntime: cfg.OCIRuntime,
		ImageGC: image.DefaultGCPolicy, ContainerLogs: runtime.LogLimits{MaxSize: 10 << 20, MaxFiles: 5}, Log: cfg.Log}
	agent, err := newNodeRuntime(ncfg, endpoint)
	if err != nil {
		return err
	}
	agent.machine.IP = cfg.Advertise.String()
	agent.machine.Labels, agent.machine.Taints = cfg.Labels, cfg.Taints
	u, err := url.Parse(cfg.Server)
	if err != nil {
		return fmt.Errorf("--server: %w", err)
	}
	agent.apiHost, agent.apiPort = u.Hostname(), u.Port()
	if agent.apiPort == "" {
		agent.apiPort = "443"
	}
	rc := &restclient.Config{Host: cfg.Server, QPS: 50, Burst: 100,
		TLSClientConfig: restclient.TLSClientConfig{CAData: creds.CACert, CertData: creds.ClientCert, KeyData: creds.ClientKey}}
	client, err := kubernetes.NewForConfig(controller.QuietConfig(speakingAs(rc, "kubelet")))
	if err != nil {
		return err
	}
	broadcaster := eventsink.New(ctx, &typedcorev1.EventSinkImpl{Interface: client.CoreV1().Events("")})
	agentDone := agent.startAgent(ctx, client, broadcaster)
	// The agent's last events (a pod's Killing at the stop) are written
	// before this returns.
	defer func() { <-agentDone; flushEvents(broadcaster, ncfg.log()) }()
	fmt.Fprintf(ncfg.log(), "agent: node %s serves logs and streams at %s for the cluster of %s\n", cfg.NodeName, addr, cfg.Server)
	if ready != nil {
		ready(addr)
	}
	<-ctx.Done()
	return nil
}
