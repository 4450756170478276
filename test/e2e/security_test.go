package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/batchd/batchd/internal/node/runtime"
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

// TestPodsCannotReadTheServersKeys: the data dir (CA and admin keys, admin
// token, kubeconfig, etcd) is hidden from every container, even one running
// as the server's own user, while the pod's own volumes (stored under the
// data dir) work; a pod with runAsUser runs as that user and cannot reach
// the keys through /proc either; runAsNonRoot without a user is refused as
// the kubelet refuses it. The server has a data dir of its own outside /tmp
// (a pod's private /tmp would hide one under /tmp anyway).
func TestPodsCannotReadTheServersKeys(t *testing.T) {
	t.Parallel()
	dir, err := os.MkdirTemp("/var/tmp", "batchd-e2e-keys-")
	if err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	t.Cleanup(func() {
		runtime.KillAll(filepath.Join(data, "pods"))
		os.RemoveAll(dir)
	})
	srv, _, _ := ownServer(t, data)
	k := func(stdin string, args ...string) result {
		t.Helper()
		return kubectl(t, stdin, append([]string{"--kubeconfig", srv.Kubeconfig, "-n", "default"}, args...)...)
	}
	key := filepath.Join(data, "pki", "admin.key")
	if _, err := os.Stat(key); err != nil {
		t.Fatal(err)
	}
	script := fmt.Sprintf(`echo scratch > /scratch/f && cat /scratch/f
if cat %[1]s >/dev/null 2>&1; then echo KEY-READ; fi
if ls %[2]s/pki >/dev/null 2>&1; then echo PKI-LISTED; fi
if cat %[2]s/kubeconfig >/dev/null 2>&1; then echo KUBECONFIG-READ; fi
echo "uid=$(id -u) gid=$(id -g)"`, key, data)
	pod := func(name, sc string) string {
		return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: %s
spec:
  restartPolicy: Never
%s
  volumes: [{name: scratch, emptyDir: {}}]
  containers:
  - name: c
    image: busybox
    command: ["sh", "-c", %q]
    volumeMounts: [{name: scratch, mountPath: /scratch}]
`, name, sc, script)
	}
	must(t, k(pod("as-server", ""), "apply", "-f", "-"), "created")
	must(t, k(pod("as-user", "  securityContext: {runAsUser: 65534, runAsGroup: 65534}"), "apply", "-f", "-"), "created")
	for _, name := range []string{"as-server", "as-user"} {
		must(t, k("", "wait", "--for=jsonpath={.status.phase}=Succeeded", "pod/"+name, "--timeout=60s"))
		out := k("", "logs", name).stdout
		if !strings.Contains(out, "scratch\n") {
			t.Errorf("%s: its own emptyDir does not work:\n%s", name, out)
		}
		for _, leak := range []string{"KEY-READ", "PKI-LISTED", "KUBECONFIG-READ"} {
			if strings.Contains(out, leak) {
				t.Errorf("%s: %s:\n%s", name, leak, out)
			}
		}
		if name == "as-user" && !strings.Contains(out, "uid=65534 gid=65534") {
			t.Errorf("as-user did not run as 65534:65534:\n%s", out)
		}
	}
	// A process of another user cannot reach the server's files through
	// /proc/<pid>/root either (the kernel's ptrace access check).
	pid := strconv.Itoa(srv.Pid())
	must(t, k(fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: via-proc
spec:
  restartPolicy: Never
  securityContext: {runAsUser: 65534}
  containers:
  - name: c
    image: busybox
    command: ["sh", "-c", "if cat /proc/%s/root%s >/dev/null 2>&1; then echo KEY-READ; else echo denied; fi"]
`, pid, key), "apply", "-f", "-"), "created")
	must(t, k("", "wait", "--for=jsonpath={.status.phase}=Succeeded", "pod/via-proc", "--timeout=60s"))
	if out := k("", "logs", "via-proc").stdout; strings.TrimSpace(out) != "denied" {
		t.Errorf("via /proc/%s/root: %q", pid, out)
	}
	if os.Geteuid() != 0 {
		return
	}
	must(t, k(`apiVersion: v1
kind: Pod
metadata:
  name: non-root
spec:
  restartPolicy: Never
  securityContext: {runAsNonRoot: true}
  containers:
  - name: c
    image: busybox
    command: ["true"]
`, "apply", "-f", "-"), "created")
	want := `CreateContainerConfigError: container has runAsNonRoot and image will run as root (pod: "non-root_default(`
	err = wait.PollUntilContextTimeout(context.Background(), 200*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		r := k("", "get", "pod", "non-root", "-o", "jsonpath={.status.containerStatuses[0].state.waiting.reason}: {.status.containerStatuses[0].state.waiting.message}")
		return strings.HasPrefix(r.stdout, want), nil
	})
	if err != nil {
		t.Errorf("non-root pod never waited with %q: %s", want, k("", "get", "pod", "non-root", "-o", "yaml").stdout)
	}
}

