package apiserver

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestMountServiceAccountToken(t *testing.T) {
	name := func() string { return "kube-api-access-abcde" }
	// A container that mounts something of its own at the path keeps it.
	pod := &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{
		{Name: "own", VolumeMounts: []corev1.VolumeMount{{Name: "mine", MountPath: ServiceAccountMountPath}}},
		{Name: "plain"},
	}, EphemeralContainers: []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "debug"}}}}}
	MountServiceAccountToken(pod, name)
	if len(pod.Spec.Containers[0].VolumeMounts) != 1 || pod.Spec.Containers[0].VolumeMounts[0].Name != "mine" {
		t.Errorf("own mount replaced: %+v", pod.Spec.Containers[0].VolumeMounts)
	}
	if m := pod.Spec.Containers[1].VolumeMounts; len(m) != 1 || m[0].Name != "kube-api-access-abcde" {
		t.Errorf("plain container: %+v", m)
	}
	if len(pod.Spec.EphemeralContainers[0].VolumeMounts) != 0 {
		t.Error("ephemeral containers are not mounted")
	}
	if len(pod.Spec.Volumes) != 1 || pod.Spec.Volumes[0].Projected == nil {
		t.Fatalf("volumes: %+v", pod.Spec.Volumes)
	}
	// Applied again (a pod re-admitted): nothing doubles; an existing volume is reused.
	MountServiceAccountToken(pod, func() string { return "kube-api-access-other" })
	if len(pod.Spec.Volumes) != 1 || len(pod.Spec.Containers[1].VolumeMounts) != 1 {
		t.Errorf("second pass: %+v", pod.Spec)
	}
	// Every container mounts at the path already: no volume at all.
	busy := &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "own", VolumeMounts: []corev1.VolumeMount{{Name: "mine", MountPath: ServiceAccountMountPath}}}}}}
	MountServiceAccountToken(busy, name)
	if len(busy.Spec.Volumes) != 0 {
		t.Errorf("unneeded volume: %+v", busy.Spec.Volumes)
	}
}
