//go:build campaign

package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/batchd/batchd/internal/leader"
	"github.com/batchd/batchd/internal/storage"
)

// leaseFlags give the servers of these tests short Leases: 3 s, renewed
// within 2 s, tried every 250 ms.
var leaseFlags = []string{"--leader-elect-lease-duration=3s", "--leader-elect-renew-deadline=2s", "--leader-elect-retry-period=250ms"}

const shortLease = 3 * time.Second

func leaseHolder(ctx context.Context, c kubernetes.Interface, name string) string {
	l, err := c.CoordinationV1().Leases(leader.Namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil || l.Spec.HolderIdentity == nil {
		return ""
	}
	return *l.Spec.HolderIdentity
}

func identityIn(t *testing.T, dataDir string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dataDir, leader.IdentityFile))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(data))
}

// waitWithin polls cond every 20 ms for up to limit and says how long it took.
func waitWithin(t *testing.T, what string, limit time.Duration, cond func(ctx context.Context) bool) time.Duration {
	t.Helper()
	start := time.Now()
	err := wait.PollUntilContextTimeout(context.Background(), 20*time.Millisecond, limit, true, func(ctx context.Context) (bool, error) { return cond(ctx), nil })
	if err != nil {
		t.Fatalf("%s: not within %s", what, limit)
	}
	return time.Since(start)
}

// Two server processes on one etcd: kill -9 of the leading one hands the
// controllers over to the other within the lease duration (plus one retry
// period), and the new leader's Job controller acts; the first server,
// restarted, serves the API but does not lead while the other holds the
// Lease.
func TestLeaderFailoverAfterKill(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "ha-e2e-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	etcd, err := storage.Start(ctx, storage.Options{Dir: filepath.Join(dir, "etcd"), UnsafeNoFsync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(etcd.Stop)
	args := append([]string{"--disable-node-agent", "--etcd-servers", etcd.Endpoint()}, leaseFlags...)
	dataA, dataB := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	a, clientA, _ := ownServer(t, dataA, args...)
	idA := identityIn(t, dataA)
	waitWithin(t, "first server leads", 30*time.Second, func(ctx context.Context) bool {
		return leaseHolder(ctx, clientA, leader.ControllerManager) == idA
	})
	_, clientB, _ := ownServer(t, dataB, args...)
	idB := identityIn(t, dataB)

	ns := "leader-failover"
	if _, err := clientA.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	job := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "kept"}, Spec: batchv1.JobSpec{
		Parallelism: ptr.To[int32](2), Completions: ptr.To[int32](2),
		Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever,
			Containers: []corev1.Container{{Name: "c", Image: "busybox", Command: []string{"true"}}}}},
	}}
	if _, err := clientB.BatchV1().Jobs(ns).Create(ctx, job, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pods := func(ctx context.Context) []corev1.Pod {
		l, err := clientB.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: batchv1.JobNameLabel + "=kept"})
		if err != nil {
			return nil
		}
		return l.Items
	}
	waitWithin(t, "the Job's 2 pods", 30*time.Second, func(ctx context.Context) bool { return len(pods(ctx)) == 2 })

	a.Kill()
	_ = a.Wait()
	took := waitWithin(t, "the second server leads", 2*shortLease, func(ctx context.Context) bool {
		return leaseHolder(ctx, clientB, leader.ControllerManager) == idB
	})
	// It acquires once the lease has run out unrenewed: after at most the
	// lease duration and one retry period (with client-go's jitter).
	if limit := shortLease + 250*time.Millisecond*12/10 + time.Second; took > limit {
		t.Errorf("handover took %s, more than %s", took, limit)
	}
	t.Logf("handover after kill -9 of the leader: %s (lease %s)", took.Round(time.Millisecond), shortLease)
	// The new leader's Job controller replaces a deleted pod.
	gone := pods(ctx)[0].Name
	if err := clientB.CoreV1().Pods(ns).Delete(ctx, gone, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitWithin(t, "a replacement pod", 30*time.Second, func(ctx context.Context) bool {
		ps := pods(ctx)
		for _, p := range ps {
			if p.Name == gone {
				return false
			}
		}
		return len(ps) == 2
	})

	// Restarted, the first server serves but leaves the lead to the second.
	_, clientA2, _ := ownServer(t, dataA, args...)
	if identityIn(t, dataA) != idA {
		t.Fatalf("identity changed across a restart")
	}
	if h := leaseHolder(ctx, clientA2, leader.ControllerManager); h != idB {
		t.Fatalf("lease holder %q after the first server's restart, want %s", h, idB)
	}
}

// A sole server killed with -9 and restarted finds itself the Lease's holder
// (its identity is kept in its data dir) and leads at once, instead of
// waiting out the lease it held (60 s here).
func TestRestartedServerLeadsAtOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	data := filepath.Join(t.TempDir(), "data")
	args := []string{"--disable-node-agent", "--leader-elect-lease-duration=60s", "--leader-elect-renew-deadline=40s", "--leader-elect-retry-period=2s"}
	srv, client, _ := ownServer(t, data, args...)
	id := identityIn(t, data)
	waitWithin(t, "the server leads", 30*time.Second, func(ctx context.Context) bool {
		return leaseHolder(ctx, client, leader.ControllerManager) == id
	})
	srv.Kill()
	_ = srv.Wait()

	started := time.Now()
	_, client, _ = ownServer(t, data, args...)
	ns := "leader-restart"
	if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	job := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "after"}, Spec: batchv1.JobSpec{
		Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever,
			Containers: []corev1.Container{{Name: "c", Image: "busybox", Command: []string{"true"}}}}},
	}}
	if _, err := client.BatchV1().Jobs(ns).Create(ctx, job, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// Its Job controller creates the pod long before the 60 s lease would
	// have run out.
	waitWithin(t, "the Job's pod", 20*time.Second, func(ctx context.Context) bool {
		l, err := client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: batchv1.JobNameLabel + "=after"})
		return err == nil && len(l.Items) == 1
	})
	t.Logf("restart to the Job's pod: %s", time.Since(started).Round(time.Millisecond))
	if h := leaseHolder(ctx, client, leader.ControllerManager); h != id {
		t.Fatalf("lease holder %q, want %s", h, id)
	}
}
