package job

import (
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func TestStatusColumn(t *testing.T) {
	cond := func(ty batchv1.JobConditionType) batchv1.JobCondition {
		return batchv1.JobCondition{Type: ty, Status: corev1.ConditionTrue}
	}
	now := metav1.Now()
	cases := []struct {
		name string
		job  batchv1.Job
		want string
	}{
		{"new", batchv1.Job{}, "Running"},
		{"success criteria only", batchv1.Job{Status: batchv1.JobStatus{Conditions: []batchv1.JobCondition{cond(batchv1.JobSuccessCriteriaMet)}}}, "Running"},
		{"complete", batchv1.Job{Status: batchv1.JobStatus{Conditions: []batchv1.JobCondition{cond(batchv1.JobSuccessCriteriaMet), cond(batchv1.JobComplete)}}}, "Complete"},
		{"failed beats terminating", batchv1.Job{ObjectMeta: metav1.ObjectMeta{DeletionTimestamp: &now}, Status: batchv1.JobStatus{Conditions: []batchv1.JobCondition{cond(batchv1.JobFailed)}}}, "Failed"},
		{"terminating", batchv1.Job{ObjectMeta: metav1.ObjectMeta{DeletionTimestamp: &now}}, "Terminating"},
		{"suspended", batchv1.Job{Status: batchv1.JobStatus{Conditions: []batchv1.JobCondition{cond(batchv1.JobSuspended)}}}, "Suspended"},
		{"failure target", batchv1.Job{Status: batchv1.JobStatus{Conditions: []batchv1.JobCondition{cond(batchv1.JobFailureTarget)}}}, "FailureTarget"},
		{"false condition ignored", batchv1.Job{Status: batchv1.JobStatus{Conditions: []batchv1.JobCondition{{Type: batchv1.JobSuspended, Status: corev1.ConditionFalse}}}}, "Running"},
	}
	for _, c := range cases {
		if got := Status(&c.job); got != c.want {
			t.Errorf("%s: Status = %q, want %q", c.name, got, c.want)
		}
	}
}

func TestCompletionsColumn(t *testing.T) {
	cases := []struct {
		completions, parallelism *int32
		succeeded                int32
		want                     string
	}{
		{ptr.To[int32](10), ptr.To[int32](4), 4, "4/10"},
		{nil, ptr.To[int32](5), 1, "1/1 of 5"},
		{nil, ptr.To[int32](1), 0, "0/1"},
	}
	for _, c := range cases {
		j := &batchv1.Job{Spec: batchv1.JobSpec{Completions: c.completions, Parallelism: c.parallelism}, Status: batchv1.JobStatus{Succeeded: c.succeeded}}
		if got := Completions(j); got != c.want {
			t.Errorf("Completions = %q, want %q", got, c.want)
		}
	}
}

func TestDurationColumn(t *testing.T) {
	start := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	j := &batchv1.Job{}
	if got := Duration(j, start); got != "" {
		t.Errorf("no start: %q", got)
	}
	j.Status.StartTime = &metav1.Time{Time: start}
	if got := Duration(j, start.Add(65*time.Second)); got != "65s" {
		t.Errorf("running: %q", got)
	}
	j.Status.CompletionTime = &metav1.Time{Time: start.Add(3*time.Minute + 5*time.Second)}
	if got := Duration(j, start.Add(time.Hour)); got != "3m5s" {
		t.Errorf("complete: %q", got)
	}
}
