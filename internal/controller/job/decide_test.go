package job

import (
	"fmt"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

var t0 = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

func testJob(mutate func(*batchv1.Job)) *batchv1.Job {
	j := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "pi", Namespace: "default", UID: "job-uid"},
		Spec: batchv1.JobSpec{
			Completions: ptr.To[int32](1), Parallelism: ptr.To[int32](1), BackoffLimit: ptr.To[int32](6),
			CompletionMode: ptr.To(batchv1.NonIndexedCompletion), Suspend: ptr.To(false),
			PodReplacementPolicy: ptr.To(batchv1.TerminatingOrFailed),
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"batch.kubernetes.io/job-name": "pi"}},
				Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever,
					Containers: []corev1.Container{{Name: "pi", Image: "perl"}}},
			},
		},
	}
	if mutate != nil {
		mutate(j)
	}
	return j
}

// pod builds a tracked pod of the Job in the given phase.
func pod(name string, phase corev1.PodPhase, mutate ...func(*corev1.Pod)) *corev1.Pod {
	p := NewPod(testJob(nil), -1)
	p.Name, p.UID = name, types.UID(name)
	p.Status.Phase = phase
	for _, m := range mutate {
		m(p)
	}
	return p
}

func untracked(p *corev1.Pod) { p.Finalizers = nil }

// deleting marks a pod deleted with the default 30 s grace period.
func deleting(p *corev1.Pod) {
	p.DeletionTimestamp = &metav1.Time{Time: t0}
	p.DeletionGracePeriodSeconds = ptr.To[int64](30)
}
func withIndex(i int) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		p.Annotations = map[string]string{batchv1.JobCompletionIndexAnnotation: fmt.Sprint(i)}
	}
}

func conds(s *batchv1.JobStatus) []string {
	var out []string
	for _, c := range s.Conditions {
		out = append(out, fmt.Sprintf("%s=%s/%s", c.Type, c.Status, c.Reason))
	}
	return out
}

func TestNewJobCreatesItsPod(t *testing.T) {
	p := Decide(Observed{Job: testJob(nil), Now: t0})
	if len(p.Create) != 1 || p.Status == nil {
		t.Fatalf("plan = %+v", p)
	}
	pod := p.Create[0]
	if pod.GenerateName != "pi-" || !hasString(pod.Finalizers, TrackingFinalizer) || pod.OwnerReferences[0].UID != "job-uid" ||
		!*pod.OwnerReferences[0].Controller || !*pod.OwnerReferences[0].BlockOwnerDeletion || pod.Labels["batch.kubernetes.io/job-name"] != "pi" {
		t.Errorf("pod = %+v", pod.ObjectMeta)
	}
	s := p.Status
	// The pod being created counts as active, as upstream's manageJob returns it.
	if s.StartTime == nil || !s.StartTime.Time.Equal(t0) || s.Active != 1 || *s.Ready != 0 || *s.Terminating != 0 || s.UncountedTerminatedPods == nil {
		t.Errorf("status = %+v", s)
	}
}

func TestParallelismAndCompletions(t *testing.T) {
	j := testJob(func(j *batchv1.Job) {
		j.Spec.Completions, j.Spec.Parallelism = ptr.To[int32](10), ptr.To[int32](4)
		j.Status.Succeeded = 8
		j.Status.StartTime = &metav1.Time{Time: t0}
	})
	running := []*corev1.Pod{pod("a", corev1.PodRunning), pod("b", corev1.PodRunning)}
	// 2 completions left: no new pods for the 2 running.
	if p := Decide(Observed{Job: j, Pods: running, Now: t0}); len(p.Create) != 0 || len(p.DeleteUncounted) != 0 {
		t.Errorf("at capacity: create %d delete %d", len(p.Create), len(p.DeleteUncounted))
	}
	j.Status.Succeeded = 2
	if p := Decide(Observed{Job: j, Pods: running, Now: t0}); len(p.Create) != 2 || p.Status.Active != 4 {
		t.Errorf("want 2 more pods and 4 active, got %d and %+v", len(p.Create), p.Status)
	}
	// Scaling down deletes the extra pods (unscheduled ones first), uncounted.
	j.Spec.Parallelism = ptr.To[int32](1)
	scheduled := pod("s", corev1.PodRunning, func(p *corev1.Pod) { p.Spec.NodeName = "n" })
	p := Decide(Observed{Job: j, Pods: []*corev1.Pod{scheduled, pod("u", corev1.PodPending)}, Now: t0})
	if len(p.DeleteUncounted) != 1 || p.DeleteUncounted[0].Name != "u" || len(p.Create) != 0 || p.Status.Active != 1 {
		t.Errorf("scale down: delete %v create %d status %+v", p.DeleteUncounted, len(p.Create), p.Status)
	}
	// parallelism 0 pauses the Job.
	j.Spec.Parallelism = ptr.To[int32](0)
	p = Decide(Observed{Job: j, Now: t0})
	if len(p.Create) != 0 || len(conds(p.Status)) != 0 {
		t.Errorf("parallelism 0: create %d conditions %v", len(p.Create), conds(p.Status))
	}
}

