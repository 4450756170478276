//go:build campaign

package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	restclient "k8s.io/client-go/rest"

	"github.com/batchd/batchd/internal/node/runtime"
)

// startAgent runs `batchd agent` as its own process group until the test
// ends (then SIGTERM, and the pods it left are killed).
func startAgent(t *testing.T, dataDir string, args ...string) *exec.Cmd {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), "agent.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(batchd, append([]string{"agent", "--data-dir", dataDir, "--secure-port", "0"}, args...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		runtime.KillAll(filepath.Join(dataDir, "pods"))
		logf.Close()
		if t.Failed() {
			log, _ := os.ReadFile(logPath)
			t.Logf("agent %s log:\n%s", filepath.Base(dataDir), log)
		}
	})
	return cmd
}

// kubectlAt runs the embedded kubectl against the server of kubeconfig kc.
func kubectlAt(t *testing.T, kc string, args ...string) result {
	t.Helper()
	return runKubectl(t, batchd, append([]string{"kubectl", "--kubeconfig", kc}, args...), "")
}

// nodeClient is a client with an agent's node credentials.
func nodeClient(t *testing.T, server, agentDir string) kubernetes.Interface {
	t.Helper()
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(agentDir, "pki", name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	return kubernetes.NewForConfigOrDie(&restclient.Config{Host: server, TLSClientConfig: restclient.TLSClientConfig{
		CAData: read("ca.crt"), CertData: read("node-client.crt"), KeyData: read("node-client.key")}})
}

// One server (no agent of its own) on 127.0.0.1 and two `batchd agent`s on
// 127.0.0.2 and 127.0.0.3, each with its own data dir, joined with the
// server's token: both Nodes are Ready; a Job pinned to each agent with
// nodeSelector kubernetes.io/hostname runs there; kubectl logs (also -f)
// and exec of a pod on an agent work through the server; an agent's
// credentials cannot change the other agent's Node or pods.
func TestAgentsRunPodsServedThroughTheServer(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	root, err := os.MkdirTemp("", "agent-e2e-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	srv, admin, _ := ownServer(t, filepath.Join(root, "server"), "--disable-agent", "--bind-address", "127.0.0.1")
	kc := srv.Kubeconfig
	url := serverURL(t, kc)
	token, err := os.ReadFile(filepath.Join(root, "server", "token"))
	if err != nil {
		t.Fatal(err)
	}
	agents := map[string]string{"a1": "127.0.0.2", "a2": "127.0.0.3"}
	for name, ip := range agents {
		startAgent(t, filepath.Join(root, name), "--server", url, "--token", strings.TrimSpace(string(token)),
			"--node-name", name, "--bind-address", ip, "--node-labels", "batchd.dev/agent=yes")
	}
	waitWithin(t, "both agents' Nodes Ready", time.Minute, func(ctx context.Context) bool {
		ready := 0
		for name := range agents {
			n, err := admin.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return false
			}
			for _, c := range n.Status.Conditions {
				if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
					ready++
				}
			}
		}
		return ready == 2
	})
	nodes := kubectlAt(t, kc, "get", "nodes", "-o", "wide", "-l", "batchd.dev/agent=yes")
	must(t, nodes, "a1 ", "a2 ", "127.0.0.2", "127.0.0.3")
	if strings.Count(nodes.stdout, " Ready ") != 2 {
		t.Fatalf("want two Ready nodes:\n%s", nodes)
	}

	n := "agents"
	must(t, kubectlAt(t, kc, "create", "namespace", n), "created")
	job := `apiVersion: batch/v1
kind: Job
metadata: {name: on-%[1]s, namespace: agents}
spec:
  template:
    spec:
      restartPolicy: Never
      nodeSelector: {kubernetes.io/hostname: %[1]s}
      containers:
      - name: c
        image: busybox
        command: ["sh", "-c", "echo ran on $NODE_NAME"]
        env:
        - name: NODE_NAME
          valueFrom: {fieldRef: {fieldPath: spec.nodeName}}
`
	for name := range agents {
		r := runKubectl(t, batchd, []string{"kubectl", "--kubeconfig", kc, "apply", "-f", "-"}, fmt.Sprintf(job, name))
		must(t, r, "job.batch/on-"+name+" created")
	}
	for name := range agents {
		must(t, kubectlAt(t, kc, "wait", "-n", n, "--for=condition=complete", "job/on-"+name, "--timeout=90s"), "condition met")
		must(t, kubectlAt(t, kc, "get", "pods", "-n", n, "-l", "job-name=on-"+name, "-o", "wide"), " "+name+" ")
		must(t, kubectlAt(t, kc, "logs", "-n", n, "job/on-"+name), "ran on "+name+"\n")
	}

	// A running pod on a2: logs -f follows it until exec tells it to end.
	// The pod waits a second before it ends: an exec still in the
	// container when its init ends is killed (137), on any cluster.
	stop := fmt.Sprintf("/tmp/batchd-e2e-agent-%d-stop", os.Getpid())
	t.Cleanup(func() { os.Remove(stop) })
	pod := fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: follow, namespace: agents}
