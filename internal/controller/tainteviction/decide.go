// Package tainteviction deletes pods from nodes with NoExecute taints they
// do not tolerate, as kube-controller-manager's taint-eviction-controller
// does: at once when a taint is not tolerated, else once the shortest
// tolerationSeconds of the tolerations used has passed (never, when none
// has one). Before the delete the pod gets the DisruptionTarget condition
// (DeletionByTaintManager), so that a Job's podFailurePolicy can match it.
//
// Upstream counts tolerationSeconds from when its controller first saw the
// taint; here from the taint's timeAdded (the node lifecycle controller
// sets it), so that a new leader does not restart the count; a taint without
// one counts from when this controller first saw it.
package tainteviction

import (
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2"
)

// Reasons, messages and the event source, as upstream's.
const (
	Component              = "taint-eviction-controller"
	ReasonEviction         = "TaintManagerEviction"
	ReasonDeletionByTaints = "DeletionByTaintManager"
	MessageDeletion        = "Taint manager: deleting due to NoExecute taint"
)

// Verdict is what to do with one pod.
type Verdict struct {
	// Evict now.
	Evict bool
	// After: evict once this long has passed (0: not scheduled).
	After time.Duration
}

// Decide judges pod against its node's taints at now; since says when a
// taint without timeAdded was first seen.
func Decide(pod *corev1.Pod, taints []corev1.Taint, since func(corev1.Taint) time.Time, now time.Time) Verdict {
	if pod.DeletionTimestamp != nil {
		return Verdict{}
	}
	var start time.Time
	minimum := time.Duration(-1)
	for _, t := range taints {
		if t.Effect != corev1.TaintEffectNoExecute {
			continue
		}
		var used *corev1.Toleration
		for i := range pod.Spec.Tolerations {
			if pod.Spec.Tolerations[i].ToleratesTaint(klog.Background(), &t, false) {
				used = &pod.Spec.Tolerations[i]
				break
			}
		}
		if used == nil {
			return Verdict{Evict: true}
		}
		added := since(t)
		if t.TimeAdded != nil {
			added = t.TimeAdded.Time
		}
		if start.IsZero() || added.Before(start) {
			start = added
		}
		if used.TolerationSeconds == nil {
			continue
		}
		d := time.Duration(max(*used.TolerationSeconds, 0)) * time.Second
		if minimum < 0 || d < minimum {
			minimum = d
		}
	}
	if minimum < 0 {
		return Verdict{} // no NoExecute taint, or all tolerated forever
	}
	if at := start.Add(minimum); now.Before(at) {
		return Verdict{After: at.Sub(now)}
	}
	return Verdict{Evict: true}
}
