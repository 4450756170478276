package scheduler

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// state is a node with the given pods bound, its sums as the controller
// makes them.
func state(n *corev1.Node, pods ...*corev1.Pod) NodeState {
	s := NodeState{Node: n, Requested: corev1.ResourceList{}}
	for _, p := range pods {
		s.Add(p)
	}
	return s
}

func labelled(p *corev1.Pod, kv ...string) *corev1.Pod {
	p = p.DeepCopy()
	p.Namespace = "ns"
	if p.Labels == nil {
		p.Labels = map[string]string{}
	}
	for i := 0; i+1 < len(kv); i += 2 {
		p.Labels[kv[i]] = kv[i+1]
	}
	return p
}

func withLabels(n *corev1.Node, kv ...string) *corev1.Node {
	n = n.DeepCopy()
	for i := 0; i+1 < len(kv); i += 2 {
		n.Labels[kv[i]] = kv[i+1]
	}
	return n
}

func spreading(p *corev1.Pod, c corev1.TopologySpreadConstraint) *corev1.Pod {
	p = p.DeepCopy()
	if c.LabelSelector == nil {
		c.LabelSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "a"}}
	}
	p.Spec.TopologySpreadConstraints = append(p.Spec.TopologySpreadConstraints, c)
	return p
}

func hostnameSpread(action corev1.UnsatisfiableConstraintAction) corev1.TopologySpreadConstraint {
	return corev1.TopologySpreadConstraint{MaxSkew: 1, TopologyKey: corev1.LabelHostname, WhenUnsatisfiable: action}
}

func TestDecideScores(t *testing.T) {
	app := func() *corev1.Pod { return labelled(podRequesting("", ""), "app", "a") }
	busy := podRequesting("1", "1Gi")
	busy.Namespace = "ns"

	preferNo := node("n1", "2", "4Gi", 110)
	preferNo.Spec.Taints = []corev1.Taint{{Key: "spot", Effect: corev1.TaintEffectPreferNoSchedule}}
	tolerant := podRequesting("", "")
	tolerant.Spec.Tolerations = []corev1.Toleration{{Key: "spot", Operator: corev1.TolerationOpExists}}

	prefersSSD := podRequesting("", "")
	prefersSSD.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []corev1.PreferredSchedulingTerm{{
		Weight: 10, Preference: corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "disktype", Operator: corev1.NodeSelectorOpIn, Values: []string{"ssd"}}}}}}}}

	tests := []struct {
		name  string
		pod   *corev1.Pod
		nodes []NodeState
		want  string
	}{
		// NodeResourcesFit LeastAllocated: the node with more left once placed.
		{"least allocated: the idle node", podRequesting("500m", "512Mi"),
			[]NodeState{state(node("n1", "2", "4Gi", 110), busy), state(node("n2", "2", "4Gi", 110))}, "n2"},
		{"least allocated: the bigger node", podRequesting("500m", "512Mi"),
			[]NodeState{state(node("n1", "2", "4Gi", 110)), state(node("n2", "4", "8Gi", 110))}, "n2"},
		// Best-effort pods count as 100m and 200Mi each: they spread.
		{"best-effort pods spread by the defaults", podRequesting("", ""),
			[]NodeState{state(node("n1", "2", "4Gi", 110), podRequesting("", "")), state(node("n2", "2", "4Gi", 110))}, "n2"},
		{"equal scores: fewer pods, then by name", podRequesting("", ""),
			[]NodeState{state(node("n2", "200", "400Gi", 110)), state(node("n1", "200", "400Gi", 110))}, "n1"},
		// BalancedAllocation: cpu-heavy node gets the memory-heavy pod.
		{"balanced allocation", podRequesting("100m", "2Gi"),
			[]NodeState{state(node("n1", "4", "8Gi", 110), podRequesting("100m", "4Gi")), state(node("n2", "4", "8Gi", 110), podRequesting("2", "100Mi"))}, "n2"},
		// TaintToleration: an untolerated PreferNoSchedule taint scores lower.
		{"PreferNoSchedule avoided", podRequesting("", ""),
			[]NodeState{state(preferNo), state(node("n2", "2", "4Gi", 110), podRequesting("", ""))}, "n2"},
		{"PreferNoSchedule tolerated", tolerant,
			[]NodeState{state(preferNo), state(node("n2", "2", "4Gi", 110), podRequesting("", ""))}, "n1"},
		// NodeAffinity's preferred terms.
		{"preferred node affinity", prefersSSD,
			[]NodeState{state(node("n1", "2", "4Gi", 110)), state(withLabels(node("n2", "2", "4Gi", 110), "disktype", "ssd"), podRequesting("", ""))}, "n2"},
		// PodTopologySpread ScheduleAnyway outweighs a roomier node.
		{"without spread: the roomier node", app(),
			[]NodeState{state(node("n1", "8", "16Gi", 110), app(), app()), state(node("n2", "1", "2Gi", 110))}, "n1"},
		{"ScheduleAnyway spreads", spreading(app(), hostnameSpread(corev1.ScheduleAnyway)),
			[]NodeState{state(node("n1", "8", "16Gi", 110), app(), app()), state(node("n2", "1", "2Gi", 110))}, "n2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Decide(tt.pod, tt.nodes, nil); got.Node != tt.want {
				t.Fatalf("got %+v, want node %s (scores %v)", got, tt.want, score(tt.pod, tt.nodes, tt.nodes))
			}
		})
	}
}

