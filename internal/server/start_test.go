package server

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// syncBuffer is a log written from the server's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// testConfig is `batchd server`'s defaults in dir on a free port, without
// the node agent.
func testConfig(t *testing.T, dir string, adjust func(*Options)) Config {
	t.Helper()
	o := NewOptions()
	o.DataDir, o.SecurePort, o.DisableNodeAgent = dir, 0, true
	if adjust != nil {
		adjust(o)
	}
	cfg, err := o.Config()
	if err != nil {
		t.Fatal(err)
	}
	cfg.UnsafeNoFsync = true
	return cfg
}

// Start returns a ready server that outlives the start's context, writes its
// own lines to the Log given, and is gone once Stop returns.
func TestStartServesUntilStop(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	log := &syncBuffer{}
	cfg := testConfig(t, dir, func(o *Options) { o.Clock, o.ClockRate = ClockVirtual, 1 })
	cfg.Log = log
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	srv, err := Start(ctx, cfg)
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	if !strings.HasPrefix(srv.URL, "https://127.0.0.1:") || srv.Kubeconfig != KubeconfigPath(dir) || srv.Loopback == nil {
		t.Errorf("Ready = %+v", srv.Ready)
	}
	if _, err := os.Stat(srv.Kubeconfig); err != nil {
		t.Errorf("kubeconfig: %v", err)
	}
	if h, ok := LockHolder(dir); !ok || h.URL != srv.URL {
		t.Errorf("lock holder = %+v, %v; want the server at %s", h, ok, srv.URL)
	}
	if got := log.String(); !strings.Contains(got, "clock: virtual clock running at 1× real time") {
		t.Errorf("the server's clock line is not in its Log: %q", got)
	}

	// The start's context has ended: the server serves on.
	client, err := kubernetes.NewForConfig(srv.Admin)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.CoreV1().Namespaces().Get(context.Background(), "default", metav1.GetOptions{}); err != nil {
		t.Errorf("get namespace default after the start's context ended: %v", err)
	}

	// A second server of the same data dir exits before it is ready: Start
	// returns why.
	var inUse *InUseError
	if _, err := Start(context.Background(), cfg); !errors.As(err, &inUse) {
		t.Errorf("second Start on the data dir: %v, want an InUseError", err)
	}

	if err := srv.Stop(); err != nil {
		t.Errorf("Stop: %v", err)
	}
	if h, ok := LockHolder(dir); ok {
		t.Errorf("data dir still held by %+v after Stop", h)
	}
	if err := srv.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
}

// A start whose context ends stops what it started and returns the
// context's error.
func TestStartEndsWithItsContext(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	srv, err := Start(ctx, testConfig(t, dir, nil))
	if !errors.Is(err, context.Canceled) || srv != nil {
		t.Fatalf("Start with an ended context = %v, %v; want context.Canceled", srv, err)
	}
	if h, ok := LockHolder(dir); ok {
		t.Errorf("data dir still held by %+v", h)
	}
}
