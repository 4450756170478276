package pod

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func TestSummarize(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	one := []corev1.Container{{Name: "c"}}
	running := corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}
	terminated := func(code int32, reason string) corev1.ContainerState {
		return corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: code, Reason: reason}}
	}
	waiting := func(reason string) corev1.ContainerState {
		return corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason}}
	}
	deleting := metav1.NewTime(now)
	cases := []struct {
		name string
		pod  corev1.Pod
		want Row
	}{
		{"pending, no statuses", corev1.Pod{Spec: corev1.PodSpec{Containers: one}, Status: corev1.PodStatus{Phase: corev1.PodPending}},
			Row{"0/1", "Pending", "0"}},
		{"container creating", corev1.Pod{Spec: corev1.PodSpec{Containers: one}, Status: corev1.PodStatus{Phase: corev1.PodPending,
			ContainerStatuses: []corev1.ContainerStatus{{Name: "c", State: waiting("ContainerCreating")}}}}, Row{"0/1", "ContainerCreating", "0"}},
		{"running ready", corev1.Pod{Spec: corev1.PodSpec{Containers: one}, Status: corev1.PodStatus{Phase: corev1.PodRunning,
			ContainerStatuses: []corev1.ContainerStatus{{Name: "c", Ready: true, State: running}}}}, Row{"1/1", "Running", "0"}},
		{"completed", corev1.Pod{Spec: corev1.PodSpec{Containers: one}, Status: corev1.PodStatus{Phase: corev1.PodSucceeded,
			ContainerStatuses: []corev1.ContainerStatus{{Name: "c", State: terminated(0, "Completed")}}}}, Row{"0/1", "Completed", "0"}},
		{"error", corev1.Pod{Spec: corev1.PodSpec{Containers: one}, Status: corev1.PodStatus{Phase: corev1.PodFailed,
			ContainerStatuses: []corev1.ContainerStatus{{Name: "c", State: terminated(1, "Error")}}}}, Row{"0/1", "Error", "0"}},
		{"exit code without reason", corev1.Pod{Spec: corev1.PodSpec{Containers: one}, Status: corev1.PodStatus{Phase: corev1.PodFailed,
			ContainerStatuses: []corev1.ContainerStatus{{Name: "c", State: terminated(3, "")}}}}, Row{"0/1", "ExitCode:3", "0"}},
		{"crash loop with restarts", corev1.Pod{Spec: corev1.PodSpec{Containers: one}, Status: corev1.PodStatus{Phase: corev1.PodRunning,
			ContainerStatuses: []corev1.ContainerStatus{{Name: "c", RestartCount: 3, State: waiting("CrashLoopBackOff"),
				LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1, FinishedAt: metav1.NewTime(now.Add(-41 * time.Second))}}}}}},
			Row{"0/1", "CrashLoopBackOff", "3 (41s ago)"}},
		{"init container running", corev1.Pod{Spec: corev1.PodSpec{Containers: one, InitContainers: []corev1.Container{{Name: "i"}, {Name: "j"}}},
			Status: corev1.PodStatus{Phase: corev1.PodPending, InitContainerStatuses: []corev1.ContainerStatus{
				{Name: "i", State: terminated(0, "Completed")}, {Name: "j", State: running}}}}, Row{"0/1", "Init:1/2", "0"}},
		{"init container failed", corev1.Pod{Spec: corev1.PodSpec{Containers: one, InitContainers: []corev1.Container{{Name: "i"}}},
			Status: corev1.PodStatus{Phase: corev1.PodFailed, InitContainerStatuses: []corev1.ContainerStatus{{Name: "i", State: terminated(2, "")}}}},
			Row{"0/1", "Init:ExitCode:2", "0"}},
		{"sidecar counts in READY", corev1.Pod{
			Spec: corev1.PodSpec{Containers: one, InitContainers: []corev1.Container{{Name: "s", RestartPolicy: ptr.To(corev1.ContainerRestartPolicyAlways)}}},
			Status: corev1.PodStatus{Phase: corev1.PodRunning,
				Conditions:            []corev1.PodCondition{{Type: corev1.PodInitialized, Status: corev1.ConditionTrue}},
				InitContainerStatuses: []corev1.ContainerStatus{{Name: "s", Ready: true, Started: ptr.To(true), State: running}},
				ContainerStatuses:     []corev1.ContainerStatus{{Name: "c", Ready: true, State: running}}}},
			Row{"2/2", "Running", "0"}},
		{"terminating", corev1.Pod{ObjectMeta: metav1.ObjectMeta{DeletionTimestamp: &deleting}, Spec: corev1.PodSpec{Containers: one},
			Status: corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{{Name: "c", Ready: true, State: running}}}},
			Row{"1/1", "Terminating", "0"}},
		{"evicted reason wins over phase", corev1.Pod{Spec: corev1.PodSpec{Containers: one}, Status: corev1.PodStatus{Phase: corev1.PodFailed, Reason: "DeadlineExceeded"}},
			Row{"0/1", "DeadlineExceeded", "0"}},
	}
	for _, c := range cases {
		if got := Summarize(&c.pod, now); got != c.want {
			t.Errorf("%s: got %+v, want %+v", c.name, got, c.want)
		}
	}
}

func TestDefaultPullPolicy(t *testing.T) {
	for image, want := range map[string]corev1.PullPolicy{
		"busybox": corev1.PullAlways, "busybox:latest": corev1.PullAlways, "perl:5.34.0": corev1.PullIfNotPresent,
		"localhost:5000/x": corev1.PullAlways, "localhost:5000/x:1": corev1.PullIfNotPresent, "x@sha256:abc": corev1.PullIfNotPresent,
	} {
		if got := defaultPullPolicy(image); got != want {
			t.Errorf("defaultPullPolicy(%q) = %s, want %s", image, got, want)
		}
	}
}
