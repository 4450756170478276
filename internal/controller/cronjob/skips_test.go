package cronjob

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// Skips name each slot that starts no Job by the name its Job would have
// had, with the reason of its MissedSchedule event: the run history
// records them, once whatever the retries.
func TestDecideSkips(t *testing.T) {
	created := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	last := created.Add(time.Minute)
	running := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: JobName("every", last), Namespace: "ns", UID: "j1",
		OwnerReferences: []metav1.OwnerReference{{Kind: "CronJob", Name: "every", UID: "cj", Controller: ptr.To(true)}}}}
	cj := &batchv1.CronJob{
		ObjectMeta: metav1.ObjectMeta{Name: "every", Namespace: "ns", UID: "cj", CreationTimestamp: metav1.NewTime(created)},
		Spec:       batchv1.CronJobSpec{Schedule: "* * * * *", ConcurrencyPolicy: batchv1.ForbidConcurrent},
		Status: batchv1.CronJobStatus{LastScheduleTime: &metav1.Time{Time: last},
			Active: []corev1.ObjectReference{{Name: running.Name, Namespace: "ns", UID: "j1"}}},
	}
	now := last.Add(2*time.Minute + 5*time.Second)
	p := Decide(Observed{CronJob: cj, Jobs: []*batchv1.Job{running}, Now: now, Local: time.UTC, Awake: created})
	var got []string
	for _, s := range p.Skips {
		got = append(got, s.Name+" "+s.Reason)
	}
	want := []string{JobName("every", last.Add(time.Minute)) + " " + MissedCatchUp, JobName("every", last.Add(2*time.Minute)) + " " + MissedForbid}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("skips (-want +got):\n%s", d)
	}
	// Signalled up to now: the next sync skips nothing again.
	again := Decide(Observed{CronJob: cj, Jobs: []*batchv1.Job{running}, Now: now, Local: time.UTC, Awake: created, Reported: p.Reported})
	if len(again.Skips) != 0 {
		t.Errorf("skipped again: %+v", again.Skips)
	}

	suspended := cj.DeepCopy()
	suspended.Spec.Suspend = ptr.To(true)
	p = Decide(Observed{CronJob: suspended, Now: now, Local: time.UTC, Awake: created})
	if len(p.Skips) != 2 || p.Skips[0].Reason != MissedSuspended {
		t.Errorf("suspended skips %+v", p.Skips)
	}
}
