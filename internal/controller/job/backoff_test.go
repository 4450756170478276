package job

import (
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func finishedAt(at time.Time) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "pi", State: corev1.ContainerState{
			Terminated: &corev1.ContainerStateTerminated{ExitCode: 1, FinishedAt: metav1.NewTime(at)}}}}
	}
}

func TestRecreateDelay(t *testing.T) {
	failed := func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodFailed }
	f := func(name string, at time.Time) *corev1.Pod { return pod(name, corev1.PodFailed, finishedAt(at)) }
	s := func(name string, at time.Time) *corev1.Pod { return pod(name, corev1.PodSucceeded, finishedAt(at)) }
	cases := []struct {
		name string
		pods []*corev1.Pod
		now  time.Time
		want time.Duration
	}{
		{"no failures", []*corev1.Pod{s("a", t0)}, t0, 0},
		{"one failure, 4s ago", []*corev1.Pod{f("a", t0)}, t0.Add(4 * time.Second), 6 * time.Second},
		{"one failure, long ago", []*corev1.Pod{f("a", t0)}, t0.Add(time.Minute), 0},
		{"three failures double twice", []*corev1.Pod{f("a", t0), f("b", t0.Add(time.Second)), f("c", t0.Add(2*time.Second))}, t0.Add(2 * time.Second), 40 * time.Second},
		{"a success resets", []*corev1.Pod{f("a", t0), f("b", t0.Add(time.Second)), s("c", t0.Add(2*time.Second)), f("d", t0.Add(3*time.Second))}, t0.Add(3 * time.Second), 10 * time.Second},
	}
	for _, c := range cases {
		if got := recreateDelay(c.pods, failed, c.now); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
	var many []*corev1.Pod
	for i := 0; i < 20; i++ {
		many = append(many, f(string(rune('a'+i)), t0))
	}
	if got := recreateDelay(many, failed, t0); got != maxPodFailureBackoff {
		t.Errorf("cap: %v", got)
	}
}

// After a failure the replacement waits for the backoff; Decide asks to be
// woken when it ends.
func TestDecideWaitsBeforeReplacingAFailedPod(t *testing.T) {
	j := testJob(func(j *batchv1.Job) {
		j.Status.StartTime = &metav1.Time{Time: t0}
		j.Spec.ActiveDeadlineSeconds = ptr.To[int64](3600)
	})
	failedPod := pod("f", corev1.PodFailed, finishedAt(t0), untracked)
	j.Status.Failed = 1
	p := Decide(Observed{Job: j, Pods: []*corev1.Pod{failedPod}, Now: t0.Add(3 * time.Second)})
	if len(p.Create) != 0 || p.Requeue != 7*time.Second {
		t.Fatalf("within backoff: create %d requeue %v", len(p.Create), p.Requeue)
	}
	p = Decide(Observed{Job: j, Pods: []*corev1.Pod{failedPod}, Now: t0.Add(10 * time.Second)})
	if len(p.Create) != 1 {
		t.Fatalf("after backoff: create %d", len(p.Create))
	}
}
