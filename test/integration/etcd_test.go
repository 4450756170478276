package integration

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/batchd/batchd/internal/server"
	"github.com/batchd/batchd/internal/testenv"
)

// A server started with external etcd servers runs no etcd of its own and
// shares state with every other server on that etcd.
func TestExternalEtcdSharesState(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	srv, err := testenv.StartWith(dir, func(c *server.Config) {
		c.EtcdServers = []string{"unix://" + filepath.Join(env.DataDir, "etcd", "client.sock")}
		// The first server is the one writer of JobRuns.
		c.RunHistory.Enabled = false
	})
	if err != nil {
		t.Fatalf("second server: %v", err)
	}
	defer func() {
		if err := srv.Stop(); err != nil {
			t.Errorf("second server: %v", err)
		}
	}()
	second := srv.Client
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
