package ttl

import (
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
)

// Decision says what to do with one Job now.
type Decision struct {
	Delete  bool          // the TTL has expired
	Requeue time.Duration // look again after this long (0: never)
}

// Decide applies upstream's rule: a Job with ttlSecondsAfterFinished that has
// finished (Complete or Failed) and is not being deleted expires
// ttlSecondsAfterFinished after its finish time, the lastTransitionTime of the
// finished condition. A finish time in the future (clock skew) just waits.
func Decide(j *batchv1.Job, now time.Time) Decision {
	if j.Spec.TTLSecondsAfterFinished == nil || j.DeletionTimestamp != nil {
		return Decision{}
	}
	finished, ok := finishTime(j)
	if !ok {
		return Decision{}
	}
	expireAt := finished.Add(time.Duration(*j.Spec.TTLSecondsAfterFinished) * time.Second)
	if !now.Before(expireAt) {
		return Decision{Delete: true}
	}
	return Decision{Requeue: expireAt.Sub(now)}
}

func finishTime(j *batchv1.Job) (time.Time, bool) {
	for _, c := range j.Status.Conditions {
		if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == corev1.ConditionTrue {
			if c.LastTransitionTime.IsZero() {
				return time.Time{}, false
			}
			return c.LastTransitionTime.Time, true
		}
	}
	return time.Time{}, false
}
