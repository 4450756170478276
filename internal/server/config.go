package server

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/utils/clock"

	"github.com/batchd/batchd/internal/apiserver"
	"github.com/batchd/batchd/internal/controller/nodelifecycle"
	"github.com/batchd/batchd/internal/image"
	"github.com/batchd/batchd/internal/join"
	"github.com/batchd/batchd/internal/leader"
	"github.com/batchd/batchd/internal/node/runtime"
)

// Options are the `batchd server` flags.
type Options struct {
	DataDir           string
	BindAddress       string
	SecurePort        int
	EtcdServers       []string
	EtcdCAFile        string
	EtcdCertFile      string
	EtcdKeyFile       string
	DisableWatchCache bool
	// RequestTimeout is kube-apiserver's --request-timeout.
	RequestTimeout   time.Duration
	NodeName         string
	MaxPods          int
	DisableNodeAgent bool
	DisableScheduler bool
	Profiling        bool
	TokenFile        string
	EtcdQuota        string
	DataDirReserve   string
	DefaultRuntime   string
	OCIRuntime       string
	ImageGCHigh      int
	ImageGCLow       int
	ImageMinGCAge    time.Duration
	// ContainerLogMaxSize and ContainerLogMaxFiles cap each container's
	// log, as the kubelet's flags of the same names.
	ContainerLogMaxSize  string
	ContainerLogMaxFiles int
	RunHistory           bool
	RunRetention         time.Duration
	RunLimit             int
	RunLogLimit          string
	// Clock is real or virtual; a virtual one starts at ClockStart (default:
	// now) and runs ClockRate times real time (0: frozen until moved).
	Clock      string
	ClockStart string
	ClockRate  float64
	// LeaderElection is the timing of the controllers' and scheduler's
	// Leases (kube-controller-manager's --leader-elect-* flags).
	LeaderElection leader.Timing
	// NodeLifecycle is kube-controller-manager's --node-monitor-* timing.
	NodeLifecycle nodelifecycle.Timing
	// DefaultNotReadyTolerationSeconds and DefaultUnreachableTolerationSeconds
	// are kube-apiserver's flags of those names.
	DefaultNotReadyTolerationSeconds    int64
	DefaultUnreachableTolerationSeconds int64
	// ClusterInit, JoinServer, Token, AdvertiseAddress and EtcdPeerPort
	// make the embedded etcd one member of a cluster of servers.
	ClusterInit      bool
	JoinServer       string
	Token            string
	AdvertiseAddress string
	EtcdPeerPort     int
}

// DefaultDataDir is $XDG_DATA_HOME/batchd, else ~/.local/share/batchd.
func DefaultDataDir() string {
	if x := os.Getenv("XDG_DATA_HOME"); x != "" {
		return filepath.Join(x, "batchd")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return filepath.Join(os.TempDir(), "batchd")
	}
	return filepath.Join(home, ".local", "share", "batchd")
}

// NewOptions returns the defaults.
func NewOptions() *Options {
	return &Options{DataDir: DefaultDataDir(), BindAddress: "127.0.0.1", SecurePort: 6443, RequestTimeout: apiserver.DefaultRequestTimeout, MaxPods: 110, EtcdQuota: "2Gi", DataDirReserve: "64Mi", DefaultRuntime: "auto",
		ContainerLogMaxSize: "10Mi", ContainerLogMaxFiles: 5,
		RunHistory: true, RunRetention: 30 * 24 * time.Hour, RunLimit: 100, RunLogLimit: "1Mi", Clock: ClockReal,
		ImageGCHigh: image.DefaultGCPolicy.HighPercent, ImageGCLow: image.DefaultGCPolicy.LowPercent, ImageMinGCAge: image.DefaultGCPolicy.MinAge,
		LeaderElection: leader.DefaultTiming, EtcdPeerPort: 2380, NodeLifecycle: nodelifecycle.DefaultTiming,
		DefaultNotReadyTolerationSeconds:    apiserver.DefaultTolerationSeconds.NotReadySeconds,
		DefaultUnreachableTolerationSeconds: apiserver.DefaultTolerationSeconds.UnreachableSeconds}
}