// TestLDPreloadNeverRunsAsRoot: a host pod running as 65534 with LD_PRELOAD
// naming a library (one another pod could have left in /var/tmp) gets it
// loaded into its own processes only, never into its root supervisor.
func TestLDPreloadNeverRunsAsRoot(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Fatal("needs root: the supervisor runs as root only when the server does")
	}
	dir, err := os.MkdirTemp("/var/tmp", "batchd-e2e-preload-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	marks := filepath.Join(dir, "marks")
	if err := os.Mkdir(marks, 0o777); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{dir, marks} {
		if err := os.Chmod(d, 0o777); err != nil {
			t.Fatal(err)
		}
	}
	src := filepath.Join(dir, "mark.c")
	lib := filepath.Join(dir, "libmark.so")
	if err := os.WriteFile(src, []byte(`#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
__attribute__((constructor)) static void mark(void) {
	const char *d = getenv("MARK_DIR");
	char p[4096];
	if (!d) return;
	snprintf(p, sizeof p, "%s/uid-%d-euid-%d", d, (int)getuid(), (int)geteuid());
	FILE *f = fopen(p, "w");
	if (f) fclose(f);
}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("gcc", "-shared", "-fPIC", "-o", lib, src).CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, out)
	}
	n := ns(t)
	apply(t, n, fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: preload}
spec:
  runtimeClassName: host
  restartPolicy: Never
  securityContext: {runAsUser: 65534, runAsGroup: 65534}
  containers:
  - name: c
    image: busybox
    command: ["sh", "-c", "echo ran as $(id -u)"]
    env:
    - {name: LD_PRELOAD, value: %s}
    - {name: MARK_DIR, value: %s}
`, lib, marks))
	waitFor(t, n, "pod/preload", "{.status.phase}", "Succeeded")
	must(t, kubectl(t, "", "logs", "-n", n, "preload"), "ran as 65534\n")
	entries, err := os.ReadDir(marks)
	if err != nil {
		t.Fatal(err)
	}
	var seen []string
	for _, e := range entries {
		seen = append(seen, e.Name())
	}
	if !slices.Contains(seen, "uid-65534-euid-65534") {
		t.Errorf("the library was not loaded into the container (the test proves nothing): %v", seen)
	}
	for _, s := range seen {
		if s != "uid-65534-euid-65534" {
			t.Errorf("the pod's LD_PRELOAD ran as %s", s)
		}
	}
}

// TestServerListensOnlyOnItsAPIPort: `ss -xlp`/`ss -tlp` of the real server
// show the API port, the node agent's streaming endpoint on the loopback
// address (the Node's kubelet endpoint: exec, attach, port-forward, for the
// API server's client certificate only) and, for etcd, a socket file inside
// the data dir — no abstract unix socket (etcd's peer listener was one,
// reachable by anyone on the machine, issue 25) and no other TCP port.
func TestServerListensOnlyOnItsAPIPort(t *testing.T) {
	t.Parallel()
	data := filepath.Join(t.TempDir(), "data")
	srv, c, _ := ownServer(t, data)
	var agent int32
	eventually(t, "the Node names its kubelet endpoint", func() bool {
		nodes, err := c.CoreV1().Nodes().List(context.Background(), metav1.ListOptions{})
		if err != nil || len(nodes.Items) != 1 {
			return false
		}
		agent = nodes.Items[0].Status.DaemonEndpoints.KubeletEndpoint.Port
		return agent != 0
	})
	got, err := serverproc.Listeners(srv.Pid())
	if err != nil {
		t.Fatal(err)
	}
	api := strings.TrimPrefix(c.Discovery().RESTClient().Get().URL().Host, "https://")
	want := []serverproc.Listener{{Network: "tcp", Address: api}, {Network: "tcp", Address: fmt.Sprintf("127.0.0.1:%d", agent)},
		{Network: "unix", Address: filepath.Join(data, "etcd", "client.sock")}}
	if len(got) != len(want) || !slices.Contains(got, want[0]) || !slices.Contains(got, want[1]) || !slices.Contains(got, want[2]) {
		t.Errorf("the server listens on %v, want exactly %v", got, want)
	}
	for _, l := range got {
		if l.Abstract() {
			t.Errorf("abstract unix socket %q: any local user may connect to it", l.Address)
		}
	}
}
