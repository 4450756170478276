package apiserver

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/utils/ptr"
)

func TestAddDefaultTolerations(t *testing.T) {
	d := DefaultTolerations{NotReadySeconds: 300, UnreachableSeconds: 60}
	notReady := corev1.Toleration{Key: corev1.TaintNodeNotReady, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr.To[int64](300)}
	unreachable := corev1.Toleration{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr.To[int64](60)}
	own := corev1.Toleration{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute}
	tests := []struct {
		name string
		have []corev1.Toleration
		want int // tolerations after
	}{
		{"none: both added", nil, 2},
		{"own unreachable kept, not-ready added", []corev1.Toleration{own}, 2},
		{"empty key and effect tolerates both", []corev1.Toleration{{Operator: corev1.TolerationOpExists}}, 1},
		{"empty effect for one key", []corev1.Toleration{{Key: corev1.TaintNodeNotReady, Operator: corev1.TolerationOpExists}}, 2},
		{"NoSchedule does not count", []corev1.Toleration{{Key: corev1.TaintNodeNotReady, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}}, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &corev1.Pod{Spec: corev1.PodSpec{Tolerations: append([]corev1.Toleration{}, tt.have...)}}
			AddDefaultTolerations(p, d)
			if len(p.Spec.Tolerations) != tt.want {
				t.Fatalf("tolerations %+v, want %d", p.Spec.Tolerations, tt.want)
			}
			AddDefaultTolerations(p, d)
			if len(p.Spec.Tolerations) != tt.want {
				t.Errorf("added twice: %+v", p.Spec.Tolerations)
			}
		})
	}
	p := &corev1.Pod{}
	AddDefaultTolerations(p, d)
	if len(p.Spec.Tolerations) != 2 || !apiequality.Semantic.DeepEqual(p.Spec.Tolerations, []corev1.Toleration{notReady, unreachable}) {
		t.Errorf("tolerations %+v", p.Spec.Tolerations)
	}
}