// AddFlags registers the options on fs.
func (o *Options) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.DataDir, "data-dir", o.DataDir, "Directory for etcd data, credentials and the kubeconfig.")
	fs.StringVar(&o.BindAddress, "bind-address", o.BindAddress, "IP address the API server listens on.")
	fs.IntVar(&o.SecurePort, "secure-port", o.SecurePort, "HTTPS port of the API server (0 picks a free port).")
	fs.StringSliceVar(&o.EtcdServers, "etcd-servers", o.EtcdServers, "Use this external etcd cluster (comma-separated client URLs) instead of the embedded etcd.")
	fs.StringVar(&o.EtcdCAFile, "etcd-cafile", o.EtcdCAFile, "CA bundle that signs the external etcd's serving certificates.")
	fs.StringVar(&o.EtcdCertFile, "etcd-certfile", o.EtcdCertFile, "Client certificate for the external etcd.")
	fs.StringVar(&o.EtcdKeyFile, "etcd-keyfile", o.EtcdKeyFile, "Client key for the external etcd.")
	fs.StringVar(&o.NodeName, "node-name", o.NodeName, "Name of the Node that runs this machine's pods (default: the hostname).")
	fs.IntVar(&o.MaxPods, "max-pods", o.MaxPods, "Pods this node accepts at once.")
	fs.BoolVar(&o.DisableNodeAgent, "disable-agent", o.DisableNodeAgent, "Serve the API and run the controllers and the scheduler only: no pods run on this machine (they run on agents: batchd agent).")
	fs.BoolVar(&o.DisableNodeAgent, "disable-node-agent", o.DisableNodeAgent, "The same as --disable-agent (its older name).")
	fs.BoolVar(&o.DisableScheduler, "disable-scheduler", o.DisableScheduler, "Run no scheduler: pods wait until something else binds them to a node (a scheduler of your own, as k3s's flag of the same name).")
	fs.StringVar(&o.TokenFile, "token-file", o.TokenFile, `More users, one per line: token,user,uid,"group1,group2" (kube-apiserver's --token-auth-file format). Group batchd:view may read everything but Secrets; batchd:edit may read and write everything.`)
	fs.BoolVar(&o.Profiling, "profiling", o.Profiling, "Serve Go profiles at /debug/pprof to the admin (as kube-apiserver's --profiling).")
	fs.StringVar(&o.EtcdQuota, "etcd-quota-backend-bytes", o.EtcdQuota, "Size the embedded etcd's database may reach (etcd's --quota-backend-bytes); beyond it only reads and writes toward removing objects (deletes, finalizer removals, status updates) are accepted until objects are deleted. etcd's own quota lies an eighth (at least 8Mi) above, so that these still fit.")
	fs.StringVar(&o.DataDirReserve, "data-dir-reserve", o.DataDirReserve, "Free space the data dir's file system must keep; below it writes are refused but for deletes, finalizer removals and status updates (below a quarter of it, all but deletes), and /readyz fails until space is freed.")
	fs.StringVar(&o.DefaultRuntime, "default-runtime", o.DefaultRuntime, "Runtime of pods without runtimeClassName: auto (as a cluster would where it can: the pod's images, pulled or imported, run with runc/crun; a pod whose image cannot be had, or any pod when no OCI runtime is installed, runs its command on this machine with an ImageUnavailable event), oci (images only: a failed pull is ImagePullBackOff), or host (always the command on this machine, not isolated: a pod shares its file systems, users, processes and network, and a root pod is root here).")
	fs.StringVar(&o.OCIRuntime, "oci-runtime", o.OCIRuntime, "runc or crun binary for runtimeClassName oci (default: runc, else crun, found on PATH).")
	fs.IntVar(&o.ImageGCHigh, "image-gc-high-threshold", o.ImageGCHigh, "Percent of the image file system's space used at which unused images are removed, least recently used first (100 disables it), as the kubelet's flag.")
	fs.IntVar(&o.ImageGCLow, "image-gc-low-threshold", o.ImageGCLow, "Percent of the image file system's space used that image garbage collection frees down to.")
	fs.DurationVar(&o.ImageMinGCAge, "image-minimum-gc-age", o.ImageMinGCAge, "How long an image stays, at least, after it was first seen, before it may be collected.")
	fs.StringVar(&o.ContainerLogMaxSize, "container-log-max-size", o.ContainerLogMaxSize, "Size a container's log file may reach before it is rotated, as the kubelet's flag (e.g. 10Mi).")
	fs.IntVar(&o.ContainerLogMaxFiles, "container-log-max-files", o.ContainerLogMaxFiles, "Log files a container keeps at most, the current one included (at least 2), as the kubelet's flag.")
	fs.BoolVar(&o.RunHistory, "run-history", o.RunHistory, "Keep a JobRun record (kubectl get runs) of every Job and of every CronJob slot that started none, with the logs of their containers.")
	fs.DurationVar(&o.RunRetention, "run-history-retention", o.RunRetention, "How long a JobRun and its logs are kept after the run ended (0: no time limit).")
	fs.IntVar(&o.RunLimit, "run-history-limit", o.RunLimit, "How many JobRuns of each CronJob are kept, the most recent slots (0: no limit).")
	fs.StringVar(&o.RunLogLimit, "run-log-limit", o.RunLogLimit, "Size of each container run's log kept with its JobRun (the tail; 0 keeps none).")
	fs.StringVar(&o.Clock, "clock", o.Clock, "The controllers' and node agent's clock: real, or virtual (for testing schedules: CronJob slots, deadlines, back-offs, TTLs and status times follow it; pods' processes run in real time; the Node gets a VirtualClock condition). A virtual clock is moved with batchd clock advance|set.")
	fs.StringVar(&o.ClockStart, "clock-start", o.ClockStart, "Where a virtual clock starts, as RFC 3339 (e.g. 2027-03-28T00:00:00+01:00; default: now).")
	fs.Float64Var(&o.ClockRate, "clock-rate", o.ClockRate, "Virtual seconds per real second of a virtual clock (60: a virtual minute per second; 0: frozen until moved).")
	fs.BoolVar(&o.ClusterInit, "cluster-init", o.ClusterInit, "Start a cluster of servers: the embedded etcd listens for members at --advertise-address:--etcd-peer-port (mutual TLS with the cluster's CA) and <data-dir>/token holds the token other servers join with.")
	fs.StringVar(&o.JoinServer, "server", o.JoinServer, "Join the cluster of the server at this URL (https://HOST:6443): this server's embedded etcd becomes a member of the same cluster. Needs --token.")
	fs.StringVar(&o.Token, "token", o.Token, "The cluster's join token (K10<CA hash>::server:<secret>, from <data-dir>/token of a server of the cluster).")
	fs.StringVar(&o.AdvertiseAddress, "advertise-address", o.AdvertiseAddress, "Address the other servers of a cluster reach this one at (default: --bind-address).")
	fs.IntVar(&o.EtcdPeerPort, "etcd-peer-port", o.EtcdPeerPort, "Port the embedded etcd listens on for the other members of a cluster (--cluster-init, --server).")
	fs.DurationVar(&o.LeaderElection.LeaseDuration, "leader-elect-lease-duration", o.LeaderElection.LeaseDuration, "How long a server that stopped renewing the controllers' or the scheduler's Lease (kube-system/kube-controller-manager, kube-system/kube-scheduler) keeps it before another server of the cluster takes over.")
	fs.DurationVar(&o.LeaderElection.RenewDeadline, "leader-elect-renew-deadline", o.LeaderElection.RenewDeadline, "How long the leading server tries to renew its Lease before it stops its controllers (less than the lease duration).")
	fs.DurationVar(&o.LeaderElection.RetryPeriod, "leader-elect-retry-period", o.LeaderElection.RetryPeriod, "How often servers try to acquire or renew a Lease.")
	fs.DurationVar(&o.NodeLifecycle.MonitorPeriod, "node-monitor-period", o.NodeLifecycle.MonitorPeriod, "How often the node lifecycle controller looks at every Node's heartbeat (its Lease in kube-node-lease).")
	fs.DurationVar(&o.NodeLifecycle.GracePeriod, "node-monitor-grace-period", o.NodeLifecycle.GracePeriod, "How long a Node may go without a heartbeat before its conditions are Unknown and it gets the node.kubernetes.io/unreachable taints (its pods are evicted once their toleration of the NoExecute one runs out).")
	fs.DurationVar(&o.NodeLifecycle.StartupGracePeriod, "node-startup-grace-period", o.NodeLifecycle.StartupGracePeriod, "The same for a Node that never posted its status.")
	fs.Int64Var(&o.DefaultNotReadyTolerationSeconds, "default-not-ready-toleration-seconds", o.DefaultNotReadyTolerationSeconds, "tolerationSeconds of the node.kubernetes.io/not-ready:NoExecute toleration added to every pod that has none.")
	fs.Int64Var(&o.DefaultUnreachableTolerationSeconds, "default-unreachable-toleration-seconds", o.DefaultUnreachableTolerationSeconds, "tolerationSeconds of the node.kubernetes.io/unreachable:NoExecute toleration added to every pod that has none.")
	fs.BoolVar(&o.DisableWatchCache, "disable-watch-cache", o.DisableWatchCache, "Serve lists and watches from etcd directly: less memory, slower lists.")
	fs.DurationVar(&o.RequestTimeout, "request-timeout", o.RequestTimeout, "How long the API server keeps a request open before it times out (kube-apiserver's flag); watches, logs, exec, attach and port-forward are long-running and not bound by it.")
}

