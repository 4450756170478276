package tainteviction

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

var t0 = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)

func TestDecide(t *testing.T) {
	added := &metav1.Time{Time: t0}
	unreachable := corev1.Taint{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoExecute, TimeAdded: added}
	noSchedule := corev1.Taint{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoSchedule}
	gpu := corev1.Taint{Key: "gpu", Effect: corev1.TaintEffectNoExecute, TimeAdded: added}
	tol := func(key string, seconds *int64) corev1.Toleration {
		return corev1.Toleration{Key: key, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: seconds}
	}
	pod := func(tols ...corev1.Toleration) *corev1.Pod {
		return &corev1.Pod{Spec: corev1.PodSpec{NodeName: "n1", Tolerations: tols}}
	}
	deleting := pod()
	deleting.DeletionTimestamp = &metav1.Time{Time: t0}
	seenAt := t0.Add(10 * time.Second)
	since := func(corev1.Taint) time.Time { return seenAt }
	tests := []struct {
		name   string
		pod    *corev1.Pod
		taints []corev1.Taint
		now    time.Time
		want   Verdict
	}{
		{"no taints", pod(), nil, t0, Verdict{}},
		{"NoSchedule only", pod(), []corev1.Taint{noSchedule}, t0, Verdict{}},
		{"untolerated: now", pod(), []corev1.Taint{unreachable}, t0, Verdict{Evict: true}},
		{"tolerated 300 s: later", pod(tol(corev1.TaintNodeUnreachable, ptr.To[int64](300))), []corev1.Taint{unreachable}, t0.Add(100 * time.Second), Verdict{After: 200 * time.Second}},
		{"tolerated 300 s: due", pod(tol(corev1.TaintNodeUnreachable, ptr.To[int64](300))), []corev1.Taint{unreachable}, t0.Add(300 * time.Second), Verdict{Evict: true}},
		{"tolerated forever", pod(tol(corev1.TaintNodeUnreachable, nil)), []corev1.Taint{unreachable}, t0.Add(time.Hour), Verdict{}},
		{"zero seconds: now", pod(tol(corev1.TaintNodeUnreachable, ptr.To[int64](0))), []corev1.Taint{unreachable}, t0, Verdict{Evict: true}},
		{"the shortest toleration counts", pod(tol(corev1.TaintNodeUnreachable, ptr.To[int64](300)), tol("gpu", ptr.To[int64](60))),
			[]corev1.Taint{unreachable, gpu}, t0.Add(30 * time.Second), Verdict{After: 30 * time.Second}},
		{"one taint untolerated", pod(tol(corev1.TaintNodeUnreachable, nil)), []corev1.Taint{unreachable, gpu}, t0, Verdict{Evict: true}},
		{"empty key tolerates all", pod(corev1.Toleration{Operator: corev1.TolerationOpExists}), []corev1.Taint{unreachable, gpu}, t0, Verdict{}},
		{"no timeAdded: from first seen", pod(tol("gpu", ptr.To[int64](60))), []corev1.Taint{{Key: "gpu", Effect: corev1.TaintEffectNoExecute}}, t0.Add(30 * time.Second), Verdict{After: 40 * time.Second}},
		{"being deleted", deleting, []corev1.Taint{unreachable}, t0, Verdict{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Decide(tt.pod, tt.taints, since, tt.now); got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestSetDisruption(t *testing.T) {
	var s corev1.PodStatus
	if !setDisruption(&s, t0) || len(s.Conditions) != 1 || s.Conditions[0].Reason != ReasonDeletionByTaints || s.Conditions[0].Message != MessageDeletion {
		t.Fatalf("status %+v", s)
	}
	if setDisruption(&s, t0.Add(time.Second)) {
		t.Errorf("set twice")
	}
}
