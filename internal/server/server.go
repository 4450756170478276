package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/server/healthz"

	"k8s.io/client-go/kubernetes"
	restclient "k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/utils/clock"

	"github.com/batchd/batchd/internal/apiserver"
	"github.com/batchd/batchd/internal/controller"
	"github.com/batchd/batchd/internal/join"
	"github.com/batchd/batchd/internal/leader"
	"github.com/batchd/batchd/internal/pki"
	"github.com/batchd/batchd/internal/storage"
	"github.com/batchd/batchd/internal/ui"
	"github.com/batchd/batchd/internal/vclock"
)

// Ready describes a serving batchd.
type Ready struct {
	// URL is the API server's address, e.g. https://127.0.0.1:6443.
	URL string
	// Kubeconfig is the admin kubeconfig written for this server.
	Kubeconfig string
	// Admin is the admin's client config (bearer token, CA).
	Admin *restclient.Config
	// Loopback is the server's own client config (what its controllers
	// use): the only writer of JobRuns. For tests in the server's process:
	// it reaches the server in memory, not through its port.
	Loopback *restclient.Config
}

// Run starts batchd and serves until ctx ends; ready is called once /readyz
// answers ok. Everything started is stopped before Run returns.
func Run(ctx context.Context, cfg Config, ready func(Ready)) (err error) {
	parent := ctx
	ctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	defer func() {
		// Stopped before it was ready is a clean stop too.
		if err != nil && parent.Err() != nil && errors.Is(err, context.Canceled) {
			err = nil
		}
	}()
	var clk clock.WithTicker = clock.RealClock{}
	var moved apiserver.VirtualClock
	if cfg.Clock != nil {
		clk = cfg.Clock
		if v, ok := cfg.Clock.(*vclock.Clock); ok {
			moved = v
		}
	}
	if d := DescribeClock(cfg.Clock); d != "" {
		fmt.Fprintf(cfg.log(), "clock: %s; it reads %s\n", d, clk.Now().Format(time.RFC3339))
	}
	lock, err := claimDataDir(cfg.DataDir)
	if err != nil {
		return err
	}
	defer lock.release()
	hostname, _ := os.Hostname()
	identity, err := leader.Identity(cfg.DataDir, hostname)
	if err != nil {
		return err
	}
	initialCluster, err := joinCluster(ctx, cfg, identity)
	if err != nil {
		return err
	}
	hosts := []string{}
	if !cfg.BindAddress.IsUnspecified() {
		hosts = append(hosts, cfg.BindAddress.String())
	}
	if cfg.Cluster != nil {
		hosts = append(hosts, cfg.Cluster.Advertise.String())
	}
	bundle, err := pki.Ensure(pki.Options{Dir: filepath.Join(cfg.DataDir, "pki"), Hosts: hosts})
	if err != nil {
		return err
	}

	ln, err := listen(cfg.BindAddress, cfg.SecurePort, cfg.DataDir)
	if err != nil {
		return err
	}
	defer ln.Close()
	url := "https://" + kubeconfigHost(cfg.BindAddress, ln.Addr())
	if err := lock.setURL(url); err != nil {
		return err
	}

	etcdServers := cfg.EtcdServers
	var readyz []healthz.HealthChecker
	var joins *join.Server
	var storageFull func() error
	var addMember func(context.Context, string, string) (string, error)
	if len(etcdServers) == 0 {
		// etcd outlives ctx until the API server has drained; its start
		// is cut short by ctx though (SIGTERM while starting).
		etcdCtx, cancelEtcd := context.WithCancel(context.WithoutCancel(ctx))
		defer cancelEtcd()
		opts := storage.Options{Dir: filepath.Join(cfg.DataDir, "etcd"), UnsafeNoFsync: cfg.UnsafeNoFsync, QuotaBackendBytes: cfg.EtcdQuota, Log: cfg.log()}
		if cfg.Cluster != nil {
			if opts.Peer, err = etcdPeer(cfg, identity, initialCluster); err != nil {
				return err
			}
		}
		etcd, err := storage.Start(ctx, opts)
		if err != nil {
			return err
		}
		// etcd stops after the API server has drained.
		defer etcd.Stop()
		if cfg.Cluster != nil {
			addMember = etcd.AddMember
			// Any server promotes the members that joined as learners
			// once they have caught up; it stops before etcd does
			// (defers run last first), not asking a stopped etcd.
			defer goUntilStopped(etcdCtx, func(ctx context.Context) { etcd.RunPromoter(ctx, time.Second) })()
		}
		etcdServers = []string{etcd.Endpoint()}
		guard := storage.NewGuard(etcd, cfg.DataDir, cfg.DataDirReserve, cfg.log())
		// The guard stops before etcd does (defers run last first): a
		// defrag begun as etcd closes would leave its copy behind.
		defer goUntilStopped(etcdCtx, func(ctx context.Context) { guard.Run(ctx, time.Second) })()
		readyz = append(readyz, healthz.NamedCheck("etcd-space", func(*http.Request) error { return guard.Check() }))
		storageFull = guard.Gate
		go func() {
			select {
			case err := <-etcd.Err():
				if err != nil {
					stop(fmt.Errorf("etcd: %w", err))
				}
			case <-ctx.Done():
			}
		}()
	}

	// Every server takes agents (their credentials, signed here); a
	// clustered one takes servers too (an etcd member each).
	tok, err := clusterToken(cfg, bundle.CACert)
	if err != nil {
		return err
	}
	joins = &join.Server{Token: tok, AddMember: addMember, Keys: func() ([]byte, []byte, []byte, error) {
		return bundle.CACert, bundle.CAKey, bundle.ServiceAccountKey, nil
	}}

	kubelets, err := kubeletTransport(bundle)
	if err != nil {
		return err
	}
	var endpoint *streamEndpoint
	if !cfg.DisableNodeAgent {
		// A clustered server's agent is reached by the other servers too.
		addr := "127.0.0.1:0"
		if cfg.Cluster != nil {
			addr = net.JoinHostPort(cfg.BindAddress.String(), "0")
		}
		if endpoint, err = newStreamEndpoint(bundle.ServingCert, bundle.ServingKey, bundle.CACert, addr); err != nil {
			return err
		}
	}
	agent, err := newNodeRuntime(cfg, endpoint)
	if err != nil {
		return err
	}
	if agent != nil && cfg.Cluster != nil {
		agent.machine.IP = cfg.Cluster.Advertise.String()
	}
	nodes := &nodeStreams{local: agent.name(), endpoint: endpoint, transport: kubelets}
	runLogs, err := openRunLogs(cfg)
	if err != nil {
		return err
	}
	if agent != nil {
		agent.keepLogs = keepLogs(runLogs)
	}

	controllers := &controllerSet{clock: clk, node: agent, caCert: bundle.CACert, runHistory: cfg.RunHistory, runLogs: runLogs, noScheduler: cfg.DisableScheduler,
		nodeHealth: nodeHealth{Timing: cfg.NodeLifecycle, PodGCPeriod: cfg.PodGCPeriod},
		election:   election{Identity: identity, Timing: cfg.LeaderElection, Log: cfg.log()}}

	loopbackToken, err := randomToken()
	if err != nil {
		return err
	}
	admin := &restclient.Config{Host: url, BearerToken: bundle.AdminToken, TLSClientConfig: restclient.TLSClientConfig{CAData: bundle.CACert}}
	var srv *apiserver.Server
	srv, err = apiserver.New(apiserver.Config{
		Listener:           ln,
		PKI:                bundle,
		EtcdServers:        etcdServers,
		EtcdCAFile:         cfg.EtcdCAFile,
		EtcdCertFile:       cfg.EtcdCertFile,
		EtcdKeyFile:        cfg.EtcdKeyFile,
		LoopbackToken:      loopbackToken,
		DisableWatchCache:  cfg.DisableWatchCache,
		RequestTimeout:     cfg.RequestTimeout,
		ShutdownTimeout:    cfg.ShutdownTimeout,
		Profiling:          cfg.Profiling,
		TokenFile:          cfg.TokenFile,
		ReadyzChecks:       readyz,
		UI:                 ui.New(ui.Config{}),
		Clock:              cfg.TokenClock,
		DefaultTolerations: cfg.DefaultTolerations,
		VirtualClock:       moved,
		StorageFull:        storageFull,
		Controllers:        controllers.start,
		StopControllers: func() {
			controllers.stop(stopControllersTimeout)
			// The admin's in-process clients (batchd run's) are done too:
			// their connections end now, not a second after the HTTP
			// server's GOAWAY (see apiserver.CloseIdle).
			apiserver.CloseIdle(admin)
		},
		Join:    joinHandler(joins),
		Logs:    nodeLogs{local: agent.logs(), name: agent.name(), streams: nodes},
		Nodes:   nodes,
		RunLogs: runLogSource{store: runLogs, node: agent},
	})
	if err != nil {
		return err
	}

	if agent != nil {
		agent.apiHost, agent.apiPort, _ = net.SplitHostPort(kubeconfigHost(cfg.BindAddress, ln.Addr()))
	}
	// Other nodes' agents are found by their Node objects.
	nodeClient, err := kubernetes.NewForConfig(controller.QuietConfig(srv.Loopback()))
	if err != nil {
		return err
	}
	getNode := func(ctx context.Context, name string) (*corev1.Node, error) {
		return nodeClient.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
	}
	nodes.nodes.Store(&getNode)
	kubeconfig := KubeconfigPath(cfg.DataDir)
	if err := writeKubeconfig(kubeconfig, url, bundle); err != nil {
		return err
	}

	runErr := make(chan error, 1)
	go func() { runErr <- srv.Run(ctx) }()
	go func() {
		if err := waitReady(ctx, admin); err == nil && ready != nil {
			ready(Ready{URL: url, Kubeconfig: kubeconfig, Admin: restclient.CopyConfig(admin), Loopback: srv.Loopback()})
		}
	}()
	err = <-runErr
	if cause := context.Cause(ctx); err == nil && cause != nil && !errors.Is(cause, context.Canceled) {
		err = cause
	}
	return err
}

