package integration

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/batchd/batchd/internal/leader"
	"github.com/batchd/batchd/internal/server"
	"github.com/batchd/batchd/internal/storage"
	"github.com/batchd/batchd/internal/testenv"
)

// shortLeases make a handover take seconds, not the default 15 s.
var shortLeases = leader.Timing{LeaseDuration: 4 * time.Second, RenewDeadline: 2 * time.Second, RetryPeriod: 200 * time.Millisecond}

// outlivingEtcd starts an etcd in a new directory that outlives the
// servers a test starts on it afterwards (cleanups run last-added first),
// and returns the directory and the etcd's endpoint.
func outlivingEtcd(t *testing.T, prefix string) (dir, endpoint string) {
	t.Helper()
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	etcd, err := storage.Start(context.Background(), storage.Options{Dir: filepath.Join(dir, "etcd"), UnsafeNoFsync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(etcd.Stop)
	return dir, etcd.Endpoint()
}

// startOnEtcd starts a server of its own on the etcd at endpoint.
func startOnEtcd(t *testing.T, endpoint string) *testenv.Env {
	t.Helper()
	e, err := testenv.StartWith(t.TempDir(), func(c *server.Config) {
		c.EtcdServers = []string{endpoint}
		c.LeaderElection = shortLeases
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := e.Stop(); err != nil {
			t.Error(err)
		}
	})
	return e
}

func identityOf(t *testing.T, e *testenv.Env) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(e.DataDir, leader.IdentityFile))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(data))
}

// holder is the holder of kube-system/<name>, "" when none.
func holder(ctx context.Context, c kubernetes.Interface, name string) (string, error) {
	l, err := c.CoordinationV1().Leases(leader.Namespace).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return "", nil
	}
	if err != nil || l.Spec.HolderIdentity == nil {
		return "", err
	}
	return *l.Spec.HolderIdentity, nil
}

func waitHolder(t *testing.T, c kubernetes.Interface, name, want string) {
	t.Helper()
	poll(t, "lease "+name+" held by "+want, func(ctx context.Context) (bool, error) {
		h, err := holder(ctx, c, name)
		return h == want, err
	})
}

func jobPods(ctx context.Context, c kubernetes.Interface, ns, job string) ([]corev1.Pod, error) {
	pods, err := c.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: batchv1.JobNameLabel + "=" + job})
	if err != nil {
		return nil, err
	}
	return pods.Items, nil
}

// Two servers on one etcd: only the Lease's holder runs the controllers, so
// a Job gets exactly its pods; a graceful stop of the holder releases the
// Lease and the other server's controllers take over at once.
func TestLeaderElectionTwoServersOneEtcd(t *testing.T) {
	ctx := context.Background()
	_, endpoint := outlivingEtcd(t, "ha-etcd-")
	a := startOnEtcd(t, endpoint)
	waitHolder(t, a.Client, leader.ControllerManager, identityOf(t, a))
	b := startOnEtcd(t, endpoint)
	if identityOf(t, a) == identityOf(t, b) {
		t.Fatalf("both servers have identity %s", identityOf(t, a))
	}

	ns := "leader-" + strings.ToLower(t.Name()[len(t.Name())-6:])
	if _, err := a.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	defer a.Client.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{})
	// The pods stay pending (no node): the Job keeps exactly 3 active.
	job := testenv.Job("once")
	job.Spec.Parallelism, job.Spec.Completions = ptr.To[int32](3), ptr.To[int32](3)
	// Every pod ever created for the Job, seen through a watch: a second
	// Job controller would create pods of its own, and then delete the
	// excess, so counting the pods present is not enough.
	w, err := a.Client.CoreV1().Pods(ns).Watch(ctx, metav1.ListOptions{LabelSelector: batchv1.JobNameLabel + "=once"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	created := map[string]bool{}
	countCreated := func() int {
		for {
			select {
			case ev := <-w.ResultChan():
				if p, ok := ev.Object.(*corev1.Pod); ok && ev.Type == watch.Added {
					created[p.Name] = true
				}
			default:
				return len(created)
			}
		}
	}
	// Created through the server that does not lead.
	if _, err := b.Client.BatchV1().Jobs(ns).Create(ctx, job, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	poll(t, "3 pods and active 3", func(ctx context.Context) (bool, error) {
		j, err := a.Client.BatchV1().Jobs(ns).Get(ctx, "once", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		pods, err := jobPods(ctx, b.Client, ns, "once")
		return j.Status.Active == 3 && len(pods) == 3, err
	})
	// Two Job controllers would each have made 3 pods as soon as they saw
	// the Job; none may appear for several of the follower's retry periods.
	err = wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 10*shortLeases.RetryPeriod, true, func(ctx context.Context) (bool, error) {
		if n := countCreated(); n > 3 {
			return false, fmt.Errorf("%d pods were created for the Job, want 3", n)
		}
		return false, nil
	})
	if !wait.Interrupted(err) {
		t.Fatal(err)
	}
	if n := countCreated(); n != 3 {
		t.Fatalf("%d pods were created for the Job, want 3", n)
	}
	if h, err := holder(ctx, b.Client, leader.ControllerManager); err != nil || h != identityOf(t, a) {
		t.Fatalf("lease holder %q (%v), want the first server %s", h, err, identityOf(t, a))
	}

	// A graceful stop releases the Lease: the other server acquires it at
	// its next retry, well within the lease duration.
	stopped := time.Now()
	if err := a.Stop(); err != nil {
		t.Fatal(err)
	}
	err = wait.PollUntilContextTimeout(ctx, 20*time.Millisecond, shortLeases.LeaseDuration, true, func(ctx context.Context) (bool, error) {
		h, err := holder(ctx, b.Client, leader.ControllerManager)
		return h == identityOf(t, b), err
	})
	if err != nil {
		t.Fatalf("the second server did not take the lease within %s of the first one's stop: %v", shortLeases.LeaseDuration, err)
	}
	t.Logf("handover after a graceful stop: %s", time.Since(stopped).Round(time.Millisecond))
	// Its Job controller acts: a deleted pod is replaced.
	pods, err := jobPods(ctx, b.Client, ns, "once")
	if err != nil {
		t.Fatal(err)
	}
	gone := pods[0].Name
	if err := b.Client.CoreV1().Pods(ns).Delete(ctx, gone, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	poll(t, "replacement pod", func(ctx context.Context) (bool, error) {
		pods, err := jobPods(ctx, b.Client, ns, "once")
		if err != nil {
			return false, err
		}
		for _, p := range pods {
			if p.Name == gone {
				return false, nil
			}
		}
		return len(pods) == 3, nil
	})
}
