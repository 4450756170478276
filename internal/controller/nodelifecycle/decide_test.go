package nodelifecycle

import (
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

var t0 = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)

var timing = Timing{MonitorPeriod: 5 * time.Second, GracePeriod: 50 * time.Second, StartupGracePeriod: time.Minute}

func readyNode(status corev1.ConditionStatus, heartbeat time.Time) *corev1.Node {
	hb := metav1.NewTime(heartbeat)
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1", CreationTimestamp: metav1.NewTime(t0.Add(-time.Hour))},
		Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{
			{Type: corev1.NodeReady, Status: status, Reason: "KubeletReady", LastHeartbeatTime: hb, LastTransitionTime: hb},
			{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasSufficientMemory", LastHeartbeatTime: hb, LastTransitionTime: hb},
			{Type: corev1.NodeDiskPressure, Status: corev1.ConditionFalse, LastHeartbeatTime: hb, LastTransitionTime: hb},
			{Type: corev1.NodePIDPressure, Status: corev1.ConditionFalse, LastHeartbeatTime: hb, LastTransitionTime: hb},
		}}}
}

func lease(rv string) *coordinationv1.Lease {
	return &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "n1", Namespace: corev1.NamespaceNodeLease, ResourceVersion: rv}}
}

func TestDecideGrace(t *testing.T) {
	n := readyNode(corev1.ConditionTrue, t0)
	// First look: the probe is now, whatever the heartbeat says.
	p := Decide(Observed{Node: n, Lease: lease("1"), Now: t0.Add(10 * time.Minute), Timing: timing})
	if p.Conditions != nil || p.Taints != nil || p.NotReady {
		t.Fatalf("first look acted: %+v", p)
	}
	h := p.Health
	// The lease renewed within the grace: still nothing.
	p = Decide(Observed{Node: n, Lease: lease("2"), Health: &h, Now: h.Probe.Add(49 * time.Second), Timing: timing})
	if p.Conditions != nil || p.Taints != nil {
		t.Fatalf("within grace: %+v", p)
	}
	h = p.Health
	// No renewal for the grace: Unknown, tainted, pods not ready.
	now := h.Probe.Add(50*time.Second + time.Millisecond)
	p = Decide(Observed{Node: n, Lease: lease("2"), Health: &h, Now: now, Timing: timing})
	if !p.NotReady {
		t.Errorf("NotReady not set")
	}
	if len(p.Conditions) != 4 {
		t.Fatalf("conditions %+v", p.Conditions)
	}
	for _, c := range p.Conditions {
		if c.Status != corev1.ConditionUnknown || c.Reason != ReasonNodeStatusUnknown || c.Message != MessageNodeStatusUnknown ||
			!c.LastTransitionTime.Time.Equal(now) || !c.LastHeartbeatTime.Time.Equal(t0) {
			t.Errorf("condition %+v", c)
		}
	}
	if len(p.Taints) != 2 || !p.Taints[0].MatchTaint(&UnreachableNoSchedule) || p.Taints[0].TimeAdded != nil ||
		!p.Taints[1].MatchTaint(&UnreachableNoExecute) || p.Taints[1].TimeAdded == nil || !p.Taints[1].TimeAdded.Time.Equal(now) {
		t.Errorf("taints %+v", p.Taints)
	}
	// Written: the next pass changes nothing and keeps timeAdded.
	n2 := n.DeepCopy()
	n2.Status.Conditions, n2.Spec.Taints = p.Conditions, p.Taints
	h = p.Health
	p = Decide(Observed{Node: n2, Lease: lease("2"), Health: &h, Now: now.Add(5 * time.Second), Timing: timing})
	if p.Conditions != nil || p.Taints != nil || p.NotReady {
		t.Errorf("second pass acted: %+v", p)
	}
	// The lease renews again: the conditions wait for the agent...
	h = p.Health
	p = Decide(Observed{Node: n2, Lease: lease("3"), Health: &h, Now: now.Add(10 * time.Second), Timing: timing})
	if p.Conditions != nil || p.Taints != nil {
		t.Errorf("renewal alone acted: %+v", p)
	}
	// ... which posts Ready=True: the taints go, other taints stay.
	back := readyNode(corev1.ConditionTrue, now.Add(11*time.Second))
	back.Spec.Taints = append([]corev1.Taint{{Key: "dedicated", Effect: corev1.TaintEffectNoSchedule}}, n2.Spec.Taints...)
	h = p.Health
	p = Decide(Observed{Node: back, Lease: lease("3"), Health: &h, Now: now.Add(12 * time.Second), Timing: timing})
	if len(p.Taints) != 1 || p.Taints[0].Key != "dedicated" {
		t.Errorf("taints after return %+v", p.Taints)
	}
}

