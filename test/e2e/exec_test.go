package e2e

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/remotecommand"
	utilexec "k8s.io/client-go/util/exec"

	"github.com/batchd/batchd/internal/image"
	"github.com/batchd/batchd/internal/serverproc"
)

// toolsImage serves, from a registry of the test's own, a busybox image
// with the applets the streaming tests use linked in /bin (tar for
// kubectl cp, as a cluster's busybox image has), and returns its name.
func toolsImage(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: registry.New(registry.Logger(log.New(io.Discard, "", 0)))}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	img, err := image.Busybox("/bin/busybox", v1.Config{Env: []string{"PATH=/bin"}})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, applet := range []string{"tar", "cat", "sleep", "find", "hostname", "mkdir", "echo", "tty", "stty", "true", "ls", "httpd", "id", "test", "ps", "grep"} {
		if err := tw.WriteHeader(&tar.Header{Name: "bin/" + applet, Linkname: "busybox", Typeflag: tar.TypeSymlink, Mode: 0o777}); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
	if err != nil {
		t.Fatal(err)
	}
	if img, err = mutate.AppendLayers(img, layer); err != nil {
		t.Fatal(err)
	}
	ref := ln.Addr().String() + "/tools/box:1"
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img); err != nil {
		t.Fatal(err)
	}
	return ref
}

// streamPod is a pod of runtime class (host or oci) whose container c runs
// script, with the extra container fields given.
func streamPod(podName, class, img, script, extra string) string {
	return `apiVersion: v1
kind: Pod
metadata:
  name: ` + podName + `
spec:
  runtimeClassName: ` + class + `
  restartPolicy: Never
  terminationGracePeriodSeconds: 2
  containers:
  - name: c
    image: ` + img + `
    command: ["/bin/sh", "-c", ` + fmt.Sprintf("%q", script) + `]
` + extra
}

// kubectlBin is a kubectl the tests drive: batchd's own, or the machine's.
type kubectlBin struct {
	name, path string
	pre        []string // arguments before kubectl's own
}

// kubectlBins are `batchd kubectl` and, when installed, the machine's kubectl.
func kubectlBins() []kubectlBin {
	bins := []kubectlBin{{name: "embedded", path: batchd, pre: []string{"kubectl"}}}
	if path, err := exec.LookPath("kubectl"); err == nil {
		bins = append(bins, kubectlBin{name: "stock", path: path})
	}
	return bins
}

