package history

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/batchd/batchd/internal/apis/batchd/v1alpha1"
	"github.com/batchd/batchd/internal/controller/cronjob"
	"github.com/batchd/batchd/internal/cronspec"
)

var t0 = time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)

func at(d time.Duration) *metav1.Time { t := metav1.NewTime(t0.Add(d)); return &t }

func cronJob() *batchv1.Job {
	return &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "nightly-29000000", Namespace: "ns", UID: "job-1", CreationTimestamp: *at(0),
			Labels:          map[string]string{"team": "data"},
			Annotations:     map[string]string{cronjob.ScheduledTimestampAnnotation: "2026-11-30T10:00:00Z"},
			OwnerReferences: []metav1.OwnerReference{{Kind: "CronJob", Name: "nightly", UID: "cj-1", Controller: ptr.To(true)}}},
		Spec: batchv1.JobSpec{Completions: ptr.To[int32](1), Parallelism: ptr.To[int32](1)},
	}
}

func pod(name string, uid types.UID, statuses ...corev1.ContainerStatus) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", UID: uid,
			Annotations:     map[string]string{completionIndexAnnotation: "0"},
			OwnerReferences: []metav1.OwnerReference{{Kind: "Job", Name: "nightly-29000000", UID: "job-1", Controller: ptr.To(true)}}},
		Spec:   corev1.PodSpec{NodeName: "n1"},
		Status: corev1.PodStatus{ContainerStatuses: statuses},
	}
}

func terminated(code int32, reason string, start, end time.Duration) *corev1.ContainerStateTerminated {
	return &corev1.ContainerStateTerminated{ExitCode: code, Reason: reason, StartedAt: *at(start), FinishedAt: *at(end)}
}

// A failed CronJob Job: scheduled time, labels, reason, and every run of the
// OnFailure pod (the one seen before the pod showed the later one, the
// previous and current ones the pod shows).
func TestDecideFailedCronJobRun(t *testing.T) {
	j := cronJob()
	j.Status = batchv1.JobStatus{StartTime: at(time.Second), Failed: 1, Conditions: []batchv1.JobCondition{
		{Type: batchv1.JobFailed, Status: corev1.ConditionTrue, Reason: "BackoffLimitExceeded", Message: "Job has reached the specified backoff limit", LastTransitionTime: *at(time.Minute)}}}
	p := pod("p", "pod-1", corev1.ContainerStatus{Name: "main", RestartCount: 2,
		LastTerminationState: corev1.ContainerState{Terminated: terminated(1, "Error", 20*time.Second, 21*time.Second)},
		State:                corev1.ContainerState{Terminated: terminated(127, "Error", 40*time.Second, 41*time.Second)}})
	seen := []v1alpha1.Attempt{{PodName: "p", PodUID: "pod-1", NodeName: "n1", Index: ptr.To[int32](0), Container: "main", Attempt: 0,
		StartTime: at(2 * time.Second), FinishTime: at(3 * time.Second), ExitCode: ptr.To[int32](1), Reason: "Error"}}
	plan := Decide(Observed{Job: j, Pods: []*corev1.Pod{p}, Seen: seen, Now: t0.Add(2 * time.Minute)})
	if plan.Archive != nil || plan.Write == nil {
		t.Fatalf("plan %+v", plan)
	}
	want := &v1alpha1.JobRun{
		ObjectMeta: metav1.ObjectMeta{Name: "nightly-29000000", Namespace: "ns",
			Labels: map[string]string{"team": "data", v1alpha1.CronJobNameLabel: "nightly"}},
		Spec: v1alpha1.JobRunSpec{JobName: "nightly-29000000", JobUID: "job-1", CronJobName: "nightly", CronJobUID: "cj-1",
			ScheduledTime: at(0), Completions: ptr.To[int32](1), Parallelism: ptr.To[int32](1)},
		Status: v1alpha1.JobRunStatus{Outcome: v1alpha1.OutcomeFailed, Reason: "BackoffLimitExceeded", Message: "Job has reached the specified backoff limit",
			CreationTime: at(0), StartTime: at(time.Second), CompletionTime: at(time.Minute), Failed: 1,
			Attempts: []v1alpha1.Attempt{
				seen[0],
				{PodName: "p", PodUID: "pod-1", NodeName: "n1", Index: ptr.To[int32](0), Container: "main", Attempt: 1,
					StartTime: at(20 * time.Second), FinishTime: at(21 * time.Second), ExitCode: ptr.To[int32](1), Reason: "Error"},
				{PodName: "p", PodUID: "pod-1", NodeName: "n1", Index: ptr.To[int32](0), Container: "main", Attempt: 2,
					StartTime: at(40 * time.Second), FinishTime: at(41 * time.Second), ExitCode: ptr.To[int32](127), Reason: "Error"},
			}},
	}
	if d := cmp.Diff(want, plan.Write); d != "" {
		t.Errorf("record (-want +got):\n%s", d)
	}
}

