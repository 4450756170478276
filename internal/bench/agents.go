package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/batchd/batchd/internal/node/runtime"
)

// agentsRun is one real-runtime run of the benchmark Job on a server (with
// its own node agent) and o.Agents `batchd agent` processes joined to it,
// each on its own loopback address and data dir.
func agentsRun(ctx context.Context, tmp string, run int, o JobsOptions) (float64, error) {
	dir := filepath.Join(tmp, fmt.Sprintf("agents-%d", run))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return 0, err
	}
	p, err := startServer(o.Binary, filepath.Join(dir, "server"), o.serverArgs("--bind-address", "127.0.0.1")...)
	if err != nil {
		return 0, err
	}
	defer func() {
		stop(p)
		runtime.KillAll(filepath.Join(dir, "server", "pods"))
		// After the agents' own deferred stops (deferred later, run first).
		os.RemoveAll(dir)
	}()
	nodes := []string{}
	for a := 1; a <= o.Agents; a++ {
		name := fmt.Sprintf("bench-agent-%d", a)
		cmd, err := startAgent(o.Binary, p.Kubeconfig, filepath.Join(dir, "server"), filepath.Join(dir, name), name, fmt.Sprintf("127.0.0.%d", a+1))
		if err != nil {
			return 0, err
		}
		defer cmd()
		nodes = append(nodes, name)
	}
	c, err := client(p)
	if err != nil {
		return 0, err
	}
	err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		for _, name := range nodes {
			n, err := c.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return false, nil
			}
			ready := false
			for _, cond := range n.Status.Conditions {
				ready = ready || cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionTrue
			}
			if !ready {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		return 0, fmt.Errorf("the agents' Nodes did not become Ready: %w", err)
	}
	return jobRun(ctx, p, o, nil)
}

// startAgent starts `batchd agent` joined to the server of kubeconfig and
// data dir serverDir, with its token,
// logging next to its data dir, and returns what stops it and its pods.
func startAgent(binary, kubeconfig, serverDir, dataDir, name, ip string) (func(), error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, err
	}
	token, err := os.ReadFile(filepath.Join(serverDir, "token"))
	if err != nil {
		return nil, err
	}
	log, err := os.Create(dataDir + ".log")
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(binary, "agent", "--server", cfg.Host, "--token", strings.TrimSpace(string(token)),
		"--node-name", name, "--data-dir", dataDir, "--bind-address", ip, "--secure-port", "0")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		log.Close()
		return nil, err
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	return func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
		runtime.KillAll(filepath.Join(dataDir, "pods"))
		log.Close()
	}, nil
}