spec:
  restartPolicy: Never
  nodeSelector: {kubernetes.io/hostname: a2}
  containers:
  - name: c
    image: busybox
    command: ["sh", "-c", "echo start; while [ ! -e %s ]; do sleep 0.2; done; sleep 1; echo end"]
    env:
    - name: NODE_NAME
      valueFrom: {fieldRef: {fieldPath: spec.nodeName}}
`, stop)
	must(t, runKubectl(t, batchd, []string{"kubectl", "--kubeconfig", kc, "apply", "-f", "-"}, pod), "pod/follow created")
	must(t, kubectlAt(t, kc, "wait", "-n", n, "--for=condition=ready", "pod/follow", "--timeout=60s"), "condition met")
	fctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	follow := exec.CommandContext(fctx, batchd, "kubectl", "--kubeconfig", kc, "logs", "-f", "-n", n, "follow")
	var fout, ferr bytes.Buffer
	follow.Stdout, follow.Stderr = &fout, &ferr
	if err := follow.Start(); err != nil {
		t.Fatal(err)
	}
	must(t, kubectlAt(t, kc, "exec", "-n", n, "follow", "--", "sh", "-c", "echo exec on $NODE_NAME; exec touch "+stop), "exec on a2\n")
	if err := follow.Wait(); err != nil || fout.String() != "start\nend\n" {
		t.Fatalf("kubectl logs -f of a pod on an agent: %v\nstdout %q\nstderr %s", err, fout.String(), ferr.String())
	}
	must(t, kubectlAt(t, kc, "logs", "-n", n, "follow", "--tail=1"), "end\n")

	// a1's credentials: its own Node yes, the other's no; pods bound to a2 no.
	a1 := nodeClient(t, url, filepath.Join(root, "a1"))
	patch := []byte(`{"metadata":{"labels":{"patched":"yes"}}}`)
	if _, err := a1.CoreV1().Nodes().Patch(ctx, "a1", types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatalf("a1 patches its own Node: %v", err)
	}
	if _, err := a1.CoreV1().Nodes().Patch(ctx, "a2", types.MergePatchType, patch, metav1.PatchOptions{}); !apierrors.IsForbidden(err) {
		t.Fatalf("a1 patches Node a2: %v, want Forbidden", err)
	}
	if _, err := a1.CoreV1().Nodes().Patch(ctx, "a2", types.MergePatchType, []byte(`{"status":{"capacity":{"pods":"1"}}}`), metav1.PatchOptions{}, "status"); !apierrors.IsForbidden(err) {
		t.Fatalf("a1 patches Node a2's status: %v, want Forbidden", err)
	}
	if _, err := a1.CoreV1().Pods(n).Patch(ctx, "follow", types.MergePatchType, []byte(`{"status":{"message":"x"}}`), metav1.PatchOptions{}, "status"); !apierrors.IsForbidden(err) {
		t.Fatalf("a1 patches the status of a pod on a2: %v, want Forbidden", err)
	}
	if err := a1.CoreV1().Pods(n).Delete(ctx, "follow", metav1.DeleteOptions{}); !apierrors.IsForbidden(err) {
		t.Fatalf("a1 deletes a pod on a2: %v, want Forbidden", err)
	}
	if _, err := a1.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "a3"}}, metav1.CreateOptions{}); !apierrors.IsForbidden(err) {
		t.Fatalf("a1 creates Node a3: %v, want Forbidden", err)
	}
	if _, err := admin.CoreV1().Secrets(n).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "unrelated"}, StringData: map[string]string{"k": "v"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := a1.CoreV1().Secrets(n).Get(ctx, "unrelated", metav1.GetOptions{}); !apierrors.IsForbidden(err) {
		t.Fatalf("a1 reads a Secret no pod of it refers to: %v, want Forbidden", err)
	}
	if _, err := a1.CoreV1().Secrets(n).List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Fatalf("a1 lists Secrets: %v, want Forbidden", err)
	}
	if _, err := a1.BatchV1().Jobs(n).List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Fatalf("a1 lists Jobs: %v, want Forbidden", err)
	}
}

// Three clustered servers on 127.0.0.1-3 (no agents of their own) and two
// agents on 127.0.0.4 and 127.0.0.5, one joined through the first server and
// one through the third: kubectl logs and exec of a pod on each agent work
// through each of the three servers.
func TestAgentsThroughEachOfThreeServers(t *testing.T) {
	t.Parallel()
	root, err := os.MkdirTemp("", "agent-e2e-ha-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	ips := []string{"127.0.0.1", "127.0.0.2", "127.0.0.3"}
	kcs := make([]string, 3)
	var token string
	for i, ip := range ips {
		args := []string{"--disable-agent", "--bind-address", ip, "--etcd-peer-port", freePortOn(t, ip)}
		if i == 0 {
			args = append(args, "--cluster-init")
		} else {
			args = append(args, "--server", serverURL(t, kcs[i-1]), "--token", token)
		}
		dir := filepath.Join(root, string(rune('a'+i)))
		srv, _, _ := ownServer(t, dir, args...)
		kcs[i] = srv.Kubeconfig
		if i == 0 {
			b, err := os.ReadFile(filepath.Join(dir, "token"))
			if err != nil {
				t.Fatal(err)
			}
			token = strings.TrimSpace(string(b))
		}
	}
	agents := []struct{ name, ip, server string }{{"h1", "127.0.0.4", serverURL(t, kcs[0])}, {"h2", "127.0.0.5", serverURL(t, kcs[2])}}
	for _, a := range agents {
		startAgent(t, filepath.Join(root, a.name), "--server", a.server, "--token", token, "--node-name", a.name, "--bind-address", a.ip)
	}
	n := "agents-ha"
	must(t, kubectlAt(t, kcs[0], "create", "namespace", n), "created")
	pod := `apiVersion: v1