// A run never seen is still counted: restartCount 3 with only the last
// two shown gives placeholders for the first ones; a later sight fills them.
func TestPodAttemptsPlaceholders(t *testing.T) {
	p := pod("p", "pod-1", corev1.ContainerStatus{Name: "main", RestartCount: 3,
		LastTerminationState: corev1.ContainerState{Terminated: terminated(1, "Error", 0, time.Second)},
		State:                corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: *at(2 * time.Second)}}})
	got := MergeAttempts(PodAttempts(p))
	var nums []int32
	for _, a := range got {
		nums = append(nums, a.Attempt)
	}
	if d := cmp.Diff([]int32{0, 1, 2, 3}, nums); d != "" {
		t.Errorf("attempts (-want +got):\n%s", d)
	}
	if got[0].ExitCode != nil || got[2].ExitCode == nil || got[3].StartTime == nil || got[3].ExitCode != nil {
		t.Errorf("attempts %+v", got)
	}
	filled := MergeAttempts(got, []v1alpha1.Attempt{{PodName: "p", PodUID: "pod-1", Container: "main", Attempt: 0, ExitCode: ptr.To[int32](9), StartTime: at(-time.Minute)}})
	if *filled[0].ExitCode != 9 || len(filled) != 4 {
		t.Errorf("filled %+v", filled)
	}
	// A placeholder never hides what was known.
	if again := MergeAttempts(filled, PodAttempts(p)); *again[0].ExitCode != 9 {
		t.Errorf("placeholder replaced a known attempt: %+v", again[0])
	}
}

func TestDecideOutcomes(t *testing.T) {
	running := ForJob(cronJob())
	running.ResourceVersion = "5"
	complete := cronJob()
	complete.Status = batchv1.JobStatus{Succeeded: 1, StartTime: at(time.Second), CompletionTime: at(9 * time.Second),
		Conditions: []batchv1.JobCondition{{Type: batchv1.JobComplete, Status: corev1.ConditionTrue}}}
	deleting := cronJob()
	deleting.DeletionTimestamp = at(5 * time.Second)
	other := cronJob()
	other.UID = "job-2"
	skipped := &v1alpha1.JobRun{ObjectMeta: metav1.ObjectMeta{Name: "nightly-29000000", Namespace: "ns"},
		Status: v1alpha1.JobRunStatus{Outcome: v1alpha1.OutcomeSkipped, Reason: v1alpha1.SkipJobAlreadyActive}}
	for _, tc := range []struct {
		name        string
		o           Observed
		outcome     v1alpha1.Outcome // "": no write
		archive     bool
		wantVersion string
	}{
		{name: "new job", o: Observed{Job: cronJob()}, outcome: v1alpha1.OutcomeRunning},
		{name: "unchanged", o: Observed{Job: cronJob(), Run: running}},
		{name: "completed", o: Observed{Job: complete, Run: running}, outcome: v1alpha1.OutcomeSucceeded, wantVersion: "5"},
		{name: "deleted while running", o: Observed{Run: running, Now: t0}, outcome: v1alpha1.OutcomeDeleted, wantVersion: "5"},
		{name: "deleting while running", o: Observed{Job: deleting, Run: running}, outcome: v1alpha1.OutcomeDeleted, wantVersion: "5"},
		{name: "gone after it finished", o: Observed{Run: ForJob(complete)}},
		{name: "gone, never recorded", o: Observed{}},
		{name: "same name, new job", o: Observed{Job: other, Run: running}, outcome: v1alpha1.OutcomeRunning, archive: true, wantVersion: "5"},
		{name: "slot skipped, then ran", o: Observed{Job: cronJob(), Run: skipped}, outcome: v1alpha1.OutcomeRunning},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := Decide(tc.o)
			switch {
			case tc.outcome == "" && p.Write != nil:
				t.Fatalf("wrote %+v", p.Write.Status)
			case tc.outcome == "":
				return
			case p.Write == nil:
				t.Fatalf("no write, want %s", tc.outcome)
			}
			if p.Write.Status.Outcome != tc.outcome || (p.Archive != nil) != tc.archive || p.Write.ResourceVersion != tc.wantVersion {
				t.Errorf("plan write %+v archive %v", p.Write, p.Archive)
			}
			if tc.archive && (p.Archive.Name != "nightly-29000000-job-1" || p.Archive.Status.Outcome != v1alpha1.OutcomeDeleted) {
				t.Errorf("archive %+v", p.Archive)
			}
		})
	}
}

func TestSkipReasons(t *testing.T) {
	cj := &batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Name: "nightly", Namespace: "ns", UID: "cj-1"}}
	for reason, want := range map[string]string{
		cronjob.MissedForbid: v1alpha1.SkipJobAlreadyActive, cronjob.MissedSuspended: v1alpha1.SkipSuspended,
		cronjob.MissedDeadline: v1alpha1.SkipDeadlineExceeded, cronjob.MissedTooMany: v1alpha1.SkipTooManyMissedTimes,
	} {
		r := Skipped(cj, cronjob.Skip{Name: "nightly-1", Slot: t0, Reason: reason, Count: 1}, t0)
		if r.Status.Reason != want || r.Status.Outcome != v1alpha1.OutcomeSkipped || r.Labels[v1alpha1.CronJobNameLabel] != "nightly" || !r.Spec.ScheduledTime.Time.Equal(t0) {
			t.Errorf("%s: %+v", reason, r)
		}
	}
	if r := SkipReason(cronjob.Skip{Reason: cronjob.MissedCatchUp, CatchUp: cronspec.CatchUpNone}); r != v1alpha1.SkipCatchUpNone {
		t.Errorf("catch-up none: %s", r)
	}
	if r := SkipReason(cronjob.Skip{Reason: cronjob.MissedCatchUp}); r != v1alpha1.SkipCatchUpLatest {
		t.Errorf("catch-up latest: %s", r)
	}
}

