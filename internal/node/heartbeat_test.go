package node

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/record"
	clocktesting "k8s.io/utils/clock/testing"
)

// The heartbeat registers the Node (Ready, with the kubelet's events) and
// its Lease, renews the Lease every 10s and the Node's status every minute
// of the clock.
func TestHeartbeatRegistersAndRenews(t *testing.T) {
	clk := clocktesting.NewFakeClock(t0)
	client := fake.NewClientset()
	rec := record.NewFakeRecorder(32)
	h := &heartbeat{client: client, clock: clk, wall: clk, events: newEvents(rec, "n1"), machine: func() Machine {
		return Machine{Name: "n1", IP: "10.0.0.1", CPUs: 2, MemoryBytes: 1 << 30, MaxPods: 110, Cgroups: "v2", Version: "v1.37.2"}
	}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go h.run(ctx)
	get := func() (*corev1.Node, time.Time) {
		n, err := client.CoreV1().Nodes().Get(ctx, "n1", metav1.GetOptions{})
		if err != nil {
			return nil, time.Time{}
		}
		l, err := client.CoordinationV1().Leases(leaseNamespace).Get(ctx, "n1", metav1.GetOptions{})
		if err != nil || l.Spec.RenewTime == nil {
			return n, time.Time{}
		}
		return n, l.Spec.RenewTime.Time
	}
	waitFor(t, "node and lease", func() bool { n, renew := get(); return n != nil && !renew.IsZero() })
	n, renew := get()
	if c := findNodeCondition(n, corev1.NodeReady); c.Status != corev1.ConditionTrue || !c.LastHeartbeatTime.Time.Equal(t0) || !renew.Equal(t0) {
		t.Fatalf("ready %+v, lease renewed %v", c, renew)
	}
	waitFor(t, "renew timer", clk.HasWaiters)
	clk.Step(leaseRenewInterval)
	waitFor(t, "lease renewed", func() bool { _, renew := get(); return renew.Equal(t0.Add(leaseRenewInterval)) })
	if n, _ := get(); !findNodeCondition(n, corev1.NodeReady).LastHeartbeatTime.Time.Equal(t0) {
		t.Error("status written before a minute passed")
	}
	for i := 0; i < 5; i++ {
		waitFor(t, "renew timer", clk.HasWaiters)
		clk.Step(leaseRenewInterval)
	}
	waitFor(t, "status renewed", func() bool {
		n, _ := get()
		return findNodeCondition(n, corev1.NodeReady).LastHeartbeatTime.Time.Equal(t0.Add(time.Minute))
	})
	var reasons []string
	for _, e := range drain(rec) {
		reasons = append(reasons, e)
	}
	if len(reasons) < 2 || reasons[0] != "Normal Starting Starting kubelet." {
		t.Errorf("events %q", reasons)
	}
}

func findNodeCondition(n *corev1.Node, t corev1.NodeConditionType) corev1.NodeCondition {
	if n == nil {
		return corev1.NodeCondition{}
	}
	for _, c := range n.Status.Conditions {
		if c.Type == t {
			return c
		}
	}
	return corev1.NodeCondition{}
}