// Validate reports every problem with o.
func (o *Options) Validate() []error {
	var errs []error
	if o.DataDir == "" {
		errs = append(errs, errors.New("--data-dir must not be empty"))
	}
	if net.ParseIP(o.BindAddress) == nil {
		errs = append(errs, fmt.Errorf("--bind-address %q is not an IP address", o.BindAddress))
	}
	if o.SecurePort < 0 || o.SecurePort > 65535 {
		errs = append(errs, fmt.Errorf("--secure-port %d is out of range 0-65535", o.SecurePort))
	}
	for _, s := range o.EtcdServers {
		if !strings.Contains(s, "://") {
			errs = append(errs, fmt.Errorf("--etcd-servers: %q is not a URL (e.g. https://10.0.0.1:2379)", s))
		}
	}
	if o.RequestTimeout <= 0 {
		errs = append(errs, fmt.Errorf("--request-timeout %s must be positive", o.RequestTimeout))
	}
	if o.MaxPods < 1 {
		errs = append(errs, fmt.Errorf("--max-pods %d must be at least 1", o.MaxPods))
	}
	if q, err := resource.ParseQuantity(o.EtcdQuota); err != nil || q.Sign() <= 0 {
		errs = append(errs, fmt.Errorf("--etcd-quota-backend-bytes %q must be a positive quantity such as 2Gi", o.EtcdQuota))
	}
	if q, err := resource.ParseQuantity(o.DataDirReserve); err != nil || q.Sign() < 0 {
		errs = append(errs, fmt.Errorf("--data-dir-reserve %q must be a quantity such as 64Mi", o.DataDirReserve))
	}
	switch o.DefaultRuntime {
	case "host", "oci", "auto":
	default:
		errs = append(errs, fmt.Errorf("--default-runtime %q must be host, oci or auto", o.DefaultRuntime))
	}
	if o.RunRetention < 0 {
		errs = append(errs, fmt.Errorf("--run-history-retention %s must not be negative", o.RunRetention))
	}
	if o.RunLimit < 0 {
		errs = append(errs, fmt.Errorf("--run-history-limit %d must not be negative", o.RunLimit))
	}
	if q, err := resource.ParseQuantity(o.RunLogLimit); err != nil || q.Sign() < 0 {
		errs = append(errs, fmt.Errorf("--run-log-limit %q must be a quantity such as 1Mi", o.RunLogLimit))
	}
	if err := o.imageGC().Validate(); err != nil {
		errs = append(errs, err)
	}
	if q, err := resource.ParseQuantity(o.ContainerLogMaxSize); err != nil || q.Sign() <= 0 {
		errs = append(errs, fmt.Errorf("--container-log-max-size %q must be a positive quantity such as 10Mi", o.ContainerLogMaxSize))
	}
	if o.ContainerLogMaxFiles < 2 {
		errs = append(errs, fmt.Errorf("--container-log-max-files %d must be at least 2", o.ContainerLogMaxFiles))
	}
	if (o.EtcdCertFile == "") != (o.EtcdKeyFile == "") {
		errs = append(errs, errors.New("--etcd-certfile and --etcd-keyfile go together"))
	}
	errs = append(errs, o.LeaderElection.Validate()...)
	errs = append(errs, o.NodeLifecycle.Validate()...)
	errs = append(errs, o.validateCluster()...)
	if c, err := o.clockConfig(time.Now()); err != nil {
		errs = append(errs, err)
	} else if c != nil {
		c.Stop()
	}
	return errs
}