kind: Pod
metadata: {name: on-%[1]s, namespace: agents-ha}
spec:
  nodeSelector: {kubernetes.io/hostname: %[1]s}
  containers:
  - name: c
    image: busybox
    command: ["sh", "-c", "echo hello from $NODE_NAME; sleep 300"]
    env:
    - name: NODE_NAME
      valueFrom: {fieldRef: {fieldPath: spec.nodeName}}
`
	for _, a := range agents {
		must(t, runKubectl(t, batchd, []string{"kubectl", "--kubeconfig", kcs[1], "apply", "-f", "-"}, fmt.Sprintf(pod, a.name)), "created")
	}
	for _, a := range agents {
		must(t, kubectlAt(t, kcs[0], "wait", "-n", n, "--for=condition=ready", "pod/on-"+a.name, "--timeout=90s"), "condition met")
	}
	for i, kc := range kcs {
		for _, a := range agents {
			r := kubectlAt(t, kc, "logs", "-n", n, "on-"+a.name)
			if r.code != 0 || r.stdout != "hello from "+a.name+"\n" {
				t.Errorf("logs of the pod on %s through server %d:\n%s", a.name, i, r)
			}
			r = kubectlAt(t, kc, "exec", "-n", n, "on-"+a.name, "--", "sh", "-c", "echo exec on $NODE_NAME")
			if r.code != 0 || r.stdout != "exec on "+a.name+"\n" {
				t.Errorf("exec in the pod on %s through server %d:\n%s", a.name, i, r)
			}
		}
	}
}
