package job

import (
	"math"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/utils/ptr"
)

func resourceQuantity(s string) resource.Quantity { return resource.MustParse(s) }

func TestSetDefaults(t *testing.T) {
	cases := []struct {
		name                                   string
		in                                     batchv1.JobSpec
		completions, parallelism, backoffLimit *int32
		replacement                            batchv1.PodReplacementPolicy
	}{
		{"nothing set", batchv1.JobSpec{}, ptr.To[int32](1), ptr.To[int32](1), ptr.To[int32](6), batchv1.TerminatingOrFailed},
		{"work queue keeps completions nil", batchv1.JobSpec{Parallelism: ptr.To[int32](5)}, nil, ptr.To[int32](5), ptr.To[int32](6), batchv1.TerminatingOrFailed},
		{"completions only", batchv1.JobSpec{Completions: ptr.To[int32](10)}, ptr.To[int32](10), ptr.To[int32](1), ptr.To[int32](6), batchv1.TerminatingOrFailed},
		{"backoffLimitPerIndex lifts backoffLimit", batchv1.JobSpec{BackoffLimitPerIndex: ptr.To[int32](1)}, ptr.To[int32](1), ptr.To[int32](1), ptr.To[int32](math.MaxInt32), batchv1.TerminatingOrFailed},
		{"pod failure policy means Failed", batchv1.JobSpec{PodFailurePolicy: &batchv1.PodFailurePolicy{}}, ptr.To[int32](1), ptr.To[int32](1), ptr.To[int32](6), batchv1.Failed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			j := &batchv1.Job{Spec: c.in}
			SetDefaults(j)
			s := j.Spec
			if !ptr.Equal(s.Completions, c.completions) || !ptr.Equal(s.Parallelism, c.parallelism) || !ptr.Equal(s.BackoffLimit, c.backoffLimit) {
				t.Errorf("completions=%v parallelism=%v backoffLimit=%v", ptr.Deref(s.Completions, -1), *s.Parallelism, *s.BackoffLimit)
			}
			if *s.PodReplacementPolicy != c.replacement || *s.CompletionMode != batchv1.NonIndexedCompletion || *s.Suspend || *s.ManualSelector {
				t.Errorf("spec = %+v", s)
			}
		})
	}
}

func TestGenerateSelectorKeepsUserLabels(t *testing.T) {
	j := &batchv1.Job{}
	j.Name, j.UID = "x", "u1"
	j.Spec.Template.Labels = map[string]string{"job-name": "custom", "app": "a"}
	GenerateSelector(j)
	if j.Spec.Template.Labels["job-name"] != "custom" || j.Spec.Template.Labels["batch.kubernetes.io/job-name"] != "x" ||
		j.Spec.Template.Labels["controller-uid"] != "u1" || j.Spec.Selector.MatchLabels["batch.kubernetes.io/controller-uid"] != "u1" {
		t.Errorf("labels=%v selector=%v", j.Spec.Template.Labels, j.Spec.Selector)
	}
	manual := &batchv1.Job{Spec: batchv1.JobSpec{ManualSelector: ptr.To(true)}}
	GenerateSelector(manual)
	if manual.Spec.Selector != nil || manual.Spec.Template.Labels != nil {
		t.Errorf("manual selector was touched: %+v", manual.Spec)
	}
}
