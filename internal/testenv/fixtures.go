package testenv

import (
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Job returns a minimal valid Job running `true` in busybox.
func Job(name string) *batchv1.Job {
	return &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever,
			Containers:    []corev1.Container{{Name: "c", Image: "busybox", Command: []string{"true"}}},
		}}},
	}
}

// ExternalJob is Job(name) marked as managed by another controller
// (spec.managedBy), so batchd's Job controller leaves its pods and status to
// the test, as upstream's does.
func ExternalJob(name string) *batchv1.Job {
	j := Job(name)
	manager := "example.com/test-controller"
	j.Spec.ManagedBy = &manager
	return j
}

// CronJob returns a minimal valid CronJob.
func CronJob(name, schedule string) *batchv1.CronJob {
	return &batchv1.CronJob{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: batchv1.CronJobSpec{
			Schedule:    schedule,
			JobTemplate: batchv1.JobTemplateSpec{Spec: Job(name).Spec},
		},
	}
}

// Pod returns a minimal valid Pod.
func Pod(name string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever,
			Containers:    []corev1.Container{{Name: "c", Image: "busybox", Command: []string{"true"}}},
		},
	}
}
