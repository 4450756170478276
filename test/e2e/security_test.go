package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/batchd/batchd/internal/serverproc"
)

// TestBindingBeyondLoopbackWarns: asked to listen on every interface, the
// server says so, and the data dir's credentials are readable by their
// owner only.
func TestBindingBeyondLoopbackWarns(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	logPath := filepath.Join(dir, "server.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	srv, err := serverproc.Start(batchd, filepath.Join(dir, "data"), logf, time.Minute, "--bind-address", "0.0.0.0", "--node-name", "exposed", "--disable-node-agent")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop(30 * time.Second)
	log, _ := os.ReadFile(logPath)
	if !strings.Contains(string(log), "warning: the API listens on 0.0.0.0, reachable from other hosts") {
		t.Errorf("no warning in the log:\n%s", log)
	}
	secrets, _ := filepath.Glob(filepath.Join(dir, "data", "pki", "*"))
	secrets = append(secrets, filepath.Join(dir, "data", "kubeconfig"))
	checked := 0
	for _, p := range secrets {
		if strings.HasSuffix(p, ".crt") {
			continue // certificates are public
		}
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s is %v: readable beyond its owner", p, fi.Mode().Perm())
		}
		checked++
	}
	if checked < 4 {
		t.Errorf("only %d key files found: %v", checked, secrets)
	}
}
