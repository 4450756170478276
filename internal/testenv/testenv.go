// Package testenv starts a real batchd (embedded etcd + API server +
// controllers) in-process for integration tests: a temporary data dir, a free
// loopback port, etcd without fsync. One server is meant to be shared per test
// package (start it in TestMain), with a namespace per test.
package testenv

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/client-go/kubernetes"
	restclient "k8s.io/client-go/rest"

	"github.com/batchd/batchd/internal/controller/nodelifecycle"
	"github.com/batchd/batchd/internal/server"
)

// Env is a running in-process batchd.
type Env struct {
	DataDir    string
	Kubeconfig string
	Config     *restclient.Config
	Client     kubernetes.Interface
	// Loopback is the server's own identity (its controllers'), the only
	// writer of JobRuns.
	Loopback *restclient.Config
	// Tokens are the bearer tokens of the --token-file users "viewer"
	// (group batchd:view) and "editor" (batchd:edit), by user name.
	Tokens map[string]string
	server *server.Running
}

// Start runs batchd in dataDir until Stop is called.
func Start(dataDir string) (*Env, error) { return StartWith(dataDir, nil) }

// StartWithNode runs batchd in dataDir with its scheduler and node agent
// (node named NodeName) on node's runtime and clock, in-process: a
// runtimetest.Fake runs pods in milliseconds.
func StartWithNode(dataDir string, node server.NodeOptions) (*Env, error) {
	return StartWith(dataDir, func(cfg *server.Config) {
		cfg.DisableNodeAgent, cfg.DisableScheduler = false, false
		cfg.Node, cfg.NodeName = node, NodeName
		if node.Clock != nil {
			// The agent renews its Lease when the test moves its clock, not
			// in real time: the node must not be found lost meanwhile.
			cfg.NodeLifecycle = nodelifecycle.DefaultTiming
			cfg.NodeLifecycle.GracePeriod, cfg.NodeLifecycle.StartupGracePeriod = 24*time.Hour, 24*time.Hour
		}
	})
}

// StartWith is Start with the server configuration adjusted by adjust (e.g. a
// fake clock for tokens). The configuration is `batchd server`'s defaults on
// a free loopback port, without fsync, with two --token-file users.
func StartWith(dataDir string, adjust func(*server.Config)) (*Env, error) {
	e := &Env{DataDir: dataDir, Tokens: map[string]string{"viewer": rand.String(32), "editor": rand.String(32)}}
	tokenFile := filepath.Join(dataDir, "tokens.csv")
	opts := server.NewOptions()
	opts.DataDir, opts.SecurePort, opts.TokenFile = dataDir, 0, tokenFile
	// Served to show that only the admin reaches them.
	opts.Profiling = true
	// Tests here drive pods by hand; the node agent is tested end to end.
	opts.DisableNodeAgent = true
	// Built before the token file is written: a data dir is checked to be
	// new, empty or batchd's.
	cfg, err := opts.Config()
	if err != nil {
		return nil, err
	}
	cfg.UnsafeNoFsync = true
	// Nor does a scheduler touch them (StartWithNode runs one).
	cfg.DisableScheduler = true
	if adjust != nil {
		adjust(&cfg)
	}
	users := fmt.Sprintf("%s,viewer,1001,\"batchd:view\"\n%s,editor,1002,\"batchd:edit\"\n", e.Tokens["viewer"], e.Tokens["editor"])
	if err := os.WriteFile(tokenFile, []byte(users), 0o600); err != nil {
		return nil, err
	}
	// Two minutes: a server joining a cluster waits for its etcd member to
	// catch up and be promoted, and the whole test run shares two cores.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv, err := server.Start(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("start batchd: %w", err)
	}
	e.server = srv
	e.Kubeconfig, e.Config, e.Loopback = srv.Kubeconfig, srv.Admin, srv.Loopback
	// A test client is not to be throttled: client-go's default of 5
	// requests/s made the invalid-manifest corpus alone take 49 s.
	e.Config.QPS, e.Config.Burst = 1000, 2000
	c, err := kubernetes.NewForConfig(e.Config)
	if err != nil {
		e.Stop()
		return nil, err
	}
	e.Client = c
	return e, nil
}

// NodeName is the node of a server started by StartWithNode.
const NodeName = "testenv-node"

// As returns a client that authenticates with the bearer token of the
// --token-file user name only (no client certificate).
func (e *Env) As(name string) (kubernetes.Interface, error) {
	cfg := restclient.AnonymousClientConfig(e.Config)
	cfg.BearerToken = e.Tokens[name]
	return kubernetes.NewForConfig(cfg)
}

// Stop shuts the server down and waits for it.
func (e *Env) Stop() error {
	done := make(chan error, 1)
	go func() { done <- e.server.Stop() }()
	select {
	case err := <-done:
		return err
	case <-time.After(30 * time.Second):
		return fmt.Errorf("batchd did not stop within 30s")
	}
}

// Main runs a test package against one shared server, started in a temporary
// data dir that is removed afterwards. It is meant for TestMain.
func Main(m *testing.M, env **Env) int {
	dir, err := os.MkdirTemp("", "batchd-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	e, err := Start(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	*env = e
	code := m.Run()
	if err := e.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "stop:", err)
	}
	return code
}

// Namespace creates a fresh namespace for t, deleted when t ends.
func (e *Env) Namespace(t testing.TB) string {
	t.Helper()
	name := "t-" + rand.String(8)
	ctx := context.Background()
	if _, err := e.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create namespace: %v", err)
	}
	t.Cleanup(func() {
		_ = e.Client.CoreV1().Namespaces().Delete(context.Background(), name, metav1.DeleteOptions{})
	})
	return name
}
