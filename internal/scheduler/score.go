package scheduler

import (
	"math"

	corev1 "k8s.io/api/core/v1"
)

// maxNodeScore is the framework's MaxNodeScore: each plugin scores a node
// 0..100 before its weight is applied.
const maxNodeScore = 100

// The default profile's score plugins that batchd has, with their weights
// (kube-scheduler's v1 default plugins). ImageLocality and InterPodAffinity
// are not scored: batchd nodes report no image sizes and pods here have no
// pod affinity filter either.
const (
	weightTaintToleration   = 3
	weightNodeAffinity      = 2
	weightSpread            = 2
	weightLeastAllocated    = 1 // NodeResourcesFit, strategy LeastAllocated
	weightBalancedAllocated = 1 // NodeResourcesBalancedAllocation
)

// The requests NodeResourcesFit's scoring assumes for a container that asks
// for no cpu or memory (schedutil.DefaultMilliCPURequest, DefaultMemoryRequest),
// so that best-effort pods still spread.
const (
	defaultMilliCPU = 100
	defaultMemory   = 200 * 1024 * 1024
)

// NonZero is cpu (milli) and memory (bytes) requested, each container that
// asks for none counted at the defaults above.
type NonZero struct{ MilliCPU, Memory int64 }

// NonZeroRequests is pod's NonZero: like PodRequests, with the defaults for
// containers without a cpu or memory request.
func NonZeroRequests(pod *corev1.Pod) NonZero {
	one := func(c corev1.Container) NonZero {
		var nz NonZero
		if q, ok := c.Resources.Requests[corev1.ResourceCPU]; ok {
			nz.MilliCPU = q.MilliValue()
		} else {
			nz.MilliCPU = defaultMilliCPU
		}
		if q, ok := c.Resources.Requests[corev1.ResourceMemory]; ok {
			nz.Memory = q.Value()
		} else {
			nz.Memory = defaultMemory
		}
		return nz
	}
	var sum NonZero
	for _, c := range pod.Spec.Containers {
		n := one(c)
		sum.MilliCPU += n.MilliCPU
		sum.Memory += n.Memory
	}
	for _, c := range pod.Spec.InitContainers {
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			n := one(c)
			sum.MilliCPU += n.MilliCPU
			sum.Memory += n.Memory
		}
	}
	for _, c := range pod.Spec.InitContainers {
		n := one(c)
		sum.MilliCPU = max(sum.MilliCPU, n.MilliCPU)
		sum.Memory = max(sum.Memory, n.Memory)
	}
	if q, ok := pod.Spec.Overhead[corev1.ResourceCPU]; ok {
		sum.MilliCPU += q.MilliValue()
	}
	if q, ok := pod.Spec.Overhead[corev1.ResourceMemory]; ok {
		sum.Memory += q.Value()
	}
	return sum
}

// leastAllocated is NodeResourcesFit's LeastAllocated score: the share of
// cpu and memory left once the pod is placed, weighted 1:1.
func leastAllocated(pod NonZero, n NodeState) int64 {
	alloc := n.Node.Status.Allocatable
	cpu, mem := alloc[corev1.ResourceCPU], alloc[corev1.ResourceMemory]
	var sum, weights int64
	for _, r := range [][2]int64{{n.NonZero.MilliCPU + pod.MilliCPU, cpu.MilliValue()}, {n.NonZero.Memory + pod.Memory, mem.Value()}} {
		requested, capacity := r[0], r[1]
		if capacity == 0 {
			continue
		}
		weights++
		if requested <= capacity {
			sum += (capacity - requested) * maxNodeScore / capacity
		}
	}
	if weights == 0 {
		return 0
	}
	return sum / weights
}

// balancedAllocation is NodeResourcesBalancedAllocation: nodes whose cpu and
// memory would be used in equal shares score higher. It counts requests as
// they are (no defaults) and skips best-effort pods (returns ok false).
func balancedAllocation(req corev1.ResourceList, n NodeState) (int64, bool) {
	cpuReq, memReq := req[corev1.ResourceCPU], req[corev1.ResourceMemory]
	if cpuReq.IsZero() && memReq.IsZero() {
		return 0, false
	}
	alloc := n.Node.Status.Allocatable
	cpu, mem := alloc[corev1.ResourceCPU], alloc[corev1.ResourceMemory]
	usedCPU, usedMem := n.Requested[corev1.ResourceCPU], n.Requested[corev1.ResourceMemory]
	var fractions []float64
	for _, r := range [][2]int64{{usedCPU.MilliValue() + cpuReq.MilliValue(), cpu.MilliValue()}, {usedMem.Value() + memReq.Value(), mem.Value()}} {
		if r[1] == 0 {
			continue
		}
		fractions = append(fractions, math.Min(float64(r[0])/float64(r[1]), 1))
	}
	std := 0.0
	if len(fractions) == 2 {
		std = math.Abs((fractions[0] - fractions[1]) / 2)
	}
	return int64((1 - std) * maxNodeScore), true
}