func TestExpired(t *testing.T) {
	run := func(name, cron string, ended time.Duration, job types.UID) *v1alpha1.JobRun {
		return &v1alpha1.JobRun{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", UID: types.UID("r-" + name)},
			Spec:   v1alpha1.JobRunSpec{CronJobName: cron, ScheduledTime: at(ended), JobUID: job},
			Status: v1alpha1.JobRunStatus{Outcome: v1alpha1.OutcomeSucceeded, CompletionTime: at(ended)}}
	}
	runs := []*v1alpha1.JobRun{
		run("old", "", -40*24*time.Hour, ""),
		run("old-live", "", -40*24*time.Hour, "live-job"),
		run("recent", "", -time.Hour, ""),
		run("c1", "cron", -3*time.Hour, ""), run("c2", "cron", -2*time.Hour, ""), run("c3", "cron", -time.Hour, ""),
		run("d1", "other", -3*time.Hour, ""),
	}
	running := run("running", "", -40*24*time.Hour, "")
	running.Status.Outcome = v1alpha1.OutcomeRunning
	runs = append(runs, running)
	got := Expired(runs, map[types.UID]bool{"live-job": true}, Retention{Age: 30 * 24 * time.Hour, PerCronJob: 2}, t0)
	var names []string
	for _, r := range got {
		names = append(names, r.Name)
	}
	if d := cmp.Diff([]string{"old", "c1"}, names); d != "" {
		t.Errorf("expired (-want +got):\n%s", d)
	}
	if got := Expired(runs, nil, Retention{}, t0); len(got) != 0 {
		t.Errorf("no retention expired %d", len(got))
	}
}

// A Job of thousands of pods keeps its failed attempts and the latest
// ones, within MaxAttempts, and counts what it left out.
func TestCapAttempts(t *testing.T) {
	var as []v1alpha1.Attempt
	for i := range MaxAttempts + 100 {
		code := int32(0)
		if i%100 == 0 {
			code = 1
		}
		as = append(as, v1alpha1.Attempt{PodName: fmt.Sprint(i), PodUID: types.UID(fmt.Sprint(i)), Container: "c", ExitCode: &code})
	}
	st := v1alpha1.JobRunStatus{Attempts: as}
	capAttempts(&st, 7)
	if len(st.Attempts) != MaxAttempts || st.OmittedAttempts != 107 {
		t.Fatalf("kept %d, omitted %d", len(st.Attempts), st.OmittedAttempts)
	}
	if st.Attempts[0].PodName != "0" || st.Attempts[len(st.Attempts)-1].PodName != fmt.Sprint(MaxAttempts+99) {
		t.Errorf("kept %s … %s", st.Attempts[0].PodName, st.Attempts[len(st.Attempts)-1].PodName)
	}
}

// Only the first record of a Job with nothing to record yet may wait.
func TestDecideLazy(t *testing.T) {
	started := cronJob()
	started.Status.StartTime = at(time.Second)
	deleting := cronJob()
	deleting.DeletionTimestamp = at(5 * time.Second)
	failed := cronJob()
	failed.Status.Conditions = []batchv1.JobCondition{{Type: batchv1.JobFailed, Status: corev1.ConditionTrue}}
	labelled := cronJob()
	labelled.Labels["more"] = "x"
	running := ForJob(cronJob())
	for _, tc := range []struct {
		name string
		o    Observed
		lazy bool
	}{
		{name: "created, not started", o: Observed{Job: cronJob()}, lazy: true},
		{name: "started", o: Observed{Job: started}},
		{name: "a pod attempt seen", o: Observed{Job: cronJob(), Seen: []v1alpha1.Attempt{{PodName: "p", PodUID: "pod-1", Container: "main"}}}},
		{name: "deleted before it started", o: Observed{Job: deleting}},
		{name: "failed before it started", o: Observed{Job: failed}},
		{name: "recorded, then changed", o: Observed{Job: labelled, Run: running}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := Decide(tc.o)
			if p.Write == nil {
				t.Fatal("no write")
			}
			if p.Lazy != tc.lazy {
				t.Errorf("lazy %v, want %v (outcome %s)", p.Lazy, tc.lazy, p.Write.Status.Outcome)
			}
		})
	}
	if p := Decide(Observed{Job: deleting}); p.Write.Status.Outcome != v1alpha1.OutcomeDeleted {
		t.Errorf("a Job deleted before its first record: outcome %s", p.Write.Status.Outcome)
	}
}