// A finished pod is recorded before its finalizer goes, and counted only once
// the finalizer is gone: every interrupted step resumes without double counting.
func TestTwoPhaseCounting(t *testing.T) {
	j := testJob(func(j *batchv1.Job) {
		j.Spec.Completions, j.Spec.Parallelism = ptr.To[int32](2), ptr.To[int32](2)
		j.Status.StartTime = &metav1.Time{Time: t0}
	})
	done := pod("done", corev1.PodSucceeded)
	other := pod("other", corev1.PodRunning)

	p := Decide(Observed{Job: j, Pods: []*corev1.Pod{done, other}, Now: t0})
	if got := p.Status.UncountedTerminatedPods.Succeeded; len(got) != 1 || got[0] != "done" || p.Status.Succeeded != 0 {
		t.Fatalf("phase 1: uncounted %v succeeded %d", got, p.Status.Succeeded)
	}
	if len(p.RemoveFinalizers) != 1 || p.RemoveFinalizers[0] != done {
		t.Fatalf("phase 1 finalizer removal: %v", p.RemoveFinalizers)
	}
	j.Status = *p.Status

	// Crash before the finalizer went: the same pod is neither re-added nor counted.
	p = Decide(Observed{Job: j, Pods: []*corev1.Pod{done, other}, Now: t0})
	if p.Status != nil && (len(p.Status.UncountedTerminatedPods.Succeeded) != 1 || p.Status.Succeeded != 0) {
		t.Fatalf("replay: %+v", p.Status)
	}
	if len(p.RemoveFinalizers) != 1 {
		t.Fatalf("replay must retry the finalizer removal: %v", p.RemoveFinalizers)
	}

	// The finalizer is gone: phase 2 counts it, once.
	untracked(done)
	p = Decide(Observed{Job: j, Pods: []*corev1.Pod{done, other}, Now: t0})
	if p.Status.Succeeded != 1 || len(p.Status.UncountedTerminatedPods.Succeeded) != 0 || len(p.RemoveFinalizers) != 0 {
		t.Fatalf("phase 2: %+v remove %v", p.Status, p.RemoveFinalizers)
	}
	j.Status = *p.Status
	// The pod object is gone too: still counted once.
	p = Decide(Observed{Job: j, Pods: []*corev1.Pod{other}, Now: t0})
	if p.Status != nil && p.Status.Succeeded != 1 {
		t.Fatalf("after pod removal: succeeded %d", p.Status.Succeeded)
	}
}

