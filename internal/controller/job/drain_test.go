package job

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestDrainedSyncsOnceEveryActivePodFinished(t *testing.T) {
	phase := func(p corev1.PodPhase) *corev1.Pod { return &corev1.Pod{Status: corev1.PodStatus{Phase: p}} }
	running, done, failed := phase(corev1.PodRunning), phase(corev1.PodSucceeded), phase(corev1.PodFailed)
	d := newDrained()
	steps := []struct {
		name     string
		old, cur *corev1.Pod
		active   int32
		want     bool
	}{
		{"first of three finishes", running, done, 3, false},
		{"an update of a finished pod is not a second finish", done, done, 3, false},
		{"a running pod's update counts nothing", running, running, 3, false},
		{"second of three fails", running, failed, 3, false},
		{"third finishes: nothing left to gather", running, done, 3, true},
	}
	for _, s := range steps {
		if got := d.observe("ns/j", s.old, s.cur, s.active); got != s.want {
			t.Fatalf("%s: got %v, want %v", s.name, got, s.want)
		}
	}
	d.synced("ns/j")
	if d.observe("ns/j", running, done, 3) {
		t.Fatal("after a sync the count starts again")
	}
	if d.observe("ns/other", running, done, 0) {
		t.Fatal("a Job with no active pods written is left to its batch period")
	}
	if d.observe("ns/j", nil, done, 1) {
		t.Fatal("a pod added already finished is not a finish observed")
	}
}
