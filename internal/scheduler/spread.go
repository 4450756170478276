package scheduler

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// The PodTopologySpread plugin's filter reasons: the first may be resolved
// by preemption, the second not.
const (
	reasonSpread        = "node(s) didn't match pod topology spread constraints"
	reasonSpreadMissing = reasonSpread + " (missing required label)"
)

// spreadConstraint is one of the pod's topologySpreadConstraints with its
// selector parsed and matchLabelKeys merged in, as the plugin reads it.
type spreadConstraint struct {
	maxSkew       int32
	key           string
	selector      labels.Selector
	minDomains    int32
	honorAffinity bool // nodeAffinityPolicy Honor (the default)
	honorTaints   bool // nodeTaintsPolicy Honor (default Ignore)
}

// constraintsOf are the pod's constraints whose whenUnsatisfiable is action.
// A selector that does not parse counts as matching nothing (the API server
// validates selectors, so only a hand-made pod gets here).
func constraintsOf(pod *corev1.Pod, action corev1.UnsatisfiableConstraintAction) []spreadConstraint {
	var out []spreadConstraint
	for _, c := range pod.Spec.TopologySpreadConstraints {
		if c.WhenUnsatisfiable != action {
			continue
		}
		sel, err := metav1.LabelSelectorAsSelector(c.LabelSelector)
		if err != nil {
			sel = labels.Nothing()
		}
		if len(c.MatchLabelKeys) > 0 {
			set := labels.Set{}
			for _, k := range c.MatchLabelKeys {
				if v, ok := pod.Labels[k]; ok {
					set[k] = v
				}
			}
			if len(set) > 0 {
				merged := labels.SelectorFromSet(set)
				if reqs, ok := sel.Requirements(); ok {
					merged = merged.Add(reqs...)
				}
				sel = merged
			}
		}
		sc := spreadConstraint{maxSkew: c.MaxSkew, key: c.TopologyKey, selector: sel, minDomains: 1, honorAffinity: true}
		if c.MinDomains != nil {
			sc.minDomains = *c.MinDomains
		}
		if c.NodeAffinityPolicy != nil {
			sc.honorAffinity = *c.NodeAffinityPolicy == corev1.NodeInclusionPolicyHonor
		}
		if c.NodeTaintsPolicy != nil {
			sc.honorTaints = *c.NodeTaintsPolicy == corev1.NodeInclusionPolicyHonor
		}
		out = append(out, sc)
	}
	return out
}

// includes is the constraint's node inclusion policy: whether node's pods
// count toward the spread at all.
func (c spreadConstraint) includes(pod *corev1.Pod, node *corev1.Node) bool {
	if c.honorAffinity && !matchesAffinity(pod, node) {
		return false
	}
	if c.honorTaints {
		for _, t := range node.Spec.Taints {
			if (t.Effect == corev1.TaintEffectNoSchedule || t.Effect == corev1.TaintEffectNoExecute) && !tolerates(pod.Spec.Tolerations, t) {
				return false
			}
		}
	}
	return true
}

// countMatching counts the pods of ns on a node that c selects; pods being
// deleted do not count (kubernetes#87621).
func countMatching(pods []*corev1.Pod, c spreadConstraint, ns string) int {
	n := 0
	for _, p := range pods {
		if p.DeletionTimestamp == nil && p.Namespace == ns && c.selector.Matches(labels.Set(p.Labels)) {
			n++
		}
	}
	return n
}

func hasKeys(node *corev1.Node, cs []spreadConstraint) bool {
	for _, c := range cs {
		if _, ok := node.Labels[c.key]; !ok {
			return false
		}
	}
	return true
}

// spreadFilter is PodTopologySpread's PreFilter over all nodes: per
// DoNotSchedule constraint, the matching pods per topology value of the
// eligible nodes, and the global minimum.
type spreadFilter struct {
	constraints []spreadConstraint
	counts      []map[string]int
}

func newSpreadFilter(pod *corev1.Pod, nodes []NodeState) *spreadFilter {
	cs := constraintsOf(pod, corev1.DoNotSchedule)
	if len(cs) == 0 {
		return nil
	}
	f := &spreadFilter{constraints: cs, counts: make([]map[string]int, len(cs))}
	for i := range cs {
		f.counts[i] = map[string]int{}
	}
	for _, n := range nodes {
		if !hasKeys(n.Node, cs) {
			continue
		}
		for i, c := range cs {
			if !c.includes(pod, n.Node) {
				continue
			}
			f.counts[i][n.Node.Labels[c.key]] += countMatching(n.Bound, c, pod.Namespace)
		}
	}
	return f
}

// check is the Filter: "" when node keeps every constraint's skew, else the
// reason and whether preemption could resolve it.
func (f *spreadFilter) check(pod *corev1.Pod, node *corev1.Node) (string, bool) {
	if f == nil {
		return "", true
	}
	self := labels.Set(pod.Labels)
	for i, c := range f.constraints {
		v, ok := node.Labels[c.key]
		if !ok {
			return reasonSpreadMissing, false
		}
		minimum := -1
		for _, n := range f.counts[i] {
			if minimum < 0 || n < minimum {
				minimum = n
			}
		}
		if minimum < 0 {
			// No eligible domain: nothing to be skewed against.
			continue
		}
		if len(f.counts[i]) < int(c.minDomains) {
			minimum = 0
		}
		selfMatch := 0
		if c.selector.Matches(self) {
			selfMatch = 1
		}
		if f.counts[i][v]+selfMatch-minimum > int(c.maxSkew) {
			return reasonSpread, true
		}
	}
	return "", true
}
