package job

import (
	"sort"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
)

// manage is upstream's manageJob for a running (unsuspended) Job: which active
// pods to delete and which pods to create so that the Job has the active pods
// it wants. Deleting and creating never happen in the same sync.
//
// With podReplacementPolicy Failed (implied by a podFailurePolicy), pods still
// terminating hold their place: no replacement until they have failed.
//
// With backoffLimitPerIndex (idx not nil), failed indexes get no pods, an
// index is retried only once its own backoff has passed (wait says how long
// until the next one may be), and new pods carry the index's failure counts.
func manage(j *batchv1.Job, indexed bool, completions int, active, terminating []*corev1.Pod, completed Indexes, succeeded int32, idx *perIndex, now time.Time) (del, create []*corev1.Pod, wait time.Duration) {
	waitForTerminating := ptr.Deref(j.Spec.PodReplacementPolicy, batchv1.TerminatingOrFailed) == batchv1.Failed || j.Spec.PodFailurePolicy != nil
	parallelism := int(ptr.Deref(j.Spec.Parallelism, 1))
	if indexed {
		// One pod per pending index, the most advanced one: extra pods, pods of
		// completed indexes and pods outside 0..completions-1 go.
		seen := map[int]bool{}
		var keep []*corev1.Pod
		ordered := sortForDeletion(active)
		for k := len(ordered) - 1; k >= 0; k-- {
			pod := ordered[k]
			i := podIndex(pod)
			if i < 0 || i >= completions || completed.Has(i) || seen[i] || (idx != nil && idx.failed.Has(i)) {
				del = append(del, pod)
				continue
			}
			seen[i] = true
			keep = append(keep, pod)
		}
		active = keep
	}
	want := parallelism
	switch {
	case completions < 0 && succeeded > 0:
		// Work queue: once one pod succeeded, no new pods; the rest finish.
		want = len(active)
	case completions >= 0:
		want = min(completions-int(succeeded), parallelism)
	}
	want = max(want, 0)
	if len(active) > want {
		del = append(del, sortForDeletion(active)[:len(active)-want]...)
	}
	if len(del) > 0 {
		return capPods(del), nil, 0
	}
	n := want - len(active)
	if waitForTerminating {
		n -= len(terminating)
	}
	n = min(n, MaxPodsPerSync)
	if !indexed {
		for k := 0; k < n; k++ {
			create = append(create, NewPod(j, -1))
		}
		return nil, create, 0
	}
	running := map[int]bool{}
	for _, pod := range active {
		running[podIndex(pod)] = true
	}
	if waitForTerminating {
		for _, pod := range terminating {
			running[podIndex(pod)] = true
		}
	}
	for i := 0; i < completions && len(create) < n; i++ {
		if running[i] || completed.Has(i) {
			continue
		}
		if idx != nil {
			if idx.failed.Has(i) {
				continue
			}
			if w := idx.wait(j, i, now); w > 0 {
				wait = minPositive(wait, w)
				continue
			}
		}
		pod := NewPod(j, i)
		if idx != nil {
			idx.annotate(j, pod, i)
		}
		create = append(create, pod)
	}
	return nil, create, wait
}

// sortForDeletion orders pods the way upstream's ActivePods does, those to
// delete first: unscheduled before scheduled, Pending before Running, not
// ready before ready, more restarts first, newer before older.
func sortForDeletion(pods []*corev1.Pod) []*corev1.Pod {
	out := append([]*corev1.Pod(nil), pods...)
	rank := map[corev1.PodPhase]int{corev1.PodPending: 0, corev1.PodUnknown: 1, corev1.PodRunning: 2}
	restarts := func(p *corev1.Pod) int32 {
		var n int32
		for _, cs := range p.Status.ContainerStatuses {
			n = max(n, cs.RestartCount)
		}
		return n
	}
	sort.SliceStable(out, func(a, b int) bool {
		pa, pb := out[a], out[b]
		if (pa.Spec.NodeName == "") != (pb.Spec.NodeName == "") {
			return pa.Spec.NodeName == ""
		}
		if rank[pa.Status.Phase] != rank[pb.Status.Phase] {
			return rank[pa.Status.Phase] < rank[pb.Status.Phase]
		}
		if podReady(pa) != podReady(pb) {
			return !podReady(pa)
		}
		if restarts(pa) != restarts(pb) {
			return restarts(pa) > restarts(pb)
		}
		return pb.CreationTimestamp.Before(&pa.CreationTimestamp)
	})
	return out
}
