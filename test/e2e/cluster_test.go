//go:build campaign

package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/batchd/batchd/internal/leader"
	"github.com/batchd/batchd/internal/serverproc"
)

func serverURL(t *testing.T, kubeconfig string) string {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	return cfg.Host
}

// cluster is three server processes on 127.0.0.1-3 that form one cluster
// (--cluster-init, then --server/--token, the third joining through the
// second), each with its data dir, the command that starts it again and a
// client.
type cluster struct {
	dirs    []string
	args    [][]string
	procs   []*serverproc.Process
	clients []kubernetes.Interface
}

func formCluster(t *testing.T, extra ...string) *cluster {
	t.Helper()
	root, err := os.MkdirTemp("", "ha-e2e-cl-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	c := &cluster{dirs: make([]string, 3), args: make([][]string, 3), procs: make([]*serverproc.Process, 3), clients: make([]kubernetes.Interface, 3)}
	for i, ip := range []string{"127.0.0.1", "127.0.0.2", "127.0.0.3"} {
		c.dirs[i] = filepath.Join(root, string(rune('a'+i)))
		c.args[i] = append(append([]string{"--bind-address", ip, "--etcd-peer-port", freePortOn(t, ip)}, leaseFlags...), extra...)
	}
	c.args[0] = append(c.args[0], "--cluster-init")
	c.procs[0], c.clients[0], _ = ownServer(t, c.dirs[0], c.args[0]...)
	token, err := os.ReadFile(filepath.Join(c.dirs[0], "token"))
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < 3; i++ {
		c.args[i] = append(c.args[i], "--server", serverURL(t, c.procs[i-1].Kubeconfig), "--token", strings.TrimSpace(string(token)))
		c.procs[i], c.clients[i], _ = ownServer(t, c.dirs[i], c.args[i]...)
	}
	return c
}

// kill ends server i with SIGKILL.
func (c *cluster) kill(i int) {
	c.procs[i].Kill()
	_ = c.procs[i].Wait()
}

// restart starts server i again with the command it was started with.
func (c *cluster) restart(t *testing.T, i int) {
	t.Helper()
	c.procs[i], c.clients[i], _ = ownServer(t, c.dirs[i], c.args[i]...)
}

// Three server processes on 127.0.0.1-3 form one cluster. kill -9 of the
// leading server: the other two keep serving and writing, another server
// leads within the lease time and runs the Jobs; the killed server,
// restarted, catches up.
func TestClusterOfThreeSurvivesKill(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cl := formCluster(t, "--disable-node-agent")
	dirs, clients := cl.dirs, cl.clients

	ns := "cluster-kill"
	if _, err := clients[0].CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	newJob := func(name string) *batchv1.Job {
		return &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: batchv1.JobSpec{
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever,
				Containers: []corev1.Container{{Name: "c", Image: "busybox", Command: []string{"true"}}}}}}}
	}
	hasPod := func(c kubernetes.Interface, job string) func(context.Context) bool {
		return func(ctx context.Context) bool {
			l, err := c.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: batchv1.JobNameLabel + "=" + job})
			return err == nil && len(l.Items) == 1
		}
	}
	if _, err := clients[0].BatchV1().Jobs(ns).Create(ctx, newJob("first"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitWithin(t, "the first Job's pod, through the third server", 30*time.Second, hasPod(clients[2], "first"))

	// Kill the leading server.
	holder := leaseHolder(ctx, clients[1], leader.ControllerManager)
	killed := -1
	for i := range dirs {
		if identityIn(t, dirs[i]) == holder {
			killed = i
		}
	}
	if killed < 0 {
		t.Fatalf("lease holder %q is none of the servers", holder)
	}
	cl.kill(killed)
	alive := (killed + 1) % 3
	took := waitWithin(t, "another server leads", 30*time.Second, func(ctx context.Context) bool {
		h := leaseHolder(ctx, clients[alive], leader.ControllerManager)
		return h != "" && h != holder
	})
	t.Logf("server %d (leader) killed; another leads after %s", killed, took.Round(time.Millisecond))
	if _, err := clients[alive].BatchV1().Jobs(ns).Create(ctx, newJob("after-kill"), metav1.CreateOptions{}); err != nil {
		t.Fatalf("write with one server of three killed: %v", err)
	}
	other := (killed + 2) % 3
	waitWithin(t, "the new Job's pod, through the other survivor", 30*time.Second, hasPod(clients[other], "after-kill"))

	// Restarted with the same command, the killed server catches up.
	cl.restart(t, killed)
	waitWithin(t, "the Job written while it was down, through the restarted server", 30*time.Second, func(ctx context.Context) bool {
		_, err := cl.clients[killed].BatchV1().Jobs(ns).Get(ctx, "after-kill", metav1.GetOptions{})
		return err == nil
	})
}

// Two servers of three killed: the third has no quorum and refuses writes
// (no split brain: it cannot go on alone); what was acknowledged before is
// there when they return, and writes work again once two of three run.
func TestClusterWithoutQuorumRefusesWrites(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cl := formCluster(t, "--disable-node-agent")
	ns := "cluster-quorum"
	if _, err := cl.clients[0].CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	cm := func(name string) *corev1.ConfigMap {
		return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name}, Data: map[string]string{"k": name}}
	}
	for i := 0; i < 3; i++ {
		if _, err := cl.clients[i].CoreV1().ConfigMaps(ns).Create(ctx, cm(fmt.Sprintf("before-%d", i)), metav1.CreateOptions{}); err != nil {
			t.Fatalf("write through server %d: %v", i, err)
		}
	}
	cl.kill(0)
	cl.kill(1)
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	_, err := cl.clients[2].CoreV1().ConfigMaps(ns).Create(wctx, cm("alone"), metav1.CreateOptions{})
	cancel()
	if err == nil {
		t.Fatal("a server without quorum acknowledged a write")
	}
	t.Logf("write without quorum: %v", err)

	cl.restart(t, 1)
	waitWithin(t, "a write once two of three run", 60*time.Second, func(ctx context.Context) bool {
		_, err := cl.clients[2].CoreV1().ConfigMaps(ns).Create(ctx, cm("after"), metav1.CreateOptions{})
		return err == nil || apierrors.IsAlreadyExists(err)
	})
	cl.restart(t, 0)
	for i := 0; i < 3; i++ {
		for _, name := range []string{"before-0", "before-1", "before-2", "after"} {
			waitWithin(t, name+" through server "+strconv.Itoa(i), 30*time.Second, func(ctx context.Context) bool {
				got, err := cl.clients[i].CoreV1().ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{})
				return err == nil && got.Data["k"] == name
			})
		}
	}
}
