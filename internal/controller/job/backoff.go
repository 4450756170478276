package job

import (
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// Pod re-creation backoff after failures (upstream DefaultJobPodFailureBackOff
// and MaxJobPodFailureBackOff).
const (
	podFailureBackoff    = 10 * time.Second
	maxPodFailureBackoff = 10 * time.Minute
	// maxAPIBackoff caps the retries of a Job whose sync failed (upstream's
	// MaxJobApiBackOff).
	maxAPIBackoff = time.Minute
)

// recreateDelay is how long to wait before creating replacement pods: 10 s ×
// 2^(n−1), capped at 10 minutes, after the latest of the n failures that
// followed the last success, measured from that failure. Unlike upstream's
// in-memory record it is computed from the pods themselves, so a restart of
// the controller does not reset it.
func recreateDelay(pods []*corev1.Pod, failed func(*corev1.Pod) bool, now time.Time) time.Duration {
	type finish struct {
		at     time.Time
		failed bool
	}
	var finished []finish
	for _, p := range pods {
		switch {
		case p.Status.Phase == corev1.PodSucceeded:
			finished = append(finished, finish{finishTime(p), false})
		case failed(p):
			finished = append(finished, finish{finishTime(p), true})
		}
	}
	sort.SliceStable(finished, func(a, b int) bool { return finished[a].at.Before(finished[b].at) })
	n := 0
	var last time.Time
	for _, f := range finished {
		if f.failed {
			n++
			last = f.at
		} else {
			n = 0
		}
	}
	if n == 0 {
		return 0
	}
	return max(backoffDelay(n)-now.Sub(last), 0)
}

// backoffDelay is the re-creation delay after n failures: 10 s × 2^(n−1),
// capped at 10 minutes; none for n = 0.
func backoffDelay(n int) time.Duration {
	if n <= 0 {
		return 0
	}
	delay := podFailureBackoff
	for i := 1; i < n && delay < maxPodFailureBackoff; i++ {
		delay *= 2
	}
	return min(delay, maxPodFailureBackoff)
}

// finishTime is when a pod finished: its latest container termination, else
// when it stopped being ready, else its deletion, else its creation.
func finishTime(p *corev1.Pod) time.Time {
	var t time.Time
	for _, list := range [][]corev1.ContainerStatus{p.Status.InitContainerStatuses, p.Status.ContainerStatuses} {
		for _, cs := range list {
			if term := cs.State.Terminated; term != nil && term.FinishedAt.After(t) {
				t = term.FinishedAt.Time
			}
		}
	}
	if !t.IsZero() {
		return t
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady && c.Status == corev1.ConditionFalse && !c.LastTransitionTime.IsZero() {
			return c.LastTransitionTime.Time
		}
	}
	if p.DeletionTimestamp != nil {
		grace := int64(0)
		if p.DeletionGracePeriodSeconds != nil {
			grace = *p.DeletionGracePeriodSeconds
		}
		return p.DeletionTimestamp.Add(-time.Duration(grace) * time.Second)
	}
	return p.CreationTimestamp.Time
}
