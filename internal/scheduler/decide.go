// Package scheduler binds pending pods to a node, as kube-scheduler's
// default profile does: its filters (node name, unschedulable, taints, node
// affinity and selector, resources, pod count, topology spread) with their
// messages, then its scores among the nodes that fit (least allocated and
// balanced cpu and memory, PreferNoSchedule taints, preferred node
// affinity, topology spread), weighted as upstream weights them.
//
// Decisions made in one burst see each other: a pod decided but not yet
// seen bound by the informer is "assumed" on its node (upstream's assume
// cache), counted for resources and for spreading alike.
package scheduler

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/klog/v2"
)

// NodeState is a node and what its bound, unfinished pods use.
type NodeState struct {
	Node      *corev1.Node
	Requested corev1.ResourceList
	// NonZero is Requested with the scoring defaults for containers that
	// ask for no cpu or memory.
	NonZero NonZero
	Pods    int
	// Bound are the pods on the node (bound or assumed), for spreading.
	Bound []*corev1.Pod
}

// Add counts pod p, bound to the node, in its sums.
func (s *NodeState) Add(p *corev1.Pod) {
	s.Pods++
	s.Bound = append(s.Bound, p)
	nz := NonZeroRequests(p)
	s.NonZero.MilliCPU += nz.MilliCPU
	s.NonZero.Memory += nz.Memory
	if s.Requested == nil {
		s.Requested = corev1.ResourceList{}
	}
	for r, q := range PodRequests(p) {
		sum := s.Requested[r]
		sum.Add(q)
		s.Requested[r] = sum
	}
}

// Result of scheduling one pod.
type Result struct {
	Node string // empty: no node fits
	// Message explains why none fits, in the scheduler's words.
	Message string
}

// Claims looks up a PersistentVolumeClaim of the pod's namespace by name
// (nil: it does not exist).
type Claims func(name string) *corev1.PersistentVolumeClaim

// Messages of the default scheduler's PostFilter (DefaultPreemption) when no
// node can be freed: batchd preempts nothing, and its pods are all of one
// priority, so a pod that fits nowhere gets one of these, as upstream prints
// them after "preemption: ".
const (
	preemptionNotHelpful = "Preemption is not helpful for scheduling"
	preemptionNoVictims  = "No preemption victims found for incoming pod"
)

// Decide picks the fitting node with the highest score. When none fits, the
// message is the one kube-scheduler's FitError prints: the PreFilter
// rejection (VolumeBinding: a missing claim) or the per-node filter reasons,
// then the preemption verdict. Equal scores go to the node with fewer pods,
// then by name (upstream picks at random among them).
func Decide(pod *corev1.Pod, nodes []NodeState, claims Claims) Result {
	if len(nodes) == 0 {
		return Result{Message: "no nodes available to schedule pods"}
	}
	if msg := preFilterVolumes(pod, claims); msg != "" {
		// UnschedulableAndUnresolvable on every node: preemption cannot help.
		return Result{Message: fmt.Sprintf("0/%d nodes are available: %s.%s", len(nodes), msg,
			preemption(pod, map[string]int{preemptionNotHelpful: len(nodes)}, len(nodes)))}
	}
	req := PodRequests(pod)
	spread := newSpreadFilter(pod, nodes)
	reasons := map[string]int{}
	verdicts := map[string]int{}
	var fit []NodeState
	for _, n := range nodes {
		why, resolvable := filter(pod, req, n)
		if len(why) == 0 {
			var r string
			if r, resolvable = spread.check(pod, n.Node); r != "" {
				why = []string{r}
			}
		}
		if len(why) == 0 {
			fit = append(fit, n)
			continue
		}
		for _, r := range why {
			reasons[r]++
		}
		if resolvable {
			verdicts[preemptionNoVictims]++
		} else {
			verdicts[preemptionNotHelpful]++
		}
	}
	switch len(fit) {
	case 0:
		return Result{Message: fmt.Sprintf("0/%d nodes are available: %s.%s", len(nodes), histogram(reasons), preemption(pod, verdicts, len(nodes)))}
	case 1:
		// Upstream scores nothing when one node fits.
		return Result{Node: fit[0].Node.Name}
	}
	scores := score(pod, nodes, fit)
	best := 0
	for k := 1; k < len(fit); k++ {
		switch {
		case scores[k] > scores[best]:
		case scores[k] < scores[best]:
			continue
		case fit[k].Pods < fit[best].Pods:
		case fit[k].Pods > fit[best].Pods:
			continue
		case fit[k].Node.Name > fit[best].Node.Name:
			continue
		}
		best = k
	}
	return Result{Node: fit[best].Node.Name}
}