func TestDecideHeartbeatWithoutLease(t *testing.T) {
	n := readyNode(corev1.ConditionTrue, t0)
	p := Decide(Observed{Node: n, Now: t0, Timing: timing})
	h := p.Health
	// A new heartbeat in the Ready condition counts as a probe.
	p = Decide(Observed{Node: readyNode(corev1.ConditionTrue, t0.Add(40*time.Second)), Health: &h, Now: t0.Add(40 * time.Second), Timing: timing})
	h = p.Health
	p = Decide(Observed{Node: readyNode(corev1.ConditionTrue, t0.Add(40*time.Second)), Health: &h, Now: t0.Add(80 * time.Second), Timing: timing})
	if p.Conditions != nil {
		t.Errorf("heartbeat not counted: %+v", p)
	}
}

func TestDecideReadyFalse(t *testing.T) {
	// The agent itself says not ready: not-ready taints replace unreachable ones.
	n := readyNode(corev1.ConditionFalse, t0)
	n.Spec.Taints = []corev1.Taint{UnreachableNoSchedule, UnreachableNoExecute}
	p := Decide(Observed{Node: n, Lease: lease("1"), Now: t0, Timing: timing})
	if p.Conditions != nil || len(p.Taints) != 2 || !p.Taints[0].MatchTaint(&NotReadyNoSchedule) || !p.Taints[1].MatchTaint(&NotReadyNoExecute) {
		t.Errorf("plan %+v", p)
	}
}

func TestDecideNeverPosted(t *testing.T) {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1", CreationTimestamp: metav1.NewTime(t0)}}
	p := Decide(Observed{Node: n, Now: t0.Add(59 * time.Second), Timing: timing})
	if p.Conditions != nil || p.Taints != nil {
		t.Fatalf("within startup grace: %+v", p)
	}
	h := p.Health
	p = Decide(Observed{Node: n, Health: &h, Now: t0.Add(61 * time.Second), Timing: timing})
	if len(p.Conditions) != 4 || p.Conditions[0].Reason != ReasonNodeStatusNeverUpdated || p.Conditions[0].Message != MessageNeverUpdated ||
		!p.Conditions[0].LastHeartbeatTime.Time.Equal(t0) {
		t.Errorf("conditions %+v", p.Conditions)
	}
	if p.NotReady {
		t.Errorf("a node never ready does not become not ready")
	}
	if len(p.Taints) != 2 {
		t.Errorf("taints %+v", p.Taints)
	}
}

func TestMarkNotReady(t *testing.T) {
	p := &corev1.Pod{Status: corev1.PodStatus{Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, Reason: "r"}}}}
	s := MarkNotReady(p, t0)
	if s == nil || s.Conditions[0].Status != corev1.ConditionFalse || !s.Conditions[0].LastTransitionTime.Time.Equal(t0) || s.Conditions[0].Reason != "r" {
		t.Fatalf("status %+v", s)
	}
	if p.Status.Conditions[0].Status != corev1.ConditionTrue {
		t.Errorf("the pod was changed")
	}
	p.Status.Conditions[0].Status = corev1.ConditionFalse
	if MarkNotReady(p, t0) != nil || MarkNotReady(&corev1.Pod{}, t0) != nil {
		t.Errorf("nothing to mark, yet a status")
	}
}
