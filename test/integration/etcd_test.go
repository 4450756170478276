package integration

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/batchd/batchd/internal/server"
	"github.com/batchd/batchd/internal/testenv"
)

// A server started with external etcd servers runs no etcd of its own and
// shares state with every other server on that etcd.
func TestExternalEtcdSharesState(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	ready := make(chan server.Ready, 1)
	go func() {
		done <- server.Run(ctx, server.Config{
			DataDir:     dir,
			BindAddress: []byte{127, 0, 0, 1},
			EtcdServers: []string{"unix://" + filepath.Join(env.DataDir, "etcd", "client.sock")},
		}, func(r server.Ready) { ready <- r })
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("second server: %v", err)
		}
	}()
	var second kubernetes.Interface
	select {
	case r := <-ready:
		c, err := kubernetes.NewForConfig(r.Admin)
		if err != nil {
			t.Fatal(err)
		}
		second = c
	case err := <-done:
		t.Fatalf("second server exited: %v", err)
	case <-time.After(time.Minute):
		t.Fatal("second server not ready")
	}
	if _, err := os.Stat(filepath.Join(dir, "etcd")); !os.IsNotExist(err) {
		t.Errorf("second server made an etcd directory: %v", err)
	}

	ns := env.Namespace(t)
	if _, err := second.BatchV1().Jobs(ns).Create(ctx, testenv.Job("shared"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	poll(t, "job visible through the first server", func(ctx context.Context) (bool, error) {
		_, err := env.Client.BatchV1().Jobs(ns).Get(ctx, "shared", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		return err == nil, err
	})
}