func TestCompletionWritesInterimThenTerminal(t *testing.T) {
	j := testJob(func(j *batchv1.Job) {
		j.Status.StartTime = &metav1.Time{Time: t0}
		j.Status.UncountedTerminatedPods = &batchv1.UncountedTerminatedPods{Succeeded: []types.UID{"done"}}
	})
	// The recorded pod still has its finalizer: success is met, not yet Complete.
	p := Decide(Observed{Job: j, Pods: []*corev1.Pod{pod("done", corev1.PodSucceeded)}, Now: t0.Add(9 * time.Second)})
	if got := conds(p.Status); len(got) != 1 || got[0] != "SuccessCriteriaMet=True/CompletionsReached" {
		t.Fatalf("interim conditions %v", got)
	}
	j.Status = *p.Status
	p = Decide(Observed{Job: j, Pods: []*corev1.Pod{pod("done", corev1.PodSucceeded, untracked)}, Now: t0.Add(9 * time.Second)})
	got := conds(p.Status)
	if len(got) != 2 || got[1] != "Complete=True/CompletionsReached" || p.Status.Succeeded != 1 ||
		p.Status.CompletionTime == nil || p.Status.CompletionTime.Sub(t0) != 9*time.Second {
		t.Fatalf("terminal: conditions %v status %+v", got, p.Status)
	}
	if len(p.Events) != 1 || p.Events[0].Reason != "Completed" || p.Events[0].Message != "Job completed" {
		t.Errorf("events %v", p.Events)
	}
	// A finished Job only lets finalizers go.
	j.Status = *p.Status
	p = Decide(Observed{Job: j, Pods: []*corev1.Pod{pod("late", corev1.PodFailed)}, Now: t0})
	if p.Status != nil || len(p.Create) != 0 || len(p.RemoveFinalizers) != 1 {
		t.Errorf("finished job plan %+v", p)
	}
}

func TestBackoffLimit(t *testing.T) {
	j := testJob(func(j *batchv1.Job) {
		j.Spec.BackoffLimit = ptr.To[int32](1)
		j.Status.StartTime = &metav1.Time{Time: t0}
		j.Status.Failed = 1
	})
	running := pod("r", corev1.PodRunning)
	p := Decide(Observed{Job: j, Pods: []*corev1.Pod{pod("f2", corev1.PodFailed), running}, Now: t0})
	if got := conds(p.Status); len(got) != 1 || got[0] != "FailureTarget=True/BackoffLimitExceeded" {
		t.Fatalf("conditions %v", got)
	}
	if len(p.DeleteFailed) != 1 || p.DeleteFailed[0] != running || len(p.Create) != 0 {
		t.Errorf("failure must delete the running pod, counted: %+v", p)
	}
	// Once every pod is counted and gone: Failed, with the warning event.
	j.Status = *p.Status
	j.Status.UncountedTerminatedPods = &batchv1.UncountedTerminatedPods{}
	j.Status.Failed = 3
	p = Decide(Observed{Job: j, Now: t0})
	if got := conds(p.Status); len(got) != 2 || got[1] != "Failed=True/BackoffLimitExceeded" || p.Status.CompletionTime != nil {
		t.Fatalf("terminal conditions %v", got)
	}
	if p.Events[0].Type != corev1.EventTypeWarning || p.Events[0].Message != "Job has reached the specified backoff limit" {
		t.Errorf("events %v", p.Events)
	}
}

func TestOnFailureRestartsCountTowardBackoffLimit(t *testing.T) {
	j := testJob(func(j *batchv1.Job) {
		j.Spec.BackoffLimit = ptr.To[int32](2)
		j.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyOnFailure
		j.Status.StartTime = &metav1.Time{Time: t0}
	})
	restarted := func(n int32) func(*corev1.Pod) {
		return func(p *corev1.Pod) {
			p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "pi", RestartCount: n}}
		}
	}
	if p := Decide(Observed{Job: j, Pods: []*corev1.Pod{pod("r", corev1.PodRunning, restarted(1))}, Now: t0}); len(conds(p.Status)) != 0 {
		t.Errorf("1 restart of 2: %v", conds(p.Status))
	}
	if p := Decide(Observed{Job: j, Pods: []*corev1.Pod{pod("r", corev1.PodRunning, restarted(2))}, Now: t0}); len(conds(p.Status)) != 1 {
		t.Errorf("2 restarts of 2: %v", conds(p.Status))
	}
}

func TestActiveDeadline(t *testing.T) {
	j := testJob(func(j *batchv1.Job) {
		j.Spec.ActiveDeadlineSeconds = ptr.To[int64](100)
		j.Status.StartTime = &metav1.Time{Time: t0}
	})
	running := []*corev1.Pod{pod("r", corev1.PodRunning)}
	p := Decide(Observed{Job: j, Pods: running, Now: t0.Add(40 * time.Second)})
	if p.Requeue != 60*time.Second || len(conds(p.Status)) != 0 {
		t.Errorf("before the deadline: requeue %v conditions %v", p.Requeue, conds(p.Status))
	}
	p = Decide(Observed{Job: j, Pods: running, Now: t0.Add(100 * time.Second)})
	if got := conds(p.Status); len(got) != 1 || got[0] != "FailureTarget=True/DeadlineExceeded" || len(p.DeleteFailed) != 1 {
		t.Errorf("at the deadline: %v delete %d", got, len(p.DeleteFailed))
	}
}

