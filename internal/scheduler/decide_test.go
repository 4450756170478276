package scheduler

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func node(name string, cpu, mem string, pods int64) *corev1.Node {
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"kubernetes.io/os": "linux", "kubernetes.io/hostname": name}},
		Status: corev1.NodeStatus{Allocatable: corev1.ResourceList{
			corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse(mem), corev1.ResourcePods: *resource.NewQuantity(pods, resource.DecimalSI)}}}
}

func podRequesting(cpu, mem string) *corev1.Pod {
	p := &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c"}}}}
	p.Spec.Containers[0].Resources.Requests = corev1.ResourceList{}
	if cpu != "" {
		p.Spec.Containers[0].Resources.Requests[corev1.ResourceCPU] = resource.MustParse(cpu)
	}
	if mem != "" {
		p.Spec.Containers[0].Resources.Requests[corev1.ResourceMemory] = resource.MustParse(mem)
	}
	return p
}

func TestDecide(t *testing.T) {
	n := node("n1", "2", "4Gi", 110)
	tainted := node("n1", "2", "4Gi", 110)
	tainted.Spec.Taints = []corev1.Taint{{Key: "dedicated", Value: "gpu", Effect: corev1.TaintEffectNoSchedule}}
	selectorPod := podRequesting("", "")
	selectorPod.Spec.NodeSelector = map[string]string{"kubernetes.io/os": "linux"}
	wrongSelector := podRequesting("", "")
	wrongSelector.Spec.NodeSelector = map[string]string{"disktype": "ssd"}
	affinity := podRequesting("", "")
	affinity.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
		NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "kubernetes.io/hostname", Operator: corev1.NodeSelectorOpNotIn, Values: []string{"n1"}}}}}}}}
	tolerating := podRequesting("", "")
	tolerating.Spec.Tolerations = []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "gpu", Effect: corev1.TaintEffectNoSchedule}}

	backup := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "backup-pvc"}}
	claims := func(name string) *corev1.PersistentVolumeClaim {
		if name == "backup-pvc" {
			return backup
		}
		return nil
	}
	withClaim := func(name string) *corev1.Pod {
		p := podRequesting("", "")
		p.Spec.Volumes = []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: name}}}}
		return p
	}
	never := podRequesting("3", "")
	never.Spec.PreemptionPolicy = ptr.To(corev1.PreemptNever)

	tests := []struct {
		name  string
		pod   *corev1.Pod
		nodes []NodeState
		want  Result
	}{
		{"fits", podRequesting("500m", "1Gi"), []NodeState{{Node: n}}, Result{Node: "n1"}},
		{"no nodes", podRequesting("", ""), nil, Result{Message: "no nodes available to schedule pods"}},
		{"insufficient cpu", podRequesting("3", ""), []NodeState{{Node: n}}, Result{Message: "0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod."}},
		{"insufficient cpu counting bound pods", podRequesting("1", ""), []NodeState{{Node: n, Requested: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1500m")}}},
			Result{Message: "0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod."}},
		{"insufficient cpu and memory", podRequesting("3", "5Gi"), []NodeState{{Node: n}}, Result{Message: "0/1 nodes are available: 1 Insufficient cpu, 1 Insufficient memory. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod."}},
		{"too many pods", podRequesting("", ""), []NodeState{{Node: n, Pods: 110}}, Result{Message: "0/1 nodes are available: 1 Too many pods. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod."}},
		{"node selector matches", selectorPod, []NodeState{{Node: n}}, Result{Node: "n1"}},
		{"node selector does not match", wrongSelector, []NodeState{{Node: n}}, Result{Message: "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling."}},
		{"required affinity excludes", affinity, []NodeState{{Node: n}}, Result{Message: "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling."}},
		{"untolerated taint", podRequesting("", ""), []NodeState{{Node: tainted}}, Result{Message: "0/1 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling."}},
		{"tolerated taint", tolerating, []NodeState{{Node: tainted}}, Result{Node: "n1"}},
		// VolumeBinding's PreFilter: a claim that does not exist (issue 15 item 5).
		{"missing claim", withClaim("nope"), []NodeState{{Node: n}},
			Result{Message: `0/1 nodes are available: persistentvolumeclaim "nope" not found. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.`}},
		{"existing claim", withClaim("backup-pvc"), []NodeState{{Node: n}}, Result{Node: "n1"}},
		{"preemptionPolicy Never", never, []NodeState{{Node: n}},
			Result{Message: "0/1 nodes are available: 1 Insufficient cpu. preemption: not eligible due to preemptionPolicy=Never."}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Decide(tt.pod, tt.nodes, claims); got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}
