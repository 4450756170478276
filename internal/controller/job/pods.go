package job

import (
	"maps"
	"strconv"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// TrackingFinalizer keeps a finished pod until the controller has counted it.
const TrackingFinalizer = batchv1.JobTrackingFinalizer

// maxGenerateNameLength is the API server's cut for generateName bases.
const maxGenerateNameLength = 58

// NewPod builds the pod the Job runs for index (-1 for NonIndexed Jobs),
// exactly as upstream's controller does: template labels, annotations and
// finalizers plus the tracking finalizer, a controller ownerReference, and for
// Indexed Jobs the completion-index annotation and label, hostname and
// JOB_COMPLETION_INDEX in every container.
func NewPod(j *batchv1.Job, index int) *corev1.Pod {
	t := j.Spec.Template.DeepCopy()
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName: generateName(j.Name, index),
			Namespace:    j.Namespace,
			Labels:       maps.Clone(t.Labels),
			Annotations:  maps.Clone(t.Annotations),
			Finalizers:   t.Finalizers,
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: "batch/v1", Kind: "Job", Name: j.Name, UID: j.UID,
				Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true),
			}},
		},
		Spec: t.Spec,
	}
	if !hasString(p.Finalizers, TrackingFinalizer) {
		p.Finalizers = append(p.Finalizers, TrackingFinalizer)
	}
	if index < 0 {
		return p
	}
	idx := strconv.Itoa(index)
	if p.Annotations == nil {
		p.Annotations = map[string]string{}
	}
	if p.Labels == nil {
		p.Labels = map[string]string{}
	}
	p.Annotations[batchv1.JobCompletionIndexAnnotation] = idx
	p.Labels[batchv1.JobCompletionIndexAnnotation] = idx
	p.Spec.Hostname = j.Name + "-" + idx
	env := corev1.EnvVar{Name: "JOB_COMPLETION_INDEX", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{
		APIVersion: "v1", FieldPath: "metadata.labels['" + batchv1.JobCompletionIndexAnnotation + "']",
	}}}
	for _, list := range [][]corev1.Container{p.Spec.InitContainers, p.Spec.Containers} {
		for i := range list {
			if !hasEnv(list[i].Env, env.Name) {
				list[i].Env = append(list[i].Env, env)
			}
		}
	}
	return p
}

// generateName is "<job>-" (or "<job>-<index>-"), shortened so the API
// server's random suffix still fits.
func generateName(job string, index int) string {
	if index < 0 {
		if len(apimachineryvalidation.NameIsDNSSubdomain(job+"-", true)) > 0 {
			return job
		}
		return job + "-"
	}
	suffix := "-" + strconv.Itoa(index) + "-"
	prefix := job + suffix
	if len(prefix) > maxGenerateNameLength {
		prefix = job[:maxGenerateNameLength-len(suffix)] + suffix
	}
	return prefix
}

func hasEnv(env []corev1.EnvVar, name string) bool {
	for _, e := range env {
		if e.Name == name {
			return true
		}
	}
	return false
}

func hasString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// podIndex returns a pod's completion index, or -1.
func podIndex(p *corev1.Pod) int {
	v, ok := p.Annotations[batchv1.JobCompletionIndexAnnotation]
	if !ok {
		return -1
	}
	i, err := strconv.Atoi(v)
	if err != nil || i < 0 {
		return -1
	}
	return i
}