func TestSuspendAndResume(t *testing.T) {
	// Created suspended: no pods, no start time, Suspended condition.
	j := testJob(func(j *batchv1.Job) { j.Spec.Suspend = ptr.To(true) })
	p := Decide(Observed{Job: j, Now: t0})
	if len(p.Create) != 0 || p.Status.StartTime != nil || len(p.Events) != 1 || p.Events[0].Reason != "Suspended" {
		t.Fatalf("created suspended: %+v", p)
	}
	if got := conds(p.Status); len(got) != 1 || got[0] != "Suspended=True/JobSuspended" {
		t.Fatalf("conditions %v", got)
	}
	// Suspending a running Job deletes its pods without counting them.
	j.Status = *p.Status
	running := pod("r", corev1.PodRunning)
	j.Spec.Suspend = ptr.To(true)
	j.Status.StartTime = &metav1.Time{Time: t0}
	j.Status.Conditions = nil
	p = Decide(Observed{Job: j, Pods: []*corev1.Pod{running}, Now: t0})
	if len(p.DeleteUncounted) != 1 || len(p.DeleteFailed) != 0 || p.Status.StartTime != nil || *p.Status.Terminating != 1 || p.Status.Active != 0 {
		t.Fatalf("suspend running: %+v", p)
	}
	// Resuming flips the condition, restarts the clock and creates pods.
	j.Status = *p.Status
	j.Spec.Suspend = ptr.To(false)
	p = Decide(Observed{Job: j, Now: t0.Add(time.Minute)})
	if got := conds(p.Status); len(got) != 1 || got[0] != "Suspended=False/JobResumed" || len(p.Create) != 1 ||
		p.Status.StartTime == nil || !p.Status.StartTime.Time.Equal(t0.Add(time.Minute)) || p.Events[0].Reason != "Resumed" {
		t.Fatalf("resume: conditions %v plan %+v", got, p)
	}
}

func TestDeletedRunningPodCountsAsFailedAndIsReplaced(t *testing.T) {
	j := testJob(func(j *batchv1.Job) { j.Status.StartTime = &metav1.Time{Time: t0} })
	p := Decide(Observed{Job: j, Pods: []*corev1.Pod{pod("d", corev1.PodRunning, deleting)}, Now: t0})
	if len(p.Status.UncountedTerminatedPods.Failed) != 1 || len(p.Create) != 1 || *p.Status.Terminating != 1 {
		t.Errorf("TerminatingOrFailed: %+v create %d", p.Status, len(p.Create))
	}
	j.Spec.PodReplacementPolicy = ptr.To(batchv1.Failed)
	p = Decide(Observed{Job: j, Pods: []*corev1.Pod{pod("d", corev1.PodRunning, deleting)}, Now: t0})
	if len(p.Status.UncountedTerminatedPods.Failed) != 0 || *p.Status.Terminating != 1 {
		t.Errorf("Failed policy must wait for the pod to fail: %+v", p.Status)
	}
}

