package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/batchd/batchd/internal/serverproc"
)

// serverOnce runs `batchd server` with args and returns its combined output
// and exit error; it fails the test if the server is still running after
// within.
func serverOnce(t *testing.T, within time.Duration, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	cmd := exec.CommandContext(ctx, batchd, append([]string{"server"}, args...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("batchd server %v still ran after %s:\n%s", args, within, out)
	}
	return string(out), err
}

func apiPort(t *testing.T, c kubernetes.Interface) string {
	t.Helper()
	_, port, err := net.SplitHostPort(c.Discovery().RESTClient().Get().URL().Host)
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// TestSecondServerRefusesAtOnceNamingTheFirst: a second server on a data dir
// in use (it used to wait for ever on etcd's lock, ignoring SIGTERM) or on
// the port of another batchd refuses at once, saying which server holds it;
// a port held by something else gets the plain bind error.
func TestSecondServerRefusesAtOnceNamingTheFirst(t *testing.T) {
	t.Parallel()
	data := filepath.Join(t.TempDir(), "data")
	first, c, _ := storageServer(t, data)
	port := apiPort(t, c)

	start := time.Now()
	out, err := serverOnce(t, 20*time.Second, "--data-dir", data, "--secure-port", "0", "--disable-node-agent")
	want := fmt.Sprintf("Error: data dir %s is in use by the batchd server with pid %d serving https://127.0.0.1:%s: stop it first, or give this server another --data-dir\n", data, first.Pid(), port)
	if err == nil || out != want {
		t.Errorf("second server on the data dir: %v\n%s\nwant %q", err, out, want)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("the refusal took %s", took)
	}

	other := filepath.Join(t.TempDir(), "other")
	out, err = serverOnce(t, 20*time.Second, "--data-dir", other, "--secure-port", port, "--disable-node-agent")
	want = fmt.Sprintf("Error: port %s is in use by the batchd server of data dir %s (pid %d): stop it, or choose another --secure-port\n", port, data, first.Pid())
	if err == nil || !strings.HasSuffix(out, want) {
		t.Errorf("second server on the port: %v\n%s\nwant it to end with %q", err, out, want)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, taken, _ := net.SplitHostPort(ln.Addr().String())
	out, err = serverOnce(t, 20*time.Second, "--data-dir", other, "--secure-port", taken, "--disable-node-agent")
	want = fmt.Sprintf("Error: listen: listen tcp 127.0.0.1:%s: bind: address already in use\n", taken)
	if err == nil || !strings.HasSuffix(out, want) {
		t.Errorf("server on a port someone else holds: %v\n%s\nwant it to end with %q", err, out, want)
	}
}

// TestDataDirThatIsNotBatchdsIsRefused: an existing directory with other
// content is neither made private nor filled; an empty one and the data dir
// of a batchd from before the marker file are used.
func TestDataDirThatIsNotBatchdsIsRefused(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	if err := os.Chmod(home, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, "notes.txt"), []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := serverOnce(t, 20*time.Second, "--data-dir", home, "--secure-port", "0")
	want := "Error: data dir " + home + " is not empty and is not a batchd data dir (it has no batchd-data-dir file): batchd will not make it private and fill it; give --data-dir a new or empty directory\n"
	if err == nil || out != want {
		t.Errorf("server on a foreign directory: %v\n%s\nwant %q", err, out, want)
	}
	entries, _ := os.ReadDir(home)
	if fi, _ := os.Stat(home); len(entries) != 1 || fi.Mode().Perm() != 0o755 {
		t.Errorf("the refused directory was changed: mode %v, %d entries", fi.Mode().Perm(), len(entries))
	}

	// A data dir of an older batchd: etcd/ and pki/ but no marker.
	data := filepath.Join(t.TempDir(), "data")
	srv, c, _ := storageServer(t, data)
	must(t, kubectl(t, "", "--kubeconfig", srv.Kubeconfig, "create", "configmap", "kept", "-n", "default"), "created")
	_ = apiPort(t, c)
	if err := srv.Stop(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(data, "batchd-data-dir")); err != nil {
		t.Fatalf("the first start wrote no marker: %v", err)
	}
	srv, _, _ = storageServer(t, data)
	must(t, kubectl(t, "", "--kubeconfig", srv.Kubeconfig, "get", "configmap", "kept", "-n", "default"), "kept")
	if _, err := os.Stat(filepath.Join(data, "batchd-data-dir")); err != nil {
		t.Errorf("an old data dir was not marked: %v", err)
	}
}

// TestSIGTERMDuringStartNeverHangs: SIGTERM at any moment of the start ends
// the server promptly and cleanly, and frees the data dir for the next
// server; so does kill -9 once it is ready (the kernel drops the lock).
func TestSIGTERMDuringStartNeverHangs(t *testing.T) {
	t.Parallel()
	data := filepath.Join(t.TempDir(), "data")
	for _, delay := range []time.Duration{0, 20 * time.Millisecond, 100 * time.Millisecond, 300 * time.Millisecond, 700 * time.Millisecond, 1500 * time.Millisecond} {
		cmd := exec.Command(batchd, "server", "--data-dir", data, "--secure-port", "0", "--disable-node-agent")
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(delay)
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			// Before Go's runtime installs batchd's handler, SIGTERM's
			// default action ends the process: prompt too.
			if err != nil && !killedBySIGTERM(err) {
				t.Errorf("SIGTERM after %s: %v\n%s", delay, err, out.String())
			}
		case <-time.After(20 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
			t.Fatalf("SIGTERM after %s: still running after 20s\n%s", delay, out.String())
		}
	}

	logf, err := os.Create(filepath.Join(t.TempDir(), "server.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	srv, err := serverproc.Start(batchd, data, logf, time.Minute, "--disable-node-agent")
	if err != nil {
		t.Fatal(err)
	}
	srv.Kill()
	srv.Wait()
	again, _, _ := storageServer(t, data)
	if err := again.Stop(30 * time.Second); err != nil {
		t.Errorf("stop after kill -9 and restart: %v", err)
	}
}

func killedBySIGTERM(err error) bool {
	ee, ok := err.(*exec.ExitError)
	if !ok {
		return false
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGTERM
}

// TestCleanStartAndStopLogNoErrors: a normal start (the node registered and
// ready) and SIGTERM, then a restart on the same data dir and SIGTERM again,
// log no line at error level: etcd's start and stop noise (`failed to update
// storage version … missing term information`, `use of closed network
// connection`) is logged at info, and nothing is cut short by the stop.
func TestCleanStartAndStopLogNoErrors(t *testing.T) {
	t.Parallel()
	data := filepath.Join(t.TempDir(), "data")
	const node = "quiet"
	for _, run := range []string{"first start", "restart"} {
		logPath := filepath.Join(t.TempDir(), "server.log")
		logf, err := os.Create(logPath)
		if err != nil {
			t.Fatal(err)
		}
		srv, err := serverproc.Start(batchd, data, logf, time.Minute, "--node-name", node)
		if err != nil {
			t.Fatal(err)
		}
		// Settled: the node agent has registered the Node and it is Ready.
		must(t, kubectl(t, "", "--kubeconfig", srv.Kubeconfig, "wait", "--for=condition=Ready", "node/"+node, "--timeout=60s"))
		must(t, kubectl(t, "", "--kubeconfig", srv.Kubeconfig, "get", "pods", "-A"))
		if run == "restart" {
			// The first run's last events were written before its API
			// server stopped: each lease's "stopped leading", recorded
			// as the stop ended the controllers' and scheduler's terms.
			r := kubectl(t, "", "--kubeconfig", srv.Kubeconfig, "get", "events", "-n", "kube-system",
				"--field-selector", "reason=LeaderElection", "-o", "custom-columns=OBJECT:.involvedObject.name,MESSAGE:.message", "--no-headers")
			must(t, r)
			out := r.stdout
			for _, lease := range []string{"kube-controller-manager", "kube-scheduler"} {
				if !regexp.MustCompile(`(?m)^` + lease + `\s+\S+ stopped leading$`).MatchString(out) {
					t.Errorf("no %q event for lease %s from the first run's stop:\n%s", "stopped leading", lease, out)
				}
			}
		}
		if err := srv.Stop(30 * time.Second); err != nil {
			t.Errorf("%s: stop: %v", run, err)
		}
		logf.Close()
		log, _ := os.ReadFile(logPath)
		if lines := serverproc.ErrorLines(string(log)); len(lines) > 0 {
			t.Errorf("%s: error-level lines:\n%s\n--- whole log ---\n%s", run, strings.Join(lines, "\n"), log)
		}
		// Our own controllers' requests draw no API warnings into the log
		// (v1 Endpoints' deprecation was logged at each start, then every 10 s).
		if strings.Contains(string(log), "Warning: ") {
			t.Errorf("%s: API warnings logged:\n%s", run, log)
		}
	}
}

// TestKubectlWithoutServerSaysHowToStartOne: `batchd kubectl` on a data dir
// where no server runs — never started, or stopped — fails saying how to
// start one, and creates nothing.
func TestKubectlWithoutServerSaysHowToStartOne(t *testing.T) {
	t.Parallel()
	data := filepath.Join(t.TempDir(), "data")
	kubectlIn := func() (string, int) {
		t.Helper()
		var env []string
		for _, e := range os.Environ() {
			if !strings.HasPrefix(e, "KUBECONFIG=") && !strings.HasPrefix(e, "BATCHD_DATA_DIR=") {
				env = append(env, e)
			}
		}
		cmd := exec.Command(batchd, "kubectl", "get", "pods")
		cmd.Env = append(env, "BATCHD_DATA_DIR="+data)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return stderr.String(), code
	}
	want := fmt.Sprintf("no batchd server is running for data dir %s: start one with \"batchd server --data-dir %s\"\n", data, data)
	if stderr, code := kubectlIn(); code != 1 || !strings.HasSuffix(stderr, want) {
		t.Errorf("no data dir: exit %d, stderr %q, want it to end with %q", code, stderr, want)
	}
	if _, err := os.Stat(data); !os.IsNotExist(err) {
		t.Errorf("kubectl created the data dir: %v", err)
	}
	srv, _, _ := storageServer(t, data)
	if stderr, code := kubectlIn(); code != 0 {
		t.Errorf("with the server running: exit %d, stderr %q", code, stderr)
	}
	if err := srv.Stop(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	if stderr, code := kubectlIn(); code != 1 || !strings.HasSuffix(stderr, want) {
		t.Errorf("server stopped: exit %d, stderr %q, want it to end with %q", code, stderr, want)
	}
}

// TestServerCollectsGarbageSoonerOnceReady: a serving server runs Go's
// garbage collector at GOGC=50 (its heap is mostly the long-lived caches),
// as its own /metrics shows, unless GOGC was set for it.
func TestServerCollectsGarbageSoonerOnceReady(t *testing.T) {
	t.Parallel()
	want := "go_gc_gogc_percent 50\n"
	if v := os.Getenv("GOGC"); v != "" {
		want = "go_gc_gogc_percent " + v + "\n" // the server keeps what it was given
	}
	must(t, kubectl(t, "", "get", "--raw", "/metrics"), want)
}
