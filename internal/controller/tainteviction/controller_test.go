package tainteviction

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/record"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
)

// TestController: on a node tainted unreachable:NoExecute, a pod
// tolerating it 300 s is evicted when the fake clock reaches the taint's
// timeAdded + 300 s, with DisruptionTarget set before the delete; another
// whose node's taint goes first keeps running, with a cancel event.
func TestController(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	clk := clocktesting.NewFakeClock(t0)
	taint := corev1.Taint{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoExecute, TimeAdded: &metav1.Time{Time: t0}}
	n1 := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}, Spec: corev1.NodeSpec{Taints: []corev1.Taint{taint}}}
	n2 := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n2"}, Spec: corev1.NodeSpec{Taints: []corev1.Taint{taint}}}
	pod := func(name, node string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", UID: types.UID("uid-" + name)}, Spec: corev1.PodSpec{NodeName: node,
			Tolerations: []corev1.Toleration{{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr.To[int64](300)}}}}
	}
	client := fake.NewClientset(n1, n2, pod("evicted", "n1"), pod("kept", "n2"))
	var disrupted *corev1.Pod
	client.PrependReactor("update", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() == "status" {
			disrupted = a.(k8stesting.UpdateAction).GetObject().(*corev1.Pod)
		}
		return false, nil, nil
	})
	factory := informers.NewSharedInformerFactory(client, 0)
	rec := record.NewFakeRecorder(10)
	c, err := New(Config{Client: client, Informer: factory, Recorder: rec, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	factory.Start(ctx.Done())
	factory.WaitForCacheSync(ctx.Done())
	go c.Run(ctx)

	until := func(what string, cond func() bool) {
		t.Helper()
		if err := wait.PollUntilContextTimeout(ctx, 5*time.Millisecond, 5*time.Second, true, func(context.Context) (bool, error) { return cond(), nil }); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	scheduled := func(key string) bool { c.mu.Lock(); defer c.mu.Unlock(); return c.scheduled[key] }
	until("both evictions scheduled", func() bool { return scheduled("ns/evicted") && scheduled("ns/kept") })
	// n2 comes back before the toleration runs out.
	back := n2.DeepCopy()
	back.Spec.Taints = nil
	if _, err := client.CoreV1().Nodes().Update(ctx, back, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	until("kept's eviction cancelled", func() bool { return !scheduled("ns/kept") })
	if e := <-rec.Events; e != "Normal TaintManagerEviction Cancelling deletion of Pod ns/kept" {
		t.Errorf("event %q", e)
	}
	clk.Step(299 * time.Second)
	if _, err := client.CoreV1().Pods("ns").Get(ctx, "evicted", metav1.GetOptions{}); err != nil {
		t.Fatalf("evicted before its toleration ran out: %v", err)
	}
	clk.Step(time.Second)
	until("evicted deleted", func() bool {
		_, err := client.CoreV1().Pods("ns").Get(ctx, "evicted", metav1.GetOptions{})
		return apierrors.IsNotFound(err)
	})
	if e := <-rec.Events; e != "Normal TaintManagerEviction Marking for deletion Pod ns/evicted" {
		t.Errorf("event %q", e)
	}
	if disrupted == nil || disrupted.Name != "evicted" || len(disrupted.Status.Conditions) != 1 || disrupted.Status.Conditions[0].Reason != ReasonDeletionByTaints {
		t.Errorf("DisruptionTarget not written before the delete: %+v", disrupted)
	}
	if _, err := client.CoreV1().Pods("ns").Get(ctx, "kept", metav1.GetOptions{}); err != nil {
		t.Errorf("kept: %v", err)
	}
}