func TestIndexedJob(t *testing.T) {
	j := testJob(func(j *batchv1.Job) {
		j.Spec.CompletionMode = ptr.To(batchv1.IndexedCompletion)
		j.Spec.Completions, j.Spec.Parallelism = ptr.To[int32](3), ptr.To[int32](2)
	})
	p := Decide(Observed{Job: j, Now: t0})
	if len(p.Create) != 2 {
		t.Fatalf("creates %d", len(p.Create))
	}
	first := p.Create[0]
	if first.GenerateName != "pi-0-" || first.Spec.Hostname != "pi-0" || first.Annotations[batchv1.JobCompletionIndexAnnotation] != "0" ||
		first.Labels[batchv1.JobCompletionIndexAnnotation] != "0" || p.Create[1].Spec.Hostname != "pi-1" {
		t.Errorf("indexed pod: %+v", first.ObjectMeta)
	}
	if env := first.Spec.Containers[0].Env; len(env) != 1 || env[0].Name != "JOB_COMPLETION_INDEX" ||
		env[0].ValueFrom.FieldRef.FieldPath != "metadata.labels['batch.kubernetes.io/job-completion-index']" {
		t.Errorf("env %+v", env)
	}
	j.Status.StartTime = &metav1.Time{Time: t0}
	// Index 0 succeeded (recorded straight into completedIndexes), index 1 has two pods.
	p = Decide(Observed{Job: j, Now: t0, Pods: []*corev1.Pod{
		pod("i0", corev1.PodSucceeded, withIndex(0)), pod("i1a", corev1.PodRunning, withIndex(1)), pod("i1b", corev1.PodPending, withIndex(1)),
	}})
	if p.Status.CompletedIndexes != "0" || p.Status.Succeeded != 1 || len(p.Status.UncountedTerminatedPods.Succeeded) != 0 {
		t.Errorf("completed indexes %q succeeded %d", p.Status.CompletedIndexes, p.Status.Succeeded)
	}
	if len(p.DeleteUncounted) != 1 || p.DeleteUncounted[0].Name != "i1b" || len(p.Create) != 0 {
		t.Errorf("duplicate index: delete %v create %d", p.DeleteUncounted, len(p.Create))
	}
	j.Status = *p.Status
	p = Decide(Observed{Job: j, Now: t0, Pods: []*corev1.Pod{pod("i0", corev1.PodSucceeded, withIndex(0), untracked), pod("i1a", corev1.PodRunning, withIndex(1))}})
	if len(p.Create) != 1 || p.Create[0].Spec.Hostname != "pi-2" {
		t.Errorf("next index: %v", p.Create)
	}
}

func TestWorkQueueJob(t *testing.T) {
	j := testJob(func(j *batchv1.Job) {
		j.Spec.Completions, j.Spec.Parallelism = nil, ptr.To[int32](3)
		j.Status.StartTime = &metav1.Time{Time: t0}
	})
	if p := Decide(Observed{Job: j, Now: t0}); len(p.Create) != 3 {
		t.Fatalf("work queue creates %d", len(p.Create))
	}
	// One succeeded: no new pods while the others finish.
	j.Status.Succeeded = 1
	p := Decide(Observed{Job: j, Now: t0, Pods: []*corev1.Pod{pod("a", corev1.PodRunning)}})
	if len(p.Create) != 0 || len(conds(p.Status)) != 0 {
		t.Fatalf("after first success: create %d conditions %v", len(p.Create), conds(p.Status))
	}
	p = Decide(Observed{Job: j, Now: t0})
	if got := conds(p.Status); len(got) != 2 || got[1] != "Complete=True/CompletionsReached" {
		t.Errorf("all done: %v", got)
	}
}

func TestZeroCompletionsCompletesAtOnce(t *testing.T) {
	p := Decide(Observed{Job: testJob(func(j *batchv1.Job) { j.Spec.Completions = ptr.To[int32](0) }), Now: t0})
	if got := conds(p.Status); len(got) != 2 || len(p.Create) != 0 {
		t.Errorf("completions 0: %v create %d", got, len(p.Create))
	}
}

func exited(code int32) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "pi", State: corev1.ContainerState{
			Terminated: &corev1.ContainerStateTerminated{ExitCode: code, FinishedAt: metav1.NewTime(t0)}}}}
	}
}

