// Package serverproc runs `batchd server` as a child process: in its own
// process group, on a free loopback port, waiting for its ready line. The
// end-to-end tests and `batchd bench` both measure the real process this way.
package serverproc

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ReadyPrefix starts the line `batchd server` prints once /readyz is ok.
const ReadyPrefix = "batchd is ready; export KUBECONFIG="

// Process is a running `batchd server`.
type Process struct {
	cmd        *exec.Cmd
	Kubeconfig string
	// Ready is how long it took from exec to the ready line.
	Ready time.Duration
	// exited is closed once the process has ended, with its result in err.
	exited chan struct{}
	err    error
}

// Start runs `binary server --data-dir dataDir --secure-port 0 extraArgs...`,
// sending its stderr (and stdout lines) to log, and waits up to timeout for it
// to be ready.
func Start(binary, dataDir string, log io.Writer, timeout time.Duration, extraArgs ...string) (*Process, error) {
	args := append([]string{"server", "--data-dir", dataDir, "--secure-port", "0"}, extraArgs...)
	cmd := exec.Command(binary, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Stderr = log
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &Process{cmd: cmd, exited: make(chan struct{})}
	line := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			fmt.Fprintln(log, "stdout:", sc.Text())
			if kc, ok := strings.CutPrefix(sc.Text(), ReadyPrefix); ok {
				line <- kc
			}
		}
		p.err = cmd.Wait()
		close(p.exited)
	}()
	select {
	case kc := <-line:
		p.Ready, p.Kubeconfig = time.Since(start), kc
		return p, nil
	case <-p.exited:
		return nil, fmt.Errorf("batchd server exited before ready: %v", p.err)
	case <-time.After(timeout):
		p.Kill()
		return nil, fmt.Errorf("batchd server not ready after %s", timeout)
	}
}

// Pid is the server's process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Stop sends SIGTERM and waits for a clean exit.
func (p *Process) Stop(timeout time.Duration) error {
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return err
	}
	select {
	case <-p.exited:
		return p.err
	case <-time.After(timeout):
		p.Kill()
		return fmt.Errorf("batchd server ignored SIGTERM for %s", timeout)
	}
}

// Wait waits for the server to end and returns how it ended.
func (p *Process) Wait() error {
	<-p.exited
	return p.err
}

// Kill kills the whole process group.
func (p *Process) Kill() { _ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL) }

// Memory reads the server's resident set size and its anonymous (private)
// part from /proc, in MiB. The difference is file-backed: mostly the clean,
// shared, reclaimable pages of the executable itself.
func (p *Process) Memory() (rss, anon float64, err error) {
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

// CPUSeconds is the user+system CPU time the server has used so far.
func (p *Process) CPUSeconds() (float64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	s := string(data)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(fields) < 13 {
		return 0, fmt.Errorf("short /proc/%d/stat", p.cmd.Process.Pid)
	}
	utime, _ := strconv.ParseFloat(fields[11], 64)
	stime, _ := strconv.ParseFloat(fields[12], 64)
	// USER_HZ is 100 on Linux.
	return (utime + stime) / 100, nil
}
