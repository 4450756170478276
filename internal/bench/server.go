package bench

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/batchd/batchd/internal/serverproc"
)

// startServer runs a server child with its log next to dataDir.
func startServer(binary, dataDir string, args ...string) (*serverproc.Process, error) {
	log, err := os.Create(filepath.Join(filepath.Dir(dataDir), filepath.Base(dataDir)+".log"))
	if err != nil {
		return nil, err
	}
	return serverproc.Start(binary, dataDir, log, time.Minute, args...)
}

func stop(p *serverproc.Process) error { return p.Stop(30 * time.Second) }

// client returns an unthrottled client of p.
func client(p *serverproc.Process) (kubernetes.Interface, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", p.Kubeconfig)
	if err != nil {
		return nil, err
	}
	cfg.QPS, cfg.Burst = -1, -1
	return kubernetes.NewForConfig(cfg)
}

// begin makes a benchmark's scratch directory and prints the table header.
func begin(out io.Writer, prefix string) (string, error) {
	tmp, err := os.MkdirTemp("", prefix)
	if err != nil {
		return "", err
	}
	fmt.Fprintf(out, "| figure | median | runs |\n|---|---|---|\n")
	return tmp, nil
}