// Config returns the validated configuration.
func (o *Options) Config() (Config, error) {
	if errs := o.Validate(); len(errs) > 0 {
		return Config{}, errors.Join(errs...)
	}
	dir, err := filepath.Abs(o.DataDir)
	if err != nil {
		return Config{}, err
	}
	if err := CheckDataDir(dir); err != nil {
		return Config{}, err
	}
	var clk clock.WithTicker
	if v, err := o.clockConfig(time.Now()); err != nil {
		return Config{}, err
	} else if v != nil {
		clk = v
	}
	return Config{
		Clock:             clk,
		DataDir:           dir,
		BindAddress:       net.ParseIP(o.BindAddress),
		SecurePort:        o.SecurePort,
		EtcdServers:       o.EtcdServers,
		EtcdCAFile:        o.EtcdCAFile,
		EtcdCertFile:      o.EtcdCertFile,
		EtcdKeyFile:       o.EtcdKeyFile,
		DisableWatchCache: o.DisableWatchCache,
		RequestTimeout:    o.RequestTimeout,
		NodeName:          o.NodeName,
		MaxPods:           o.MaxPods,
		DisableNodeAgent:  o.DisableNodeAgent,
		DisableScheduler:  o.DisableScheduler,
		Profiling:         o.Profiling,
		TokenFile:         o.TokenFile,
		EtcdQuota:         quantity(o.EtcdQuota),
		DataDirReserve:    quantity(o.DataDirReserve),
		DefaultRuntime:    o.DefaultRuntime,
		OCIRuntime:        o.OCIRuntime,
		ImageGC:           o.imageGC(),
		ContainerLogs:     runtime.LogLimits{MaxSize: quantity(o.ContainerLogMaxSize), MaxFiles: o.ContainerLogMaxFiles},
		LeaderElection:    o.LeaderElection,
		NodeLifecycle:     o.NodeLifecycle,
		DefaultTolerations: &apiserver.DefaultTolerations{NotReadySeconds: o.DefaultNotReadyTolerationSeconds,
			UnreachableSeconds: o.DefaultUnreachableTolerationSeconds},
		Cluster:    o.cluster(),
		RunHistory: RunHistory{Enabled: o.RunHistory, Retention: o.RunRetention, PerCronJob: o.RunLimit, LogLimit: quantity(o.RunLogLimit)},
	}, nil
}

