package bench

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/batchd/batchd/internal/node"
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
// It refuses to start on a disk near the node agent's eviction threshold:
// there the agent evicts the benchmark's pods midway, as a kubelet would.
func begin(out io.Writer, prefix string) (string, error) {
	tmp, err := os.MkdirTemp("", prefix)
	if err != nil {
		return "", err
	}
	if err := roomFor(tmp); err != nil {
		os.RemoveAll(tmp)
		return "", err
	}
	fmt.Fprintf(out, "| figure | median | runs |\n|---|---|---|\n")
	return tmp, nil
}

// benchDiskMargin is the space a benchmark's run may take (its etcd and its
// pods' directories) on top of what keeps the disk out of DiskPressure.
const benchDiskMargin = 2 << 30

// roomFor checks that dir's file system stays out of DiskPressure while a
// benchmark runs there.
func roomFor(dir string) error {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return err
	}
	d := node.DiskStats{Capacity: int64(st.Blocks) * st.Bsize, Available: int64(st.Bavail)*st.Bsize - benchDiskMargin}
	if node.DiskPressure(d) {
		return fmt.Errorf("%s has %.1f GiB available of %.1f GiB: a run would take the node below 10%% available, where it evicts pods (DiskPressure, the kubelet's nodefs.available<10%% default); free some space first",
			dir, float64(st.Bavail)*float64(st.Bsize)/(1<<30), float64(d.Capacity)/(1<<30))
	}
	return nil
}