// histogram is the scheduler's "1 Insufficient cpu, 1 Too many pods", by reason.
func histogram(reasons map[string]int) string {
	keys := make([]string, 0, len(reasons))
	for r := range reasons {
		keys = append(keys, r)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, r := range keys {
		parts[i] = fmt.Sprintf("%d %s", reasons[r], r)
	}
	return strings.Join(parts, ", ")
}

// preemption is the " preemption: …" suffix of DefaultPreemption's PostFilter.
func preemption(pod *corev1.Pod, verdicts map[string]int, nodes int) string {
	if pod.Spec.PreemptionPolicy != nil && *pod.Spec.PreemptionPolicy == corev1.PreemptNever {
		return " preemption: not eligible due to preemptionPolicy=Never."
	}
	return fmt.Sprintf(" preemption: 0/%d nodes are available: %s.", nodes, histogram(verdicts))
}

// preFilterVolumes is the VolumeBinding plugin's PreFilter: every claim the
// pod names must exist and not be being deleted.
func preFilterVolumes(pod *corev1.Pod, claims Claims) string {
	for _, v := range pod.Spec.Volumes {
		if v.PersistentVolumeClaim == nil {
			continue
		}
		name := v.PersistentVolumeClaim.ClaimName
		pvc := claims(name)
		switch {
		case pvc == nil:
			return fmt.Sprintf("persistentvolumeclaim %q not found", name)
		case pvc.DeletionTimestamp != nil:
			return fmt.Sprintf("persistentvolumeclaim %q is being deleted", name)
		}
	}
	return ""
}

// filter returns why a node does not fit the pod, and whether preemption
// could help (upstream: Unschedulable vs UnschedulableAndUnresolvable).
func filter(pod *corev1.Pod, req corev1.ResourceList, n NodeState) ([]string, bool) {
	node := n.Node
	if pod.Spec.NodeName != "" && pod.Spec.NodeName != node.Name {
		return []string{"node(s) didn't match the requested node name"}, false
	}
	if node.Spec.Unschedulable && !tolerates(pod.Spec.Tolerations, corev1.Taint{Key: corev1.TaintNodeUnschedulable, Effect: corev1.TaintEffectNoSchedule}) {
		return []string{"node(s) were unschedulable"}, false
	}
	for _, t := range node.Spec.Taints {
		if t.Effect == corev1.TaintEffectPreferNoSchedule {
			continue
		}
		if !tolerates(pod.Spec.Tolerations, t) {
			return []string{fmt.Sprintf("node(s) had untolerated taint {%s: %s}", t.Key, t.Value)}, false
		}
	}
	if !matchesAffinity(pod, node) {
		return []string{"node(s) didn't match Pod's node affinity/selector"}, false
	}
	var why []string
	alloc := node.Status.Allocatable
	if maxPods, ok := alloc[corev1.ResourcePods]; ok && int64(n.Pods)+1 > maxPods.Value() {
		why = append(why, "Too many pods")
	}
	names := make([]string, 0, len(req))
	for r := range req {
		names = append(names, string(r))
	}
	sort.Strings(names)
	for _, r := range names {
		want := req[corev1.ResourceName(r)]
		if want.IsZero() {
			continue
		}
		have, ok := alloc[corev1.ResourceName(r)]
		used := n.Requested[corev1.ResourceName(r)]
		if !ok || used.MilliValue()+want.MilliValue() > have.MilliValue() {
			why = append(why, "Insufficient "+r)
		}
	}
	return why, true
}

func tolerates(tols []corev1.Toleration, t corev1.Taint) bool {
	for i := range tols {
		if tols[i].ToleratesTaint(klog.Background(), &t, false) {
			return true
		}
	}
	return false
}

// matchesAffinity checks nodeSelector and required node affinity terms.
func matchesAffinity(pod *corev1.Pod, node *corev1.Node) bool {
	if !labels.SelectorFromSet(pod.Spec.NodeSelector).Matches(labels.Set(node.Labels)) {
		return false
	}
	a := pod.Spec.Affinity
	if a == nil || a.NodeAffinity == nil || a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		return true
	}
	for _, term := range a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms {
		if termMatches(term, node) {
			return true
		}
	}
	return false
}

func termMatches(term corev1.NodeSelectorTerm, node *corev1.Node) bool {
	if len(term.MatchExpressions) == 0 && len(term.MatchFields) == 0 {
		return false
	}
	for _, e := range term.MatchExpressions {
		if !exprMatches(e, labels.Set(node.Labels)) {
			return false
		}
	}
	for _, e := range term.MatchFields {
		if e.Key != "metadata.name" || !exprMatches(e, labels.Set{"metadata.name": node.Name}) {
			return false
		}
	}
	return true
}

func exprMatches(e corev1.NodeSelectorRequirement, set labels.Set) bool {
	var op selection.Operator
	switch e.Operator {
	case corev1.NodeSelectorOpIn:
		op = selection.In
	case corev1.NodeSelectorOpNotIn:
		op = selection.NotIn
	case corev1.NodeSelectorOpExists:
		op = selection.Exists
	case corev1.NodeSelectorOpDoesNotExist:
		op = selection.DoesNotExist
	case corev1.NodeSelectorOpGt:
		op = selection.GreaterThan
	case corev1.NodeSelectorOpLt:
		op = selection.LessThan
	default:
		return false
	}
	r, err := labels.NewRequirement(e.Key, op, e.Values)
	if err != nil {
		return false
	}
	return r.Matches(set)
}

// PodRequests is what a pod asks of a node: its containers and sidecars
// together, or its largest init container if that is more.
func PodRequests(pod *corev1.Pod) corev1.ResourceList {
	sum := corev1.ResourceList{}
	add := func(l corev1.ResourceList, rl corev1.ResourceList) {
		for k, v := range rl {
			q := l[k]
			q.Add(v)
			l[k] = q
		}
	}
	for _, c := range pod.Spec.Containers {
		add(sum, c.Resources.Requests)
	}
	for _, c := range pod.Spec.InitContainers {
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			add(sum, c.Resources.Requests)
		}
	}
	for _, c := range pod.Spec.InitContainers {
		for k, v := range c.Resources.Requests {
			if q, ok := sum[k]; !ok || v.Cmp(q) > 0 {
				sum[k] = v.DeepCopy()
			}
		}
	}
	for k, v := range pod.Spec.Overhead {
		q := sum[k]
		q.Add(v)
		sum[k] = q
	}
	if _, ok := sum[corev1.ResourceCPU]; !ok {
		sum[corev1.ResourceCPU] = resource.Quantity{}
	}
	return sum
}
