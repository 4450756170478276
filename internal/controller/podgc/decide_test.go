package podgc

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestDecide(t *testing.T) {
	pod := func(name, node string, deleting bool) *corev1.Pod {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.PodSpec{NodeName: node}}
		if deleting {
			p.DeletionTimestamp = &metav1.Time{}
		}
		return p
	}
	node := func(name string, ready corev1.ConditionStatus, taints ...corev1.Taint) *corev1.Node {
		return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.NodeSpec{Taints: taints},
			Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: ready}}}}
	}
	oos := corev1.Taint{Key: corev1.TaintNodeOutOfService, Value: "nodeshutdown", Effect: corev1.TaintEffectNoExecute}
	nodes := map[string]*corev1.Node{
		"live":      node("live", corev1.ConditionTrue),
		"lost":      node("lost", corev1.ConditionUnknown),
		"down":      node("down", corev1.ConditionUnknown, oos),
		"ready-oos": node("ready-oos", corev1.ConditionTrue, oos),
	}
	pods := []*corev1.Pod{
		pod("running", "live", false),
		pod("terminating-live", "live", true),
		pod("terminating-lost", "lost", true),
		pod("running-down", "down", false),
		pod("terminating-down", "down", true),
		pod("terminating-ready-oos", "ready-oos", true),
		pod("unscheduled", "", false),
		pod("unscheduled-deleting", "", true),
		pod("orphan", "gone", false),
		pod("orphan-quarantined", "maybe", false),
	}
	if got := Orphans(pods, nodes); len(got) != 2 || !got["gone"] || !got["maybe"] {
		t.Errorf("orphans %v", got)
	}
	got := map[string]string{}
	for _, a := range Decide(pods, nodes, map[string]bool{"gone": true}) {
		reason := ""
		if a.Condition != nil {
			reason = a.Condition.Reason + ": " + a.Condition.Message
		}
		got[a.Pod.Name] = reason
	}
	want := map[string]string{"terminating-down": "", "unscheduled-deleting": "", "orphan": "DeletionByPodGC: PodGC: node no longer exists"}
	if len(got) != len(want) {
		t.Fatalf("collected %v, want %v", got, want)
	}
	for k, v := range want {
		if r, ok := got[k]; !ok || r != v {
			t.Errorf("collected %v, want %v", got, want)
		}
	}
}