func TestPodFailurePolicy(t *testing.T) {
	j := testJob(func(j *batchv1.Job) {
		j.Namespace = "ns"
		j.Status.StartTime = &metav1.Time{Time: t0}
		j.Spec.PodReplacementPolicy = ptr.To(batchv1.Failed)
		j.Spec.PodFailurePolicy = &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{
			{Action: batchv1.PodFailurePolicyActionIgnore, OnPodConditions: []batchv1.PodFailurePolicyOnPodConditionsPattern{{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue}}},
			{Action: batchv1.PodFailurePolicyActionFailJob, OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{Operator: "In", Values: []int32{42}}},
			{Action: batchv1.PodFailurePolicyActionCount, OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{Operator: "NotIn", Values: []int32{42}}},
		}}
	})
	ns := func(p *corev1.Pod) { p.Namespace = "ns" }

	// Exit 42 fails the Job at once, whatever the backoff limit.
	p := Decide(Observed{Job: j, Pods: []*corev1.Pod{pod("p42", corev1.PodFailed, ns, exited(42))}, Now: t0.Add(time.Minute)})
	c, ok := hasCond(p.Status, batchv1.JobFailureTarget)
	if !ok || c.Reason != "PodFailurePolicy" || c.Message != "Container pi for pod ns/p42 failed with exit code 42 matching FailJob rule at index 1" {
		t.Fatalf("FailJob: %+v", p.Status.Conditions)
	}
	if len(p.Status.UncountedTerminatedPods.Failed) != 1 {
		t.Errorf("a FailJob pod still counts as failed")
	}

	// A disrupted pod is ignored: not counted, replaced.
	disrupted := pod("evicted", corev1.PodFailed, ns, exited(137), func(p *corev1.Pod) {
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue}}
	})
	p = Decide(Observed{Job: j, Pods: []*corev1.Pod{disrupted}, Now: t0.Add(time.Minute)})
	if len(p.Status.UncountedTerminatedPods.Failed) != 0 || len(p.RemoveFinalizers) != 1 || len(p.Create) != 1 || len(conds(p.Status)) != 0 {
		t.Errorf("Ignore: %+v create %d", p.Status, len(p.Create))
	}

	// Exit 1 counts as usual.
	p = Decide(Observed{Job: j, Pods: []*corev1.Pod{pod("p1", corev1.PodFailed, ns, exited(1))}, Now: t0.Add(time.Minute)})
	if len(p.Status.UncountedTerminatedPods.Failed) != 1 || len(conds(p.Status)) != 0 {
		t.Errorf("Count: %+v", p.Status)
	}
	// With a pod failure policy a deleted pod is not failed until its phase says so.
	p = Decide(Observed{Job: j, Pods: []*corev1.Pod{pod("d", corev1.PodRunning, ns, deleting)}, Now: t0})
	if len(p.Status.UncountedTerminatedPods.Failed) != 0 || *p.Status.Terminating != 1 || len(p.Create) != 0 {
		t.Errorf("terminating with policy: %+v create %d", p.Status, len(p.Create))
	}
}

// A pod deleted while running is recorded as failed; if it then ends
// Succeeded before its finalizer goes (or the server dies in between), it
// stays failed: a UID is never written under both lists (which validation
// refuses, wedging the Job), as upstream's trackJobStatusAndRemoveFinalizers.
func TestPodRecordedFailedThenSucceededIsCountedOnce(t *testing.T) {
	j := testJob(func(j *batchv1.Job) {
		j.Status.StartTime = &metav1.Time{Time: t0}
		j.Status.Active = 1
		j.Status.UncountedTerminatedPods = &batchv1.UncountedTerminatedPods{Failed: []types.UID{"gone"}}
	})
	gone := pod("gone", corev1.PodSucceeded, deleting)
	repl := pod("repl", corev1.PodRunning)

	p := Decide(Observed{Job: j, Pods: []*corev1.Pod{gone, repl}, Now: t0})
	if p.Status != nil {
		if u := p.Status.UncountedTerminatedPods; len(u.Succeeded) != 0 || len(u.Failed) != 1 || u.Failed[0] != "gone" {
			t.Fatalf("uncounted = %+v, want failed [gone] only", u)
		}
		j.Status = *p.Status
	}
	if len(p.RemoveFinalizers) != 1 || p.RemoveFinalizers[0] != gone {
		t.Fatalf("finalizer removal = %v, want [gone]", p.RemoveFinalizers)
	}

	// The finalizer is gone: counted once, as failed; the Job goes on.
	untracked(gone)
	p = Decide(Observed{Job: j, Pods: []*corev1.Pod{gone, repl}, Now: t0})
	if s := p.Status; s.Failed != 1 || s.Succeeded != 0 || len(s.UncountedTerminatedPods.Failed)+len(s.UncountedTerminatedPods.Succeeded) != 0 || s.Active != 1 {
		t.Fatalf("after finalizer removal: %+v", s)
	}
	j.Status = *p.Status
	repl.Status.Phase = corev1.PodSucceeded
	p = Decide(Observed{Job: j, Pods: []*corev1.Pod{gone, repl}, Now: t0})
	if u := p.Status.UncountedTerminatedPods; len(u.Succeeded) != 1 || u.Succeeded[0] != "repl" || len(u.Failed) != 0 {
		t.Fatalf("replacement: uncounted %+v", u)
	}
}

