package node

import (
	"context"
	"strings"
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

func TestConditionTaints(t *testing.T) {
	mine := corev1.Taint{Key: "team", Value: "a", Effect: corev1.TaintEffectNoSchedule}
	disk := corev1.Taint{Key: corev1.TaintNodeDiskPressure, Effect: corev1.TaintEffectNoSchedule}
	for _, c := range []struct {
		in       []corev1.Taint
		pressure bool
		want     []corev1.Taint
		changed  bool
	}{
		{nil, false, nil, false},
		{nil, true, []corev1.Taint{disk}, true},
		{[]corev1.Taint{mine}, true, []corev1.Taint{mine, disk}, true},
		{[]corev1.Taint{mine, disk}, true, []corev1.Taint{mine, disk}, false},
		{[]corev1.Taint{disk, mine}, false, []corev1.Taint{mine}, true},
	} {
		got, changed := ConditionTaints(c.in, c.pressure)
		if changed != c.changed || len(got) != len(c.want) {
			t.Errorf("%v, %v: %v %v, want %v %v", c.in, c.pressure, got, changed, c.want, c.changed)
			continue
		}
		for i := range got {
			if got[i] != c.want[i] {
				t.Errorf("%v, %v: %v, want %v", c.in, c.pressure, got, c.want)
			}
		}
	}
}

// The Node is tainted node.kubernetes.io/disk-pressure:NoSchedule while it
// has disk pressure and untainted after, a user's own taint kept.
func TestHeartbeatTaintsOnDiskPressure(t *testing.T) {
	clk := clocktesting.NewFakeClock(t0)
	client := fake.NewClientset()
	pressure := false
	h := &heartbeat{client: client, clock: clk, wall: clk, events: newEvents(record.NewFakeRecorder(32), "n1"), machine: func() Machine {
		return Machine{Name: "n1", IP: "10.0.0.1", CPUs: 2, MemoryBytes: 1 << 30, MaxPods: 110, DiskPressure: pressure}
	}}
	ctx := context.Background()
	if err := h.update(ctx); err != nil {
		t.Fatal(err)
	}
	n, _ := client.CoreV1().Nodes().Get(ctx, "n1", metav1.GetOptions{})
	n.Spec.Taints = []corev1.Taint{{Key: "team", Value: "a", Effect: corev1.TaintEffectNoSchedule}}
	if _, err := client.CoreV1().Nodes().Update(ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	taints := func() string {
		n, _ := client.CoreV1().Nodes().Get(ctx, "n1", metav1.GetOptions{})
		var s []string
		for _, t := range n.Spec.Taints {
			s = append(s, t.ToString())
		}
		return strings.Join(s, ",")
	}
	pressure = true
	if err := h.update(ctx); err != nil {
		t.Fatal(err)
	}
	if got := taints(); got != "team=a:NoSchedule,node.kubernetes.io/disk-pressure:NoSchedule" {
		t.Errorf("under pressure: %s", got)
	}
	if c := findNodeCondition(func() *corev1.Node { n, _ := client.CoreV1().Nodes().Get(ctx, "n1", metav1.GetOptions{}); return n }(), corev1.NodeDiskPressure); c.Status != corev1.ConditionTrue {
		t.Errorf("DiskPressure %v", c.Status)
	}
	pressure = false
	if err := h.update(ctx); err != nil {
		t.Fatal(err)
	}
	if got := taints(); got != "team=a:NoSchedule" {
		t.Errorf("after pressure: %s", got)
	}
}

// An agent's --node-labels are on its Node and stay there (the kubelet's
// own labels win over them); --node-taints are set when it registers, and
// a taint the user removes later stays removed.
func TestHeartbeatRegistersLabelsAndTaints(t *testing.T) {
	clk := clocktesting.NewFakeClock(t0)
	client := fake.NewClientset()
	h := &heartbeat{client: client, clock: clk, wall: clk, events: newEvents(record.NewFakeRecorder(32), "a1"), machine: func() Machine {
		return Machine{Name: "a1", IP: "127.0.0.2", CPUs: 2, MemoryBytes: 1 << 30, MaxPods: 110, StreamPort: 10250,
			Labels: map[string]string{"zone": "z1", "kubernetes.io/hostname": "other"},
			Taints: []corev1.Taint{{Key: "gpu", Value: "yes", Effect: corev1.TaintEffectNoSchedule}}}
	}}
	ctx := context.Background()
	if err := h.update(ctx); err != nil {
		t.Fatal(err)
	}
	n, _ := client.CoreV1().Nodes().Get(ctx, "a1", metav1.GetOptions{})
	if n.Labels["zone"] != "z1" || n.Labels["kubernetes.io/hostname"] != "a1" {
		t.Fatalf("labels %v", n.Labels)
	}
	if len(n.Spec.Taints) != 1 || n.Spec.Taints[0].ToString() != "gpu=yes:NoSchedule" {
		t.Fatalf("taints %v", n.Spec.Taints)
	}
	if n.Status.DaemonEndpoints.KubeletEndpoint.Port != 10250 || n.Status.Addresses[0].Address != "127.0.0.2" {
		t.Fatalf("endpoint %v at %v", n.Status.DaemonEndpoints, n.Status.Addresses)
	}
	n.Spec.Taints = nil
	delete(n.Labels, "zone")
	if _, err := client.CoreV1().Nodes().Update(ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := h.update(ctx); err != nil {
		t.Fatal(err)
	}
	n, _ = client.CoreV1().Nodes().Get(ctx, "a1", metav1.GetOptions{})
	if n.Labels["zone"] != "z1" || len(n.Spec.Taints) != 0 {
		t.Fatalf("after an update: labels %v, taints %v", n.Labels, n.Spec.Taints)
	}
}

// A Node the node lifecycle controller set Unknown while the agent was cut
// off gets its status at the next renewal, not a minute later.
func TestHeartbeatRepostsStatusMarkedUnknown(t *testing.T) {
	clk := clocktesting.NewFakeClock(t0)
	client := fake.NewClientset()
	h := &heartbeat{client: client, clock: clk, wall: clk, events: newEvents(record.NewFakeRecorder(32), "n1"), machine: func() Machine {
		return Machine{Name: "n1", IP: "10.0.0.1", CPUs: 2, MemoryBytes: 1 << 30, MaxPods: 110, Cgroups: "v2", Version: "v1.37.2"}
	}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go h.run(ctx)
	ready := func() corev1.NodeCondition {
		n, err := client.CoreV1().Nodes().Get(ctx, "n1", metav1.GetOptions{})
		if err != nil {
			return corev1.NodeCondition{}
		}
		return findNodeCondition(n, corev1.NodeReady)
	}
	waitFor(t, "node registered", func() bool { return ready().Status == corev1.ConditionTrue })
	waitFor(t, "renew timer", clk.HasWaiters)
	n, err := client.CoreV1().Nodes().Get(ctx, "n1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n.Status.Conditions {
		if n.Status.Conditions[i].Type == corev1.NodeReady {
			n.Status.Conditions[i].Status, n.Status.Conditions[i].Reason = corev1.ConditionUnknown, "NodeStatusUnknown"
		}
	}
	if _, err := client.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	clk.Step(leaseRenewInterval)
	waitFor(t, "Ready posted again", func() bool {
		c := ready()
		return c.Status == corev1.ConditionTrue && c.LastHeartbeatTime.Time.Equal(t0.Add(leaseRenewInterval))
	})
}
