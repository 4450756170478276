package job

import (
	"maps"
	"math"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/batchd/batchd/internal/apiserver/registry/pod"
)

// SetDefaults applies upstream's SetDefaults_Job.
func SetDefaults(j *batchv1.Job) {
	s := &j.Spec
	if s.Completions == nil && s.Parallelism == nil {
		s.Completions = ptr.To[int32](1)
		s.Parallelism = ptr.To[int32](1)
	}
	if s.Parallelism == nil {
		s.Parallelism = ptr.To[int32](1)
	}
	if s.BackoffLimit == nil {
		if s.BackoffLimitPerIndex != nil {
			s.BackoffLimit = ptr.To[int32](math.MaxInt32)
		} else {
			s.BackoffLimit = ptr.To[int32](6)
		}
	}
	if len(j.Labels) == 0 && len(s.Template.Labels) > 0 {
		j.Labels = maps.Clone(s.Template.Labels)
	}
	if s.CompletionMode == nil {
		s.CompletionMode = ptr.To(batchv1.NonIndexedCompletion)
	}
	if s.Suspend == nil {
		s.Suspend = ptr.To(false)
	}
	if s.PodReplacementPolicy == nil {
		if s.PodFailurePolicy != nil {
			s.PodReplacementPolicy = ptr.To(batchv1.Failed)
		} else {
			s.PodReplacementPolicy = ptr.To(batchv1.TerminatingOrFailed)
		}
	}
	if s.ManualSelector == nil {
		s.ManualSelector = ptr.To(false)
	}
	SetTemplateDefaults(&s.Template, s.PodFailurePolicy)
}

// SetTemplateDefaults applies the type-level defaults that also reach a
// CronJob's job template: pod spec defaults and onPodConditions status.
func SetTemplateDefaults(t *corev1.PodTemplateSpec, pfp *batchv1.PodFailurePolicy) {
	pod.SetSpecDefaults(&t.Spec)
	if pfp == nil {
		return
	}
	for i := range pfp.Rules {
		for k := range pfp.Rules[i].OnPodConditions {
			if pfp.Rules[i].OnPodConditions[k].Status == "" {
				pfp.Rules[i].OnPodConditions[k].Status = corev1.ConditionTrue
			}
		}
	}
}

// Generated selector labels (spec §1.6).
const (
	LabelControllerUID       = batchv1.ControllerUidLabel
	LabelJobName             = batchv1.JobNameLabel
	LabelLegacyControllerUID = "controller-uid"
	LabelLegacyJobName       = "job-name"
)

// GenerateSelector adds the generated labels to the template and the selector,
// unless the user asked for a manual selector.
func GenerateSelector(j *batchv1.Job) {
	if ptr.Deref(j.Spec.ManualSelector, false) {
		return
	}
	uid := string(j.UID)
	if j.Spec.Template.Labels == nil {
		j.Spec.Template.Labels = map[string]string{}
	}
	for k, v := range map[string]string{
		LabelLegacyJobName: j.Name, LabelJobName: j.Name,
		LabelLegacyControllerUID: uid, LabelControllerUID: uid,
	} {
		if _, ok := j.Spec.Template.Labels[k]; !ok {
			j.Spec.Template.Labels[k] = v
		}
	}
	if j.Spec.Selector == nil {
		j.Spec.Selector = &metav1.LabelSelector{}
	}
	if j.Spec.Selector.MatchLabels == nil {
		j.Spec.Selector.MatchLabels = map[string]string{}
	}
	if _, ok := j.Spec.Selector.MatchLabels[LabelControllerUID]; !ok {
		j.Spec.Selector.MatchLabels[LabelControllerUID] = uid
	}
}