func TestDecideSpreadFilter(t *testing.T) {
	app := func(kv ...string) *corev1.Pod {
		return labelled(podRequesting("", ""), append([]string{"app", "a"}, kv...)...)
	}
	dns := hostnameSpread(corev1.DoNotSchedule)
	small := node("n2", "2", "4Gi", 1) // full: one pod runs there
	zoneless := node("n1", "2", "4Gi", 110)
	zone := corev1.TopologySpreadConstraint{MaxSkew: 1, TopologyKey: corev1.LabelTopologyZone, WhenUnsatisfiable: corev1.DoNotSchedule}
	revisions := dns
	revisions.MatchLabelKeys = []string{"rev"}
	minDomains := dns
	minDomains.MinDomains = ptr.To[int32](3)
	inPool := func(p *corev1.Pod) *corev1.Pod { p.Spec.NodeSelector = map[string]string{"pool": "a"}; return p }
	ignoreAffinity := dns
	ignoreAffinity.NodeAffinityPolicy = ptr.To(corev1.NodeInclusionPolicyIgnore)
	pool := func(name string) *corev1.Node { return withLabels(node(name, "2", "4Gi", 110), "pool", "a") }
	tainted := withLabels(node("n3", "2", "4Gi", 110))
	tainted.Spec.Taints = []corev1.Taint{{Key: "dedicated", Effect: corev1.TaintEffectNoSchedule}}
	honorTaints := dns
	honorTaints.NodeTaintsPolicy = ptr.To(corev1.NodeInclusionPolicyHonor)

	tests := []struct {
		name  string
		pod   *corev1.Pod
		nodes []NodeState
		want  Result
	}{
		{"the emptier node", spreading(app(), dns),
			[]NodeState{state(node("n1", "8", "16Gi", 110), app()), state(node("n2", "1", "2Gi", 110))}, Result{Node: "n2"}},
		{"skew too high and no room: FitError", spreading(app(), dns),
			[]NodeState{state(node("n1", "2", "4Gi", 110), app(), app()), state(small, podRequesting("", ""))},
			Result{Message: "0/2 nodes are available: 1 Too many pods, 1 node(s) didn't match pod topology spread constraints. preemption: 0/2 nodes are available: 2 No preemption victims found for incoming pod."}},
		{"missing topology label", spreading(app(), zone), []NodeState{state(zoneless)},
			Result{Message: "0/1 nodes are available: 1 node(s) didn't match pod topology spread constraints (missing required label). preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling."}},
		{"a pod the selector does not match is not counted against itself", spreading(labelled(podRequesting("", ""), "app", "b"), dns),
			[]NodeState{state(node("n1", "2", "4Gi", 110), app(), app())}, Result{Node: "n1"}},
		{"pods being deleted do not count", spreading(app(), dns),
			[]NodeState{state(node("n1", "2", "4Gi", 110), func() *corev1.Pod { p := app(); p.DeletionTimestamp = &metav1.Time{}; return p }()), state(small, podRequesting("", ""))},
			Result{Node: "n1"}},
		{"matchLabelKeys: other revisions do not count", spreading(app("rev", "2"), revisions),
			[]NodeState{state(node("n1", "2", "4Gi", 110), app("rev", "1"), app("rev", "1")), state(small, podRequesting("", ""))}, Result{Node: "n1"}},
		{"without matchLabelKeys they do", spreading(app("rev", "2"), dns),
			[]NodeState{state(node("n1", "2", "4Gi", 110), app("rev", "1"), app("rev", "1")), state(small, podRequesting("", ""))},
			Result{Message: "0/2 nodes are available: 1 Too many pods, 1 node(s) didn't match pod topology spread constraints. preemption: 0/2 nodes are available: 2 No preemption victims found for incoming pod."}},
		{"minDomains above the domains: global minimum 0", spreading(app(), minDomains),
			[]NodeState{state(node("n1", "2", "4Gi", 110), app()), state(node("n2", "2", "4Gi", 110), app())},
			Result{Message: "0/2 nodes are available: 2 node(s) didn't match pod topology spread constraints. preemption: 0/2 nodes are available: 2 No preemption victims found for incoming pod."}},
		{"nodeAffinityPolicy Honor: nodes outside the selector are no domain", inPool(spreading(app(), dns)),
			[]NodeState{state(pool("n1"), app()), state(pool("n2"), app()), state(node("n3", "2", "4Gi", 110))}, Result{Node: "n1"}},
		{"nodeAffinityPolicy Ignore: they are", inPool(spreading(app(), ignoreAffinity)),
			[]NodeState{state(pool("n1"), app()), state(pool("n2"), app()), state(node("n3", "2", "4Gi", 110))},
			Result{Message: "0/3 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, 2 node(s) didn't match pod topology spread constraints. preemption: 0/3 nodes are available: 2 No preemption victims found for incoming pod, 1 Preemption is not helpful for scheduling."}},
		{"nodeTaintsPolicy Ignore (default): a tainted empty node is a domain", spreading(app(), dns),
			[]NodeState{state(node("n1", "2", "4Gi", 110), app()), state(tainted)},
			Result{Message: "0/2 nodes are available: 1 node(s) didn't match pod topology spread constraints, 1 node(s) had untolerated taint {dedicated: }. preemption: 0/2 nodes are available: 1 No preemption victims found for incoming pod, 1 Preemption is not helpful for scheduling."}},
		{"nodeTaintsPolicy Honor: it is not", spreading(app(), honorTaints),
			[]NodeState{state(node("n1", "2", "4Gi", 110), app()), state(tainted)}, Result{Node: "n1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Decide(tt.pod, tt.nodes, nil); got != tt.want {
				t.Fatalf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

// TestDecideSpreadsABurst places an Indexed Job's six pods one after the
// other on three nodes, each decision seeing the ones before (as assumed
// pods): two per node, whichever order the nodes come in.
func TestDecideSpreadsABurst(t *testing.T) {
	for _, big := range []string{"n1", "n2", "n3"} {
		nodes := []NodeState{}
		for _, name := range []string{"n1", "n2", "n3"} {
			cpu := "2"
			if name == big {
				cpu = "64" // least allocated alone would pile pods here
			}
			nodes = append(nodes, state(node(name, cpu, "4Gi", 110)))
		}
		for i := 0; i < 6; i++ {
			p := spreading(labelled(podRequesting("100m", ""), "app", "a"), hostnameSpread(corev1.DoNotSchedule))
			p.Name = fmt.Sprintf("p%d", i)
			res := Decide(p, nodes, nil)
			if res.Node == "" {
				t.Fatalf("pod %d: %s", i, res.Message)
			}
			for k := range nodes {
				if nodes[k].Node.Name == res.Node {
					nodes[k] = state(nodes[k].Node, append(nodes[k].Bound, p)...)
				}
			}
		}
		for _, n := range nodes {
			if len(n.Bound) != 2 {
				t.Errorf("big node %s: %s has %d pods, want 2", big, n.Node.Name, len(n.Bound))
			}
		}
	}
}
