package apiserver

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	nodev1 "k8s.io/api/node/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

func TestApplyRuntimeClass(t *testing.T) {
	overhead := corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("16Mi")}
	toleration := corev1.Toleration{Key: "sandbox", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}
	rc := &nodev1.RuntimeClass{Handler: "oci", Overhead: &nodev1.Overhead{PodFixed: overhead},
		Scheduling: &nodev1.Scheduling{NodeSelector: map[string]string{"sandbox": "yes"}, Tolerations: []corev1.Toleration{toleration}}}

	pod := &corev1.Pod{Spec: corev1.PodSpec{Tolerations: []corev1.Toleration{toleration}}}
	if err := ApplyRuntimeClass(pod, rc); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(pod.Spec.NodeSelector, map[string]string{"sandbox": "yes"}) || len(pod.Spec.Tolerations) != 1 || pod.Spec.Overhead.Memory().String() != "16Mi" {
		t.Errorf("pod spec %+v", pod.Spec)
	}
	// Applying again (the same overhead, the same selector) is fine.
	if err := ApplyRuntimeClass(pod, rc); err != nil {
		t.Errorf("again: %v", err)
	}

	for _, c := range []struct {
		name string
		pod  corev1.PodSpec
		rc   *nodev1.RuntimeClass
		want string
	}{
		{"another overhead", corev1.PodSpec{Overhead: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("1Mi")}}, rc,
			"pod rejected: Pod's Overhead doesn't match RuntimeClass's defined Overhead"},
		{"overhead without a class", corev1.PodSpec{Overhead: overhead}, nil,
			"pod rejected: Pod Overhead set without corresponding RuntimeClass defined Overhead"},
		{"overhead, class without", corev1.PodSpec{Overhead: overhead}, &nodev1.RuntimeClass{Handler: "oci"},
			"pod rejected: Pod Overhead set without corresponding RuntimeClass defined Overhead"},
		{"selector conflict", corev1.PodSpec{NodeSelector: map[string]string{"sandbox": "no"}}, rc,
			"conflict: runtimeClass.scheduling.nodeSelector[sandbox] = yes; pod.spec.nodeSelector[sandbox] = no"},
	} {
		p := &corev1.Pod{Spec: c.pod}
		if err := ApplyRuntimeClass(p, c.rc); err == nil || err.Error() != c.want {
			t.Errorf("%s: err %v, want %q", c.name, err, c.want)
		}
	}
}
