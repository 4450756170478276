package nodelifecycle

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/record"
	clocktesting "k8s.io/utils/clock/testing"
)

// TestController: a node whose lease stops moving is Unknown and tainted
// after the grace period on the controller's clock, its pod marked not
// ready with events; once it posts Ready again the taints go.
func TestController(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	clk := clocktesting.NewFakeClock(t0)
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns"}, Spec: corev1.PodSpec{NodeName: "n1"},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}}}
	elsewhere := pod.DeepCopy()
	elsewhere.Name, elsewhere.Spec.NodeName = "q", "n2"
	client := fake.NewClientset(readyNode(corev1.ConditionTrue, t0), lease("1"), pod, elsewhere)
	factory := informers.NewSharedInformerFactory(client, 0)
	rec := record.NewFakeRecorder(10)
	c := New(Config{Client: client, Informer: factory, Recorder: rec, Timing: timing, Clock: clk})
	factory.Start(ctx.Done())
	factory.WaitForCacheSync(ctx.Done())

	monitor := func() {
		t.Helper()
		if err := c.Monitor(ctx); err != nil {
			t.Fatal(err)
		}
	}
	seen := func(what string, ok func(n *corev1.Node) bool) {
		t.Helper()
		err := wait.PollUntilContextTimeout(ctx, 5*time.Millisecond, 5*time.Second, true, func(context.Context) (bool, error) {
			n, err := c.nodes.Get("n1")
			return err == nil && ok(n), nil
		})
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	monitor()
	clk.Step(50 * time.Second)
	monitor()
	if n, _ := client.CoreV1().Nodes().Get(ctx, "n1", metav1.GetOptions{}); condition(n.Status.Conditions, corev1.NodeReady).Status != corev1.ConditionTrue {
		t.Fatalf("Unknown at the grace period, not after it")
	}
	clk.Step(time.Second)
	monitor()
	n, err := client.CoreV1().Nodes().Get(ctx, "n1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if r := condition(n.Status.Conditions, corev1.NodeReady); r.Status != corev1.ConditionUnknown || r.Reason != ReasonNodeStatusUnknown {
		t.Errorf("Ready %+v", r)
	}
	if len(n.Spec.Taints) != 2 {
		t.Errorf("taints %+v", n.Spec.Taints)
	}
	p, _ := client.CoreV1().Pods("ns").Get(ctx, "p", metav1.GetOptions{})
	if p.Status.Conditions[0].Status != corev1.ConditionFalse {
		t.Errorf("pod on the node still ready")
	}
	q, _ := client.CoreV1().Pods("ns").Get(ctx, "q", metav1.GetOptions{})
	if q.Status.Conditions[0].Status != corev1.ConditionTrue {
		t.Errorf("pod on another node marked")
	}
	var events []string
	for len(rec.Events) > 0 {
		events = append(events, <-rec.Events)
	}
	want := []string{"Normal NodeNotReady Node n1 status is now: NodeNotReady", "Warning NodeNotReady Node is not ready"}
	if strings.Join(events, "|") != strings.Join(want, "|") {
		t.Errorf("events %q, want %q", events, want)
	}

	// The agent comes back: lease and Ready=True.
	seen("tainted node in the cache", func(n *corev1.Node) bool { return len(n.Spec.Taints) == 2 })
	back := readyNode(corev1.ConditionTrue, clk.Now())
	back.ResourceVersion = ""
	n.Status = back.Status
	if _, err := client.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	seen("ready node in the cache", func(n *corev1.Node) bool {
		return condition(n.Status.Conditions, corev1.NodeReady).Status == corev1.ConditionTrue
	})
	clk.Step(time.Second)
	monitor()
	n, _ = client.CoreV1().Nodes().Get(ctx, "n1", metav1.GetOptions{})
	if len(n.Spec.Taints) != 0 {
		t.Errorf("taints after return %+v", n.Spec.Taints)
	}
}