// stopControllersTimeout bounds how long a stopping server waits for its
// controllers to stop and release their leases before the API goes.
const stopControllersTimeout = 10 * time.Second

// log is where the server's own lines go.
func (c Config) log() io.Writer {
	if c.Log == nil {
		return os.Stderr
	}
	return c.Log
}

func randomToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// kubeconfigHost is the address clients should dial: loopback when the server
// listens on every interface.
func kubeconfigHost(bind net.IP, addr net.Addr) string {
	_, port, _ := net.SplitHostPort(addr.String())
	host := bind.String()
	if bind.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

// writeKubeconfig writes the admin kubeconfig (mode 0600) that stock kubectl uses as is.
func writeKubeconfig(path, url string, b *pki.Bundle) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["batchd"] = &clientcmdapi.Cluster{Server: url, CertificateAuthorityData: b.CACert}
	cfg.AuthInfos["batchd-admin"] = &clientcmdapi.AuthInfo{ClientCertificateData: b.AdminCert, ClientKeyData: b.AdminKey}
	cfg.Contexts["batchd"] = &clientcmdapi.Context{Cluster: "batchd", AuthInfo: "batchd-admin", Namespace: "default"}
	cfg.CurrentContext = "batchd"
	data, err := clientcmd.Write(*cfg)
	if err != nil {
		return fmt.Errorf("encode kubeconfig: %w", err)
	}
	return pki.WriteFile(path, data, 0o600)
}

// joinHandler is j as a handler, nil when the server takes no joins.
func joinHandler(j *join.Server) http.Handler {
	if j == nil {
		return nil
	}
	return j
}

// goUntilStopped runs f in a goroutine on a context of its own, derived
// from ctx, and returns what cancels that context and waits for f to
// return.
func goUntilStopped(ctx context.Context, f func(context.Context)) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(ctx)
	}()
	return func() { cancel(); <-done }
}
