package bench

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"k8s.io/client-go/kubernetes"
	restclient "k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// proc is a running `batchd server` child.
type proc struct {
	cmd        *exec.Cmd
	kubeconfig string
	ready      time.Duration // exec to ready line
	done       chan error
}

// startServer runs `binary server` on dataDir and waits for its ready line.
func startServer(ctx context.Context, binary, dataDir string) (*proc, error) {
	cmd := exec.CommandContext(ctx, binary, "server", "--data-dir", dataDir, "--secure-port", "0")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	logf, err := os.Create(filepath.Join(filepath.Dir(dataDir), filepath.Base(dataDir)+".log"))
	if err != nil {
		return nil, err
	}
	cmd.Stderr = logf
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &proc{cmd: cmd, done: make(chan error, 1)}
	line := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if s, ok := strings.CutPrefix(sc.Text(), "batchd is ready; export KUBECONFIG="); ok {
				line <- s
			}
		}
		p.done <- cmd.Wait()
		logf.Close()
	}()
	select {
	case kc := <-line:
		p.ready = time.Since(start)
		p.kubeconfig = kc
		return p, nil
	case err := <-p.done:
		return nil, fmt.Errorf("server exited: %v (log %s)", err, logf.Name())
	case <-time.After(time.Minute):
		p.kill()
		return nil, fmt.Errorf("server not ready in a minute")
	}
}

func (p *proc) stop() error {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		return err
	case <-time.After(30 * time.Second):
		p.kill()
		return fmt.Errorf("server ignored SIGTERM")
	}
}

func (p *proc) kill() { _ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL) }

// memory reads the server's resident set size and its anonymous (private)
// part from /proc, in MiB. The difference is file-backed: mostly the clean,
// shared, reclaimable pages of the executable itself.
func (p *proc) memory() (rss, anon float64, err error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0, 0, err
	}
	field := func(name string) (float64, error) {
		for _, l := range strings.Split(string(data), "\n") {
			if rest, ok := strings.CutPrefix(l, name+":"); ok {
				kb, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 64)
				return kb / 1024, err
			}
		}
		return 0, fmt.Errorf("no %s in /proc/%d/status", name, p.cmd.Process.Pid)
	}
	if rss, err = field("VmRSS"); err != nil {
		return 0, 0, err
	}
	anon, err = field("RssAnon")
	return rss, anon, err
}

func (p *proc) client(qps float32) (kubernetes.Interface, *restclient.Config, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", p.kubeconfig)
	if err != nil {
		return nil, nil, err
	}
	cfg.QPS, cfg.Burst = qps, int(qps)
	c, err := kubernetes.NewForConfig(cfg)
	return c, cfg, err
}