// taintPenalty is TaintToleration's raw score: the PreferNoSchedule taints
// the pod does not tolerate (tolerations with that effect or none count).
func taintPenalty(pod *corev1.Pod, node *corev1.Node) int64 {
	var tols []corev1.Toleration
	for _, t := range pod.Spec.Tolerations {
		if t.Effect == "" || t.Effect == corev1.TaintEffectPreferNoSchedule {
			tols = append(tols, t)
		}
	}
	var n int64
	for _, t := range node.Spec.Taints {
		if t.Effect == corev1.TaintEffectPreferNoSchedule && !tolerates(tols, t) {
			n++
		}
	}
	return n
}

// preferredAffinity is NodeAffinity's raw score: the weights of the
// preferred terms node matches.
func preferredAffinity(pod *corev1.Pod, node *corev1.Node) int64 {
	a := pod.Spec.Affinity
	if a == nil || a.NodeAffinity == nil {
		return 0
	}
	var sum int64
	for _, t := range a.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution {
		if t.Weight != 0 && termMatches(t.Preference, node) {
			sum += int64(t.Weight)
		}
	}
	return sum
}

// spreadScores is PodTopologySpread's Score and NormalizeScore for the
// pod's ScheduleAnyway constraints over the fitting nodes: fewer matching
// pods in a node's domains score higher. nil: the pod has none.
func spreadScores(pod *corev1.Pod, all []NodeState, fit []NodeState) []int64 {
	cs := constraintsOf(pod, corev1.ScheduleAnyway)
	if len(cs) == 0 {
		return nil
	}
	ignored := make([]bool, len(fit))
	values := make([]map[string]bool, len(cs))
	for i := range cs {
		values[i] = map[string]bool{}
	}
	eligible := 0
	for k, n := range fit {
		if !hasKeys(n.Node, cs) {
			ignored[k] = true
			continue
		}
		eligible++
		for i, c := range cs {
			values[i][n.Node.Labels[c.key]] = true
		}
	}
	weights := make([]float64, len(cs))
	for i, c := range cs {
		size := len(values[i])
		if c.key == corev1.LabelHostname {
			size = eligible
		}
		weights[i] = math.Log(float64(size + 2))
	}
	// Counts per domain over every node in it, not only the fitting ones.
	counts := make([]map[string]int64, len(cs))
	for i := range cs {
		counts[i] = map[string]int64{}
	}
	for _, n := range all {
		if !hasKeys(n.Node, cs) {
			continue
		}
		for i, c := range cs {
			v := n.Node.Labels[c.key]
			if c.key == corev1.LabelHostname || !values[i][v] || !c.includes(pod, n.Node) {
				continue
			}
			counts[i][v] += int64(countMatching(n.Bound, c, pod.Namespace))
		}
	}
	raw := make([]int64, len(fit))
	for k, n := range fit {
		if ignored[k] {
			continue
		}
		var s float64
		for i, c := range cs {
			var cnt int64
			if c.key == corev1.LabelHostname {
				cnt = int64(countMatching(n.Bound, c, pod.Namespace))
			} else {
				cnt = counts[i][n.Node.Labels[c.key]]
			}
			s += float64(cnt)*weights[i] + float64(c.maxSkew-1)
		}
		raw[k] = int64(math.Round(s))
	}
	minScore, maxScore := int64(math.MaxInt64), int64(0)
	for k, s := range raw {
		if ignored[k] {
			continue
		}
		minScore, maxScore = min(minScore, s), max(maxScore, s)
	}
	out := make([]int64, len(fit))
	for k, s := range raw {
		switch {
		case ignored[k]:
		case maxScore == 0:
			out[k] = maxNodeScore
		default:
			out[k] = maxNodeScore * (maxScore + minScore - s) / maxScore
		}
	}
	return out
}

// normalize is the framework's DefaultNormalizeScore: scores scaled to
// 0..100 by the highest, reversed (fewer is better) when reverse.
func normalize(scores []int64, reverse bool) {
	var top int64
	for _, s := range scores {
		top = max(top, s)
	}
	for i, s := range scores {
		if top == 0 {
			if reverse {
				scores[i] = maxNodeScore
			}
			continue
		}
		s = maxNodeScore * s / top
		if reverse {
			s = maxNodeScore - s
		}
		scores[i] = s
	}
}

// score sums the weighted, normalized scores of every plugin for each
// fitting node, in fit's order.
func score(pod *corev1.Pod, all, fit []NodeState) []int64 {
	total := make([]int64, len(fit))
	nz := NonZeroRequests(pod)
	req := PodRequests(pod)
	taints := make([]int64, len(fit))
	affinity := make([]int64, len(fit))
	for k, n := range fit {
		total[k] += weightLeastAllocated * leastAllocated(nz, n)
		if b, ok := balancedAllocation(req, n); ok {
			total[k] += weightBalancedAllocated * b
		}
		taints[k] = taintPenalty(pod, n.Node)
		affinity[k] = preferredAffinity(pod, n.Node)
	}
	normalize(taints, true)
	normalize(affinity, false)
	spread := spreadScores(pod, all, fit)
	for k := range fit {
		total[k] += weightTaintToleration*taints[k] + weightNodeAffinity*affinity[k]
		if spread != nil {
			total[k] += weightSpread * spread[k]
		}
	}
	return total
}
