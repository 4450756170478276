package job

import (
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"

	"github.com/batchd/batchd/internal/apiserver/validation"
)

// ValidateStatusUpdate checks a write to jobs/status (upstream
// ValidateJobStatusUpdate with the options 1.36 always enables).
func ValidateStatusUpdate(j, old *batchv1.Job) field.ErrorList {
	errs := validation.ObjectMetaUpdate(&j.ObjectMeta, &old.ObjectMeta)
	p := field.NewPath("status")
	s, o := &j.Status, &old.Status
	errs = append(errs, validation.NonNegative32(&s.Active, p.Child("active"))...)
	errs = append(errs, validation.NonNegative32(&s.Succeeded, p.Child("succeeded"))...)
	errs = append(errs, validation.NonNegative32(&s.Failed, p.Child("failed"))...)
	errs = append(errs, validation.NonNegative32(s.Ready, p.Child("ready"))...)
	errs = append(errs, validation.NonNegative32(s.Terminating, p.Child("terminating"))...)
	if s.UncountedTerminatedPods != nil {
		up := p.Child("uncountedTerminatedPods")
		seen := sets.New[string]()
		for name, uids := range map[string][]string{"succeeded": uidStrings(s.UncountedTerminatedPods.Succeeded), "failed": uidStrings(s.UncountedTerminatedPods.Failed)} {
			for i, uid := range uids {
				ip := up.Child(name).Index(i)
				if uid == "" {
					errs = append(errs, field.Invalid(ip, uid, "must not be empty"))
				} else if seen.Has(uid) {
					errs = append(errs, field.Duplicate(ip, uid))
				}
				seen.Insert(uid)
			}
		}
	}
	if s.Failed < o.Failed {
		errs = append(errs, field.Invalid(p.Child("failed"), s.Failed, "cannot decrease the failed counter"))
	}
	elastic := isIndexed(&j.Spec) && ptr.Deref(j.Spec.Completions, -1) == ptr.Deref(j.Spec.Parallelism, -2)
	if s.Succeeded < o.Succeeded && !elastic {
		errs = append(errs, field.Invalid(p.Child("succeeded"), s.Succeeded, "cannot decrease the succeeded counter"))
	}
	complete, failed, target := hasCond(s, batchv1.JobComplete), hasCond(s, batchv1.JobFailed), hasCond(s, batchv1.JobFailureTarget)
	for _, t := range []batchv1.JobConditionType{batchv1.JobComplete, batchv1.JobFailed, batchv1.JobFailureTarget, batchv1.JobSuccessCriteriaMet} {
		if hasCond(o, t) && !hasCond(s, t) {
			errs = append(errs, field.Invalid(p.Child("conditions"), field.OmitValueType{}, "cannot disable the terminal "+string(t)+"=True condition"))
		}
	}
	if complete && (failed || target) {
		errs = append(errs, field.Invalid(p.Child("conditions"), field.OmitValueType{}, "cannot set Complete=True and Failed=true or FailureTarget=true conditions"))
	}
	if hasCond(s, batchv1.JobSuccessCriteriaMet) && (failed || target) {
		errs = append(errs, field.Invalid(p.Child("conditions"), field.OmitValueType{}, "cannot set SuccessCriteriaMet=True and Failed=true or FailureTarget=true conditions"))
	}
	if s.CompletionTime != nil && !complete {
		errs = append(errs, field.Invalid(p.Child("completionTime"), s.CompletionTime, "cannot set completionTime when there is no Complete=True condition"))
	}
	if complete && s.CompletionTime == nil && !hasCond(o, batchv1.JobComplete) {
		errs = append(errs, field.Required(p.Child("completionTime"), "completionTime is required for Complete=True condition"))
	}
	if o.CompletionTime != nil && (s.CompletionTime == nil || !s.CompletionTime.Equal(o.CompletionTime)) {
		errs = append(errs, field.Invalid(p.Child("completionTime"), s.CompletionTime, "field is immutable"))
	}
	if s.CompletionTime != nil && s.StartTime != nil && s.CompletionTime.Before(s.StartTime) {
		errs = append(errs, field.Invalid(p.Child("completionTime"), s.CompletionTime, "completionTime cannot be set before startTime"))
	}
	if (complete || failed) && !hasCond(o, batchv1.JobComplete) && !hasCond(o, batchv1.JobFailed) {
		if s.StartTime == nil {
			errs = append(errs, field.Required(p.Child("startTime"), "startTime is required for finished job"))
		}
		if s.Active > 0 {
			errs = append(errs, field.Invalid(p.Child("active"), s.Active, "active>0 is invalid for finished job"))
		}
		if u := s.UncountedTerminatedPods; u != nil && len(u.Succeeded)+len(u.Failed) > 0 {
			errs = append(errs, field.Invalid(p.Child("uncountedTerminatedPods"), field.OmitValueType{}, "must be empty for finished job"))
		}
	}
	if s.CompletedIndexes != "" && s.CompletedIndexes != o.CompletedIndexes {
		if !isIndexed(&j.Spec) {
			errs = append(errs, field.Invalid(p.Child("completedIndexes"), s.CompletedIndexes, "cannot set non-empty completedIndexes when non-indexed completion mode"))
		} else if _, err := countIndexes(s.CompletedIndexes, ptr.Deref(j.Spec.Completions, 0)); err != nil {
			errs = append(errs, field.Invalid(p.Child("completedIndexes"), s.CompletedIndexes, "error parsing completedIndexes: "+err.Error()))
		}
	}
	if s.FailedIndexes != nil && *s.FailedIndexes != "" && !ptr.Equal(s.FailedIndexes, o.FailedIndexes) {
		if j.Spec.BackoffLimitPerIndex == nil {
			errs = append(errs, field.Invalid(p.Child("failedIndexes"), *s.FailedIndexes, "cannot set non-null failedIndexes when backoffLimitPerIndex is null"))
		} else if _, err := countIndexes(*s.FailedIndexes, ptr.Deref(j.Spec.Completions, 0)); err != nil {
			errs = append(errs, field.Invalid(p.Child("failedIndexes"), *s.FailedIndexes, "error parsing failedIndexes: "+err.Error()))
		}
	}
	return errs
}

func hasCond(s *batchv1.JobStatus, t batchv1.JobConditionType) bool {
	for _, c := range s.Conditions {
		if c.Type == t && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

func uidStrings[T ~string](in []T) []string {
	out := make([]string, len(in))
	for i, v := range in {
		out[i] = string(v)
	}
	return out
}
