package e2e

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/batchd/batchd/internal/leader"
	"github.com/batchd/batchd/internal/serverproc"
)

func freePortOn(t *testing.T, ip string) string {
	t.Helper()
	l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

func serverURL(t *testing.T, kubeconfig string) string {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	return cfg.Host
}

// Three server processes on 127.0.0.1-3 form one cluster (--cluster-init,
// then --server/--token, the third joining through the second). kill -9 of
// the leading server: the other two keep serving and writing, another
// server leads within the lease time and runs the Jobs; the killed server,
// restarted, catches up.
func TestClusterOfThreeSurvivesKill(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	root, err := os.MkdirTemp("", "ha-e2e-cl-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	ips := []string{"127.0.0.1", "127.0.0.2", "127.0.0.3"}
	args := make([][]string, 3)
	dirs := make([]string, 3)
	procs := make([]*serverproc.Process, 3)
	clients := make([]kubernetes.Interface, 3)
	for i, ip := range ips {
		dirs[i] = filepath.Join(root, string(rune('a'+i)))
		args[i] = append([]string{"--disable-node-agent", "--bind-address", ip, "--etcd-peer-port", freePortOn(t, ip)}, leaseFlags...)
	}
	args[0] = append(args[0], "--cluster-init")
	procs[0], clients[0], _ = ownServer(t, dirs[0], args[0]...)
	token, err := os.ReadFile(filepath.Join(dirs[0], "token"))
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < 3; i++ {
		args[i] = append(args[i], "--server", serverURL(t, procs[i-1].Kubeconfig), "--token", strings.TrimSpace(string(token)))
		procs[i], clients[i], _ = ownServer(t, dirs[i], args[i]...)
	}

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
	procs[killed].Kill()
	_ = procs[killed].Wait()
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
	_, restarted, _ := ownServer(t, dirs[killed], args[killed]...)
	waitWithin(t, "the Job written while it was down, through the restarted server", 30*time.Second, func(ctx context.Context) bool {
		_, err := restarted.BatchV1().Jobs(ns).Get(ctx, "after-kill", metav1.GetOptions{})
		return err == nil
	})
}
