package integration

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"

	"github.com/batchd/batchd/internal/node/runtime/runtimetest"
	"github.com/batchd/batchd/internal/server"
	"github.com/batchd/batchd/internal/testenv"
)

// startWithAgent starts a server of its own with its scheduler and node
// agent (testenv.NodeName) on a fake runtime, in real time.
func startWithAgent(t *testing.T, adjust func(*server.Config)) *testenv.Env {
	t.Helper()
	dir := t.TempDir()
	e, err := testenv.StartWith(dir, func(c *server.Config) {
		c.DisableNodeAgent = false
		c.NodeName = testenv.NodeName
		c.Node = server.NodeOptions{Runtime: runtimetest.New(dir+"/pods", clock.RealClock{})}
		if adjust != nil {
			adjust(c)
		}
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

// fakeNode is a Node without an agent: registered through the API, Ready,
// its Lease in kube-node-lease renewed by the test every 500ms until the
// returned stop is called (or the test ends). Pods bound to it stay Pending.
func fakeNode(t *testing.T, c kubernetes.Interface, name string, labels map[string]string) (stop func()) {
	t.Helper()
	ctx := context.Background()
	l := map[string]string{corev1.LabelHostname: name, corev1.LabelOSStable: "linux"}
	for k, v := range labels {
		l[k] = v
	}
	n, err := c.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: l}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.CoreV1().Nodes().Delete(context.Background(), name, metav1.DeleteOptions{}) })
	now := metav1.Now()
	n.Status = corev1.NodeStatus{
		Capacity: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("4"), corev1.ResourceMemory: resource.MustParse("8Gi"), corev1.ResourcePods: resource.MustParse("110")},
		Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady", Message: "kubelet is posting ready status",
			LastHeartbeatTime: now, LastTransitionTime: now}},
	}
	n.Status.Allocatable = n.Status.Capacity
	if _, err := c.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	renew := func() error {
		leases := c.CoordinationV1().Leases(corev1.NamespaceNodeLease)
		at := metav1.NewMicroTime(time.Now())
		l, err := leases.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			_, err = leases.Create(ctx, &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: name},
				Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To(name), LeaseDurationSeconds: ptr.To[int32](40), RenewTime: &at}}, metav1.CreateOptions{})
			return err
		}
		l.Spec.RenewTime = &at
		_, err = leases.Update(ctx, l, metav1.UpdateOptions{})
		return err
	}
	if err := renew(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		for {
			select {
			case <-done:
				return
			case <-time.After(500 * time.Millisecond):
				_ = renew()
			}
		}
	}()
	var once sync.Once
	stop = func() { once.Do(func() { close(done); <-stopped }) }
	t.Cleanup(stop)
	return stop
}

// TestSchedulerSpreadsABurst: an Indexed Job of 6, parallelism 6, with a
// hostname spread constraint lands 2 pods on each of 3 nodes, though its
// pods are bound in one burst, faster than the informer shows the binds.
func TestSchedulerSpreadsABurst(t *testing.T) {
	e := startWithAgent(t, nil)
	for i := 1; i <= 3; i++ {
		fakeNode(t, e.Client, fmt.Sprintf("spread-%d", i), map[string]string{"pool": "spread"})
	}
	ns := e.Namespace(t)
	j := testenv.Job("six")
	j.Spec.Completions, j.Spec.Parallelism = ptr.To[int32](6), ptr.To[int32](6)
	j.Spec.CompletionMode = ptr.To(batchv1.IndexedCompletion)
	j.Spec.Template.Spec.NodeSelector = map[string]string{"pool": "spread"}
	j.Spec.Template.Spec.TopologySpreadConstraints = []corev1.TopologySpreadConstraint{{
		MaxSkew: 1, TopologyKey: corev1.LabelHostname, WhenUnsatisfiable: corev1.DoNotSchedule,
		LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{batchv1.JobNameLabel: "six"}}}}
	if _, err := e.Client.BatchV1().Jobs(ns).Create(context.Background(), j, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var perNode map[string]int
	poll(t, "6 pods bound", func(ctx context.Context) (bool, error) {
		pods, err := jobPods(ctx, e.Client, ns, "six")
		if err != nil {
			return false, err
		}
		perNode = map[string]int{}
		bound := 0
		for _, p := range pods {
			if p.Spec.NodeName != "" {
				perNode[p.Spec.NodeName]++
				bound++
			}
		}
		return bound == 6, nil
	})
	for i := 1; i <= 3; i++ {
		if n := perNode[fmt.Sprintf("spread-%d", i)]; n != 2 {
			t.Errorf("pods per node %v, want 2 on each spread node", perNode)
			break
		}
	}
}