// A status that already lists a UID under both (written by an older batchd)
// is healed: the UID stays under failed only, so the next write is valid and
// the pod is counted once.
func TestDuplicateUncountedUIDIsHealed(t *testing.T) {
	for _, tracked := range []bool{true, false} {
		j := testJob(func(j *batchv1.Job) {
			j.Status.StartTime = &metav1.Time{Time: t0}
			j.Status.Active = 1
			j.Status.UncountedTerminatedPods = &batchv1.UncountedTerminatedPods{
				Succeeded: []types.UID{"gone"}, Failed: []types.UID{"gone"}}
		})
		gone := pod("gone", corev1.PodSucceeded, deleting)
		if !tracked {
			untracked(gone)
		}
		p := Decide(Observed{Job: j, Pods: []*corev1.Pod{gone}, Now: t0})
		if p.Status == nil {
			t.Fatalf("tracked=%v: no status write heals the stored duplicate", tracked)
		}
		s, u := p.Status, p.Status.UncountedTerminatedPods
		if tracked && (len(u.Succeeded) != 0 || len(u.Failed) != 1 || s.Failed != 0 || s.Succeeded != 0) {
			t.Errorf("tracked: status %+v uncounted %+v", s, u)
		}
		if !tracked && (len(u.Succeeded)+len(u.Failed) != 0 || s.Failed != 1 || s.Succeeded != 0) {
			t.Errorf("untracked: status failed=%d succeeded=%d uncounted %+v", s.Failed, s.Succeeded, u)
		}
	}
}

// Upstream e2e "containers restarted by container restart policy should not
// trigger PodFailurePolicy": a container restarted in place by its own
// restartPolicy/restartPolicyRules (pod restartPolicy Never) leaves its pod
// running, so no podFailurePolicy rule looks at it and the restarts are not
// counted against backoffLimit; the Job completes when the pod succeeds.
func TestContainerRestartedInPlaceDoesNotTriggerPodFailurePolicy(t *testing.T) {
	j := testJob(func(j *batchv1.Job) {
		j.Status.StartTime = &metav1.Time{Time: t0}
		j.Spec.BackoffLimit = ptr.To[int32](0)
		j.Spec.PodFailurePolicy = &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{{
			Action:      batchv1.PodFailurePolicyActionFailJob,
			OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{Operator: batchv1.PodFailurePolicyOnExitCodesOpIn, Values: []int32{42}},
		}}}
		c := &j.Spec.Template.Spec.Containers[0]
		c.RestartPolicy = ptr.To(corev1.ContainerRestartPolicyNever)
		c.RestartPolicyRules = []corev1.ContainerRestartRule{{Action: corev1.ContainerRestartRuleActionRestart,
			ExitCodes: &corev1.ContainerRestartRuleOnExitCodes{Operator: corev1.ContainerRestartRuleOnExitCodesOpIn, Values: []int32{42}}}}
	})
	restarted := pod("p", corev1.PodRunning, func(p *corev1.Pod) {
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "pi", RestartCount: 3,
			State:                corev1.ContainerState{Running: &corev1.ContainerStateRunning{}},
			LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 42}}}}
	})
	p := Decide(Observed{Job: j, Pods: []*corev1.Pod{restarted}, Now: t0})
	if p.Status != nil && len(conds(p.Status)) != 0 {
		t.Fatalf("running pod restarted in place: conditions %v", conds(p.Status))
	}
	if len(p.DeleteFailed)+len(p.DeleteUncounted)+len(p.Create) != 0 {
		t.Fatalf("plan touches pods: %+v", p)
	}
	restarted.Status.Phase = corev1.PodSucceeded
	restarted.Status.ContainerStatuses[0].State = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 0}}
	p = Decide(Observed{Job: j, Pods: []*corev1.Pod{restarted}, Now: t0})
	if got := conds(p.Status); len(got) != 1 || got[0] != "SuccessCriteriaMet=True/CompletionsReached" {
		t.Fatalf("after success: conditions %v", got)
	}
}