func (o *Options) imageGC() image.GCPolicy {
	return image.GCPolicy{HighPercent: o.ImageGCHigh, LowPercent: o.ImageGCLow, MinAge: o.ImageMinGCAge}
}

// Config is a validated server configuration.
type Config struct {
	DataDir           string
	BindAddress       net.IP
	SecurePort        int
	EtcdServers       []string
	EtcdCAFile        string
	EtcdCertFile      string
	EtcdKeyFile       string
	DisableWatchCache bool
	// RequestTimeout bounds requests that are not long-running (zero:
	// kube-apiserver's 60 s).
	RequestTimeout time.Duration
	// ShutdownTimeout bounds how long a stopping server waits for its
	// connections to close (zero: apiserver.ShutdownTimeout). batchd run's
	// ephemeral engine, whose clients are all in its own process and done
	// by then, waits a fraction of a second.
	ShutdownTimeout time.Duration
	// NodeName names this machine's Node (default: the hostname).
	NodeName string
	// MaxPods is the node's pod capacity (default 110).
	MaxPods int
	// DisableNodeAgent runs no pods on this machine (the scheduler still runs).
	DisableNodeAgent bool
	// DisableScheduler runs no scheduler (--disable-scheduler: tests and
	// benchmarks that bind pods themselves).
	DisableScheduler bool
	// Profiling serves /debug/pprof.
	Profiling bool
	// TokenFile authenticates more users (see apiserver.Config.TokenFile).
	TokenFile string
	// EtcdQuota caps the embedded etcd's database (bytes; 0: etcd's 2 GiB).
	EtcdQuota int64
	// DataDirReserve is the free space the data dir must keep (bytes).
	DataDirReserve int64
	// DefaultRuntime is host, oci or auto (see node.RuntimeHost/RuntimeOCI).
	DefaultRuntime string
	// OCIRuntime is the runc/crun binary ("": found on PATH).
	OCIRuntime string
	// ImageGC is when unused images are removed.
	ImageGC image.GCPolicy
	// ContainerLogs caps each container's log (zero: no cap).
	ContainerLogs runtime.LogLimits
	// RunHistory is the run history's configuration (zero: off).
	RunHistory RunHistory
	// LeaderElection is the timing of the Leases that make one server of
	// a cluster run the controllers and the scheduler.
	LeaderElection leader.Timing
	// NodeLifecycle is how nodes' heartbeats are watched (zero:
	// nodelifecycle.DefaultTiming).
	NodeLifecycle nodelifecycle.Timing
	// PodGCPeriod is how often pods no agent will finish are collected
	// (tests; zero: upstream's 20 s).
	PodGCPeriod time.Duration
	// DefaultTolerations are given to pods without not-ready and
	// unreachable tolerations (nil: 300 s each).
	DefaultTolerations *apiserver.DefaultTolerations
	// Cluster makes the embedded etcd one member of a cluster (nil: a
	// single member).
	Cluster *Cluster
	// UnsafeNoFsync makes the embedded etcd skip fsync: for data that
	// need not outlive the process (tests, batchd run's ephemeral server).
	UnsafeNoFsync bool
	// Log receives the server's own lines (its clock, the node's runtimes,
	// storage space warnings) and the embedded etcd's warnings (nil:
	// standard error). The API server's and client libraries' lines go
	// through klog, whose output is the process's.
	Log io.Writer
	// Node replaces parts of the node half (tests: a fake runtime and clock).
	Node NodeOptions
	// Clock is the controllers' and node agent's time (nil: the real one);
	// a *vclock.Clock makes the server's clock virtual: it is reported as
	// such and moved through the clock endpoint.
	Clock clock.WithTicker
	// TokenClock issues and checks service-account tokens (tests only; nil: the real clock).
	TokenClock clock.PassiveClock
}

