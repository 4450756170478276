package ttl

import (
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func finishedJob(ttl *int32, cond batchv1.JobConditionType, at time.Time) *batchv1.Job {
	j := &batchv1.Job{Spec: batchv1.JobSpec{TTLSecondsAfterFinished: ttl}}
	if cond != "" {
		j.Status.Conditions = []batchv1.JobCondition{{Type: cond, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(at)}}
	}
	return j
}

func TestDecide(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	deleting := finishedJob(ptr.To[int32](0), batchv1.JobComplete, t0)
	deleting.DeletionTimestamp = &metav1.Time{Time: t0}
	cases := []struct {
		name string
		job  *batchv1.Job
		now  time.Time
		want Decision
	}{
		{"no ttl", finishedJob(nil, batchv1.JobComplete, t0), t0.Add(time.Hour), Decision{}},
		{"not finished", finishedJob(ptr.To[int32](10), "", t0), t0.Add(time.Hour), Decision{}},
		{"SuccessCriteriaMet is not finished", finishedJob(ptr.To[int32](10), batchv1.JobSuccessCriteriaMet, t0), t0.Add(time.Hour), Decision{}},
		{"complete, waiting", finishedJob(ptr.To[int32](240), batchv1.JobComplete, t0), t0.Add(40 * time.Second), Decision{Requeue: 200 * time.Second}},
		{"failed, expired", finishedJob(ptr.To[int32](240), batchv1.JobFailed, t0), t0.Add(240 * time.Second), Decision{Delete: true}},
		{"ttl 0 deletes right away", finishedJob(ptr.To[int32](0), batchv1.JobComplete, t0), t0, Decision{Delete: true}},
		{"finish time in the future waits", finishedJob(ptr.To[int32](5), batchv1.JobComplete, t0.Add(time.Minute)), t0, Decision{Requeue: 65 * time.Second}},
		{"already being deleted", deleting, t0.Add(time.Hour), Decision{}},
	}
	for _, c := range cases {
		if got := Decide(c.job, c.now); got != c.want {
			t.Errorf("%s: got %+v, want %+v", c.name, got, c.want)
		}
	}
}
