package podgc

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	clocktesting "k8s.io/utils/clock/testing"
)

// TestOrphanQuarantine: a pod of a node missing from the cache is failed
// and deleted only once the node has been missing for the quarantine and
// the API confirms it is gone.
func TestOrphanQuarantine(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	clk := clocktesting.NewFakeClock(time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC))
	orphan := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", UID: "u1"}, Spec: corev1.PodSpec{NodeName: "gone"},
		Status: corev1.PodStatus{Phase: corev1.PodRunning}}
	client := fake.NewClientset(orphan)
	factory := informers.NewSharedInformerFactory(client, 0)
	c := New(Config{Client: client, Informer: factory, Clock: clk})
	factory.Start(ctx.Done())
	factory.WaitForCacheSync(ctx.Done())

	var failed *corev1.Pod
	deleted := false
	client.PrependReactor("update", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() == "status" {
			failed = a.(k8stesting.UpdateAction).GetObject().(*corev1.Pod)
		}
		return false, nil, nil
	})
	client.PrependReactor("delete", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		deleted = true
		if g := a.(k8stesting.DeleteAction).GetDeleteOptions().GracePeriodSeconds; g == nil || *g != 0 {
			t.Errorf("delete grace %v, want 0", g)
		}
		return false, nil, nil
	})
	for _, step := range []time.Duration{0, 39 * time.Second} {
		clk.Step(step)
		if err := c.Collect(ctx); err != nil {
			t.Fatal(err)
		}
		if failed != nil || deleted {
			t.Fatalf("collected %s into the quarantine", step)
		}
	}
	clk.Step(time.Second)
	if err := c.Collect(ctx); err != nil {
		t.Fatal(err)
	}
	if failed == nil || !deleted {
		t.Fatalf("not collected after the quarantine: failed %v deleted %v", failed != nil, deleted)
	}
	if failed.Status.Phase != corev1.PodFailed || len(failed.Status.Conditions) != 1 || failed.Status.Conditions[0].Reason != ReasonDeletionByPodGC {
		t.Errorf("failed status %+v", failed.Status)
	}
}