// KubeconfigPath is where the admin kubeconfig of a data dir lives.
func KubeconfigPath(dataDir string) string { return filepath.Join(dataDir, "kubeconfig") }

// quantity is the byte count of a validated quantity.
func quantity(s string) int64 {
	q := resource.MustParse(s)
	return q.Value()
}

// RunHistory configures the run history (JobRuns and their kept logs).
type RunHistory struct {
	Enabled bool
	// Retention is how long a record is kept after its run ended (0: no limit).
	Retention time.Duration
	// PerCronJob is how many records of a CronJob are kept (0: no limit).
	PerCronJob int
	// LogLimit is the bytes kept of each container run's log (0: none).
	LogLimit int64
}

// Cluster is how a server's embedded etcd is one member of a cluster.
type Cluster struct {
	// Init starts a cluster; else Server is the URL of a server of the
	// cluster to join, with Token.
	Init   bool
	Server string
	Token  join.Token
	// Advertise is the address other members reach this one at;
	// PeerPort the port its etcd listens on for them.
	Advertise net.IP
	PeerPort  int
}

func (o *Options) validateCluster() []error {
	var errs []error
	if !o.ClusterInit && o.JoinServer == "" {
		if o.Token != "" {
			errs = append(errs, errors.New("--token goes with --server"))
		}
		return errs
	}
	if o.ClusterInit && o.JoinServer != "" {
		errs = append(errs, errors.New("--cluster-init and --server exclude each other: a server starts a cluster or joins one"))
	}
	if len(o.EtcdServers) > 0 {
		errs = append(errs, errors.New("--cluster-init and --server cluster the embedded etcd: not with --etcd-servers"))
	}
	if o.JoinServer != "" {
		if !strings.HasPrefix(o.JoinServer, "https://") {
			errs = append(errs, fmt.Errorf("--server %q must be an https:// URL", o.JoinServer))
		}
		if _, err := join.ParseToken(o.Token); err != nil {
			errs = append(errs, fmt.Errorf("--token: %w", err))
		}
	}
	if o.AdvertiseAddress != "" && net.ParseIP(o.AdvertiseAddress) == nil {
		errs = append(errs, fmt.Errorf("--advertise-address %q is not an IP address", o.AdvertiseAddress))
	}
	if ip := net.ParseIP(o.BindAddress); o.AdvertiseAddress == "" && ip != nil && ip.IsUnspecified() {
		errs = append(errs, errors.New("--advertise-address must be set when --bind-address listens on every address"))
	}
	if o.EtcdPeerPort < 1 || o.EtcdPeerPort > 65535 {
		errs = append(errs, fmt.Errorf("--etcd-peer-port %d is out of range 1-65535", o.EtcdPeerPort))
	}
	return errs
}

func (o *Options) cluster() *Cluster {
	if !o.ClusterInit && o.JoinServer == "" {
		return nil
	}
	c := &Cluster{Init: o.ClusterInit, Server: strings.TrimSuffix(o.JoinServer, "/"), PeerPort: o.EtcdPeerPort, Advertise: net.ParseIP(o.AdvertiseAddress)}
	if c.Advertise == nil {
		c.Advertise = net.ParseIP(o.BindAddress)
	}
	if o.JoinServer != "" {
		c.Token, _ = join.ParseToken(o.Token)
	}
	return c
}