// cmd is the kubectl with args against the test server, not started.
func (k kubectlBin) cmd(args ...string) *exec.Cmd {
	cmd := exec.Command(k.path, append(append([]string{}, k.pre...), args...)...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	return cmd
}

func (k kubectlBin) run(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	return runKubectl(t, k.path, append(append([]string{}, k.pre...), args...), stdin)
}

// kubectlCmd is `batchd kubectl args` against the test server, not started.
func kubectlCmd(args ...string) *exec.Cmd { return kubectlBins()[0].cmd(args...) }

// freePortOn is a TCP port on ip that nothing listens on now, for a process
// that binds it later (serverproc.FreePort: outside the ephemeral range).
func freePortOn(t *testing.T, ip string) string {
	t.Helper()
	p, err := serverproc.FreePort(ip)
	if err != nil {
		t.Fatal(err)
	}
	return strconv.Itoa(p)
}

// freePort is freePortOn 127.0.0.1, as a number.
func freePort(t *testing.T) int {
	t.Helper()
	p, err := serverproc.FreePort("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestExecCpAttachPortForward drives kubectl exec (with and without a
// terminal, stdin, exit codes), cp both ways, port-forward, run -i --rm and
// attach against pods of the host and of the OCI runtime.
func TestExecCpAttachPortForward(t *testing.T) {
	t.Parallel()
	for _, class := range []string{"host", "oci"} {
		t.Run(class, func(t *testing.T) {
			t.Parallel()
			img := "busybox"
			if class == "oci" {
				if os.Geteuid() != 0 {
					t.Fatal("runc needs root (CI runs as root)")
				}
				img = toolsImage(t)
			}
			testStreams(t, class, img)
		})
	}
}

func testStreams(t *testing.T, class, img string) {
	n := ns(t)
	port := freePort(t)
	apply(t, n, streamPod("box", class, img,
		fmt.Sprintf(`echo private > /tmp/mine; mkdir -p /tmp/www; echo served > /tmp/www/index.html; exec busybox httpd -f -p 127.0.0.1:%d -h /tmp/www`, port), ""))
	waitFor(t, n, "pod/box", "{.status.phase}", "Running")

	// Each kubectl's session on its own (their files and pods carry its
	// name), side by side; all of them before the pod goes below.
	t.Run("kubectl", func(t *testing.T) {
		for _, k := range kubectlBins() {
			t.Run(k.name, func(t *testing.T) {
				t.Parallel()
				userStreams(t, k, n, class, img, port)
			})
		}
	})

	// Errors: no such container, a container not running, a completed pod.
	fails(t, kubectl(t, "", "exec", "-n", n, "box", "-c", "nope", "--", "true"), "container nope is not valid for pod box")
	apply(t, n, streamPod("waiting", class, img, "true", "")+`  initContainers:
  - name: init
    image: `+img+`
    command: ["sleep", "600"]
`)
	eventually(t, "init container running", func() bool {
		return get(t, n, "pod/waiting", "{.status.initContainerStatuses[0].state.running.startedAt}") != ""
	})
	fails(t, kubectl(t, "", "exec", "-n", n, "waiting", "-c", "c", "--", "true"), `container not found ("c")`)
	apply(t, n, streamPod("done", class, img, "true", ""))
	waitFor(t, n, "pod/done", "{.status.phase}", "Succeeded")
	fails(t, kubectl(t, "", "exec", "-n", n, "done", "--", "true"), "cannot exec into a container in a completed pod; current phase is Succeeded")
	fails(t, kubectl(t, "", "exec", "-n", n, "nosuch", "--", "true"), `pods "nosuch" not found`)

	// An exec session ends when its pod is deleted.
	session := kubectlCmd("exec", "-n", n, "box", "--", "sh", "-c", "touch /tmp/execd; exec sleep 600")
	if err := session.Start(); err != nil {
		t.Fatal(err)
	}
	ended := make(chan error, 1)
	go func() { ended <- session.Wait() }()
	eventually(t, "the exec runs", func() bool { return kubectl(t, "", "exec", "-n", n, "box", "--", "test", "-f", "/tmp/execd").code == 0 })
	must(t, kubectl(t, "", "delete", "pod", "box", "-n", n))
	select {
	case <-ended:
	case <-time.After(30 * time.Second):
		_ = session.Process.Kill()
		t.Fatal("the exec session outlived its pod")
	}
}

// userStreams is what a user does with kubectl k against the pod box of
// namespace n (class, img) serving HTTP on port.
func userStreams(t *testing.T, k kubectlBin, n, class, img string, port int) {
	// exec without a terminal: the container's view, stdout, stderr, exit code.
	r := k.run(t, "", "exec", "-n", n, "box", "--", "sh", "-c", `cat /tmp/mine; hostname; echo oops >&2; exit 3`)
	if r.code != 3 || r.stdout != "private\nbox\n" || !strings.Contains(r.stderr, "oops\n") || !strings.Contains(r.stderr, "command terminated with exit code 3") {
		t.Fatalf("exec:\n%s", r)
	}
	// stdin piped through.
	must(t, k.run(t, "x\ny\n", "exec", "-i", "-n", n, "box", "--", "cat"), "x\ny\n")

	// exec -it on a terminal the test drives.
	out, code := onTerminal(t, k, "echo $((6*7)) $(tty); exit 5\r", "exec", "-it", "-n", n, "box", "--", "sh")
	if code != 5 || !regexp.MustCompile(`42 /dev/pts/\d+`).MatchString(out) {
		t.Fatalf("exec -it: exit %d, output %q", code, out)
	}

	// cp a directory in, and back out.
	src := t.TempDir()
	if err := os.MkdirAll(filepath.Join(src, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	for p, body := range map[string]string{"a.txt": "alpha\n", "sub/b.txt": "beta\n"} {
		if err := os.WriteFile(filepath.Join(src, p), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	must(t, k.run(t, "", "cp", "-n", n, src, "box:/tmp/in-"+k.name))
	must(t, k.run(t, "", "exec", "-n", n, "box", "--", "cat", "/tmp/in-"+k.name+"/a.txt", "/tmp/in-"+k.name+"/sub/b.txt"), "alpha\nbeta\n")
	dst := filepath.Join(t.TempDir(), "out")
	must(t, k.run(t, "", "cp", "-n", n, "box:/tmp/in-"+k.name, dst))
	for p, want := range map[string]string{"a.txt": "alpha\n", "sub/b.txt": "beta\n"} {
		if got, err := os.ReadFile(filepath.Join(dst, p)); err != nil || string(got) != want {
			t.Errorf("cp out %s: %q, %v", p, got, err)
		}
	}

	// port-forward to the pod's HTTP server.
	if body := portForward(t, k, n, "box", port); body != "served\n" {
		t.Errorf("port-forward answered %q", body)
	}

	// attach -i to a container that keeps its stdin.
	apply(t, n, streamPod("reader-"+k.name, class, img, `read line; echo "read: $line"`, "    stdin: true\n"))
	waitFor(t, n, "pod/reader-"+k.name, "{.status.phase}", "Running")
	if r := k.run(t, "first line\n", "attach", "-i", "-n", n, "reader-"+k.name); r.code != 0 || !strings.Contains(r.stdout, "read: first line\n") {
		// Seen twice under load: no output, exit 0. What the container
		// printed and its state tell which side lost it.
		t.Fatalf("attach -i:\n%s\nlogs:\n%s\nstatus: %s", r, k.run(t, "", "logs", "-n", n, "reader-"+k.name),
			get(t, n, "pod/reader-"+k.name, "{.status.containerStatuses[0].state}"))
	}
	waitFor(t, n, "pod/reader-"+k.name, "{.status.phase}", "Succeeded")
	must(t, k.run(t, "", "logs", "-n", n, "reader-"+k.name), "read: first line\n")

	// run -i --rm: output printed after 2 s reaches the terminal; the pod goes.
	overrides := fmt.Sprintf(`{"spec":{"runtimeClassName":%q}}`, class)
	r = k.run(t, "typed\n", "run", "tmp-"+k.name, "-i", "--rm", "--restart=Never", "-n", n, "--image="+img, "--overrides="+overrides, "--",
		"sh", "-c", `sleep 2; echo "late"; read x; echo "got $x"`)
	must(t, r, "late\n", "got typed\n")
	eventually(t, "pod tmp-"+k.name+" deleted", func() bool { return k.run(t, "", "get", "pod", "tmp-"+k.name, "-n", n).code != 0 })

	// run -it: a terminal in the container, driven from the test's.
	out, code = onTerminal(t, k, "echo $((7*6)) $(tty)\rexit 0\r", "run", "term-"+k.name, "-it", "--rm", "--restart=Never", "-n", n,
		"--image="+img, "--overrides="+overrides, "--", "sh")
	if code != 0 || !regexp.MustCompile(`42 /dev/pts/\d+`).MatchString(out) {
		t.Fatalf("run -it: exit %d, output %q", code, out)
	}

}

// onTerminal runs kubectl k with args on a pseudo-terminal, types input
// and returns what it printed and its exit code.
func onTerminal(t *testing.T, k kubectlBin, input string, args ...string) (string, int) {
	t.Helper()
	cmd := k.cmd(args...)
	ptmx, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 24, Cols: 80})
	if err != nil {
		t.Fatal(err)
	}
	defer ptmx.Close()
	var out bytes.Buffer
	read := make(chan struct{})
	go func() {
		_, _ = io.Copy(&out, ptmx) // EIO once kubectl exited
		close(read)
	}()
	if _, err := ptmx.Write([]byte(input)); err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	var werr error
	select {
	case werr = <-waited:
	case <-time.After(time.Minute):
		_ = cmd.Process.Kill()
		t.Fatalf("kubectl %v did not end; output %q", args, out.String())
	}
	select {
	case <-read:
	case <-time.After(5 * time.Second):
	}
	code := 0
	var ee *exec.ExitError
	if errors.As(werr, &ee) {
		code = ee.ExitCode()
	}
	return out.String(), code
}

// portForward runs kubectl port-forward to the pod's port and returns what
// an HTTP GET through it answered.
func portForward(t *testing.T, k kubectlBin, n, pod string, port int) string {
	t.Helper()
	cmd := k.cmd("port-forward", "-n", n, "pod/"+pod, fmt.Sprintf(":%d", port))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	local := make(chan string, 1)
	go func() {
		s := bufio.NewScanner(stdout)
		re := regexp.MustCompile(`Forwarding from 127\.0\.0\.1:(\d+) ->`)
		for s.Scan() {
			if m := re.FindStringSubmatch(s.Text()); m != nil {
				local <- m[1]
			}
		}
	}()
	var addr string
	select {
	case addr = <-local:
	case <-time.After(30 * time.Second):
		t.Fatal("port-forward did not start")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://127.0.0.1:"+addr+"/", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET through port-forward: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return string(body)
}

// TestStreamsForbiddenToViewers: a token user bound to batchd:view may read
// pods but neither exec, attach nor port-forward, with kube-apiserver's
// words (its WebSocket GET needs create too, as since 1.35).
func TestStreamsForbiddenToViewers(t *testing.T) {
	t.Parallel()
	n := ns(t)
	apply(t, n, streamPod("box", "host", "busybox", "exec sleep 600", ""))
	waitFor(t, n, "pod/box", "{.status.phase}", "Running")
	must(t, kubectl(t, "", "create", "serviceaccount", "viewer", "-n", n))
	must(t, kubectl(t, "", "create", "rolebinding", "viewer", "--clusterrole=batchd:view", "--serviceaccount="+n+":viewer", "-n", n))
	token := strings.TrimSpace(kubectl(t, "", "create", "token", "viewer", "-n", n).stdout)
	run := func(args ...string) result { return kubectl(t, "", args...) }
	eventually(t, "the viewer reads pods", func() bool { return asToken(t, run, token, "get", "pod", "box", "-n", n).code == 0 })
	user := "system:serviceaccount:" + n + ":viewer"
	for sub, args := range map[string][]string{
		"exec":        {"exec", "box", "-n", n, "--", "true"},
		"attach":      {"attach", "box", "-n", n},
		"portforward": {"port-forward", "box", "-n", n, ":80"},
	} {
		fails(t, asToken(t, run, token, args...), fmt.Sprintf(`pods "box" is forbidden: User %q cannot create resource "pods/%s" in API group "" in the namespace %q`, user, sub, n))
	}

	// get on pods/exec is not enough for a WebSocket exec (a GET): create is
	// checked too.
	must(t, kubectl(t, "", "create", "role", "exec-getter", "--verb=get", "--resource=pods,pods/exec", "-n", n))
	must(t, kubectl(t, "", "create", "rolebinding", "exec-getter", "--role=exec-getter", "--serviceaccount="+n+":viewer", "-n", n))
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cfg = &rest.Config{Host: cfg.Host, BearerToken: token, TLSClientConfig: rest.TLSClientConfig{CAData: cfg.CAData}}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	u := client.CoreV1().RESTClient().Post().Resource("pods").Namespace(n).Name("box").SubResource("exec").
		VersionedParams(&corev1.PodExecOptions{Command: []string{"true"}, Stdout: true}, scheme.ParameterCodec).URL()
	ex, err := remotecommand.NewWebSocketExecutor(cfg, "GET", u.String())
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf(`User %q cannot create resource "pods/exec"`, user)
	eventually(t, "the get role applies", func() bool {
		err := ex.StreamWithContext(context.Background(), remotecommand.StreamOptions{Stdout: io.Discard})
		return err != nil && strings.Contains(err.Error(), want)
	})
}

// TestClientGoExecutors: client-go's WebSocket executor (v5.channel.k8s.io,
// translated by the API server) and its SPDY executor both carry stdin,
// stdout, stderr, the exit code, and a terminal with its size.
func TestClientGoExecutors(t *testing.T) {
	t.Parallel()
	n := ns(t)
	apply(t, n, streamPod("box", "host", "busybox", "exec sleep 600", ""))
	waitFor(t, n, "pod/box", "{.status.phase}", "Running")
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	execURL := func(o *corev1.PodExecOptions) *url.URL {
		return client.CoreV1().RESTClient().Post().Resource("pods").Namespace(n).Name("box").SubResource("exec").VersionedParams(o, scheme.ParameterCodec).URL()
	}
	executors := map[string]func(u *url.URL) (remotecommand.Executor, error){
		"websocket": func(u *url.URL) (remotecommand.Executor, error) {
			return remotecommand.NewWebSocketExecutor(cfg, "GET", u.String())
		},
		"spdy": func(u *url.URL) (remotecommand.Executor, error) { return remotecommand.NewSPDYExecutor(cfg, "POST", u) },
	}
	for name, newExecutor := range executors {
		t.Run(name, func(t *testing.T) {
			ex, err := newExecutor(execURL(&corev1.PodExecOptions{Command: []string{"sh", "-c", "cat; echo err >&2; exit 7"}, Stdin: true, Stdout: true, Stderr: true}))
			if err != nil {
				t.Fatal(err)
			}
			var stdout, stderr bytes.Buffer
			err = ex.StreamWithContext(context.Background(), remotecommand.StreamOptions{Stdin: strings.NewReader("to stdin\n"), Stdout: &stdout, Stderr: &stderr})
			var exit utilexec.CodeExitError
			if !errors.As(err, &exit) || exit.Code != 7 {
				t.Fatalf("error %v (%T), want exit code 7", err, err)
			}
			if stdout.String() != "to stdin\n" || stderr.String() != "err\n" {
				t.Fatalf("stdout %q, stderr %q", stdout.String(), stderr.String())
			}
			ex, err = newExecutor(execURL(&corev1.PodExecOptions{Command: []string{"sh", "-c", "stty size; tty"}, Stdout: true, TTY: true}))
			if err != nil {
				t.Fatal(err)
			}
			stdout.Reset()
			err = ex.StreamWithContext(context.Background(), remotecommand.StreamOptions{Stdout: &stdout, Tty: true, TerminalSizeQueue: &oneSize{size: &remotecommand.TerminalSize{Width: 123, Height: 45}}})
			if err != nil {
				t.Fatal(err)
			}
			if !regexp.MustCompile(`^45 123\r\n/dev/pts/\d+\r\n$`).MatchString(stdout.String()) {
				t.Fatalf("terminal output %q", stdout.String())
			}
		})
	}
}

// oneSize is a terminal that has one size and is never resized (nil ends
// the executor's resizing).
type oneSize struct{ size *remotecommand.TerminalSize }

func (o *oneSize) Next() *remotecommand.TerminalSize {
	s := o.size
	o.size = nil
	return s
}
