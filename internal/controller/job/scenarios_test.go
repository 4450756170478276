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

// world plays the API server and the node for Decide: it carries out each
// plan (deleted pods vanish, created pods get names and UIDs, the status is
// written, finalizers removed), then runs every active pod to the end outcome
// chooses for it, and moves a fake clock past any requeue. It stops when
// the Job has a terminal condition.
type world struct {
	t       *testing.T
	job     *batchv1.Job
	pods    []*corev1.Pod
	now     time.Time
	created int
	events  []Event
	// outcome gives the exit code of a pod (index -1 for NonIndexed Jobs).
	outcome func(p *corev1.Pod, index int) int32
}

func (w *world) run() {
	for step := 0; step < 200; step++ {
		p := Decide(Observed{Job: w.job, Pods: w.pods, Now: w.now})
		w.apply(p)
		if _, ok := hasCond(&w.job.Status, batchv1.JobComplete); ok {
			return
		}
		if _, ok := hasCond(&w.job.Status, batchv1.JobFailed); ok {
			return
		}
		if !w.finishPods() && len(p.Create) == 0 && len(p.DeleteFailed)+len(p.DeleteUncounted) == 0 && p.Status == nil {
			w.now = w.now.Add(max(p.Requeue, time.Second))
		}
	}
	w.t.Fatalf("job did not finish: %+v", w.job.Status)
}

func (w *world) apply(p Plan) {
	var kept []*corev1.Pod
	for _, pod := range w.pods {
		switch {
		case inList(p.DeleteUncounted, pod):
			continue // finalizer removed, then deleted: gone
		case inList(p.DeleteFailed, pod):
			// Killed; it stays, Failed and being deleted, until its finalizer goes.
			pod = pod.DeepCopy()
			pod.DeletionTimestamp = &metav1.Time{Time: w.now}
			pod.Status.Phase = corev1.PodFailed
			pod.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "c", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 137, FinishedAt: metav1.NewTime(w.now)}}}}
		}
		kept = append(kept, pod)
	}
	w.pods = kept
	for _, pod := range p.Create {
		pod = pod.DeepCopy()
		w.created++
		pod.Name = fmt.Sprintf("%s%d", pod.GenerateName, w.created)
		pod.UID = types.UID(pod.Name)
		pod.CreationTimestamp = metav1.NewTime(w.now)
		pod.Status.Phase = corev1.PodRunning
		w.pods = append(w.pods, pod)
	}
	if p.Status != nil {
		w.job.Status = *p.Status
		w.events = append(w.events, p.Events...)
	}
	for _, rm := range p.RemoveFinalizers {
		for k, pod := range w.pods {
			if pod.UID == rm.UID {
				pod = pod.DeepCopy()
				pod.Finalizers = nil
				w.pods[k] = pod
			}
		}
	}
	var left []*corev1.Pod
	for _, pod := range w.pods {
		if pod.DeletionTimestamp == nil || len(pod.Finalizers) > 0 {
			left = append(left, pod)
		}
	}
	w.pods = left
}

// finishPods ends every running pod with its outcome; it reports whether any ended.
func (w *world) finishPods() bool {
	any := false
	for k, pod := range w.pods {
		if pod.Status.Phase != corev1.PodRunning {
			continue
		}
		pod = pod.DeepCopy()
		code := w.outcome(pod, podIndex(pod))
		pod.Status.Phase = corev1.PodSucceeded
		if code != 0 {
			pod.Status.Phase = corev1.PodFailed
		}
		pod.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "c", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: code, FinishedAt: metav1.NewTime(w.now)}}}}
		w.pods[k] = pod
		any = true
	}
	return any
}

func inList(list []*corev1.Pod, p *corev1.Pod) bool {
	for _, x := range list {
		if x == p {
			return true
		}
	}
	return false
}

func indexedJob(completions, parallelism int32, mutate func(*batchv1.Job)) *batchv1.Job {
	return testJob(func(j *batchv1.Job) {
		j.Spec.CompletionMode = ptr.To(batchv1.IndexedCompletion)
		j.Spec.Completions, j.Spec.Parallelism = ptr.To(completions), ptr.To(parallelism)
		if mutate != nil {
			mutate(j)
		}
	})
}

func lastConds(t *testing.T, s batchv1.JobStatus, want ...string) {
	t.Helper()
	got := conds(&s)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("conditions = %v, want %v", got, want)
	}
}

// e2e #10.
func TestWithSuccessPolicyShouldSucceedWhenAllIndexesSucceeded(t *testing.T) {
	w := &world{t: t, now: t0, outcome: func(*corev1.Pod, int) int32 { return 0 }, job: indexedJob(2, 2, func(j *batchv1.Job) {
		j.Spec.SuccessPolicy = &batchv1.SuccessPolicy{Rules: []batchv1.SuccessPolicyRule{{SucceededCount: ptr.To[int32](2)}}}
	})}
	w.run()
	s := w.job.Status
	lastConds(t, s, "SuccessCriteriaMet=True/SuccessPolicy", "Complete=True/SuccessPolicy")
	if s.Conditions[0].Message != "Matched rules at index 0" || s.Active != 0 || *s.Ready != 0 || *s.Terminating != 0 || s.Failed != 0 || s.CompletedIndexes != "0,1" {
		t.Errorf("status %+v", s)
	}
}

// e2e #11: index 0 succeeds at once, the others would run forever.
func TestWithSuccessPolicySucceededIndexesRuleShouldSucceedEvenWhenSomeIndexesRemainPending(t *testing.T) {
	j := indexedJob(5, 2, func(j *batchv1.Job) {
		j.Spec.SuccessPolicy = &batchv1.SuccessPolicy{Rules: []batchv1.SuccessPolicyRule{{SucceededIndexes: ptr.To("0")}}}
	})
	p := Decide(Observed{Job: j, Now: t0})
	j.Status = *p.Status
	pods := []*corev1.Pod{pod("a", corev1.PodSucceeded, withIndex(0)), pod("b", corev1.PodRunning, withIndex(1))}
	p = Decide(Observed{Job: j, Now: t0, Pods: pods})
	lastConds(t, *p.Status, "SuccessCriteriaMet=True/SuccessPolicy")
	if p.Status.CompletedIndexes != "0" || len(p.DeleteUncounted) != 1 || p.DeleteUncounted[0].Name != "b" || len(p.DeleteFailed) != 0 || len(p.Create) != 0 {
		t.Fatalf("plan %+v", p)
	}
	j.Status = *p.Status
	// b is gone (deleted uncounted), a's finalizer removed: Complete.
	p = Decide(Observed{Job: j, Now: t0, Pods: []*corev1.Pod{pod("a", corev1.PodSucceeded, withIndex(0), untracked)}})
	lastConds(t, *p.Status, "SuccessCriteriaMet=True/SuccessPolicy", "Complete=True/SuccessPolicy")
	if p.Status.Failed != 0 || p.Status.CompletionTime == nil {
		t.Errorf("status %+v", p.Status)
	}
}

// e2e #12.
func TestWithSuccessPolicySucceededCountRuleShouldSucceedEvenWhenSomeIndexesRemainPending(t *testing.T) {
	j := indexedJob(5, 2, func(j *batchv1.Job) {
		j.Spec.SuccessPolicy = &batchv1.SuccessPolicy{Rules: []batchv1.SuccessPolicyRule{
			{SucceededIndexes: ptr.To("2-4"), SucceededCount: ptr.To[int32](2)}, {SucceededCount: ptr.To[int32](1)},
		}}
	})
	w := &world{t: t, now: t0, job: j, outcome: func(_ *corev1.Pod, i int) int32 { return map[bool]int32{true: 0, false: 1}[i == 0] }}
	w.run()
	lastConds(t, w.job.Status, "SuccessCriteriaMet=True/SuccessPolicy", "Complete=True/SuccessPolicy")
	if w.job.Status.CompletedIndexes != "0" || w.job.Status.Conditions[0].Message != "Matched rules at index 1" {
		t.Errorf("status %+v", w.job.Status)
	}
}

func TestMatchSuccessPolicy(t *testing.T) {
	rules := func(r ...batchv1.SuccessPolicyRule) *batchv1.SuccessPolicy { return &batchv1.SuccessPolicy{Rules: r} }
	for _, c := range []struct {
		name      string
		sp        *batchv1.SuccessPolicy
		completed Indexes
		want      string
	}{
		{"no index succeeded yet", rules(batchv1.SuccessPolicyRule{SucceededCount: ptr.To[int32](0)}), nil, ""},
		{"count reached", rules(batchv1.SuccessPolicyRule{SucceededCount: ptr.To[int32](2)}), Indexes{3, 7}, "Matched rules at index 0"},
		{"count short", rules(batchv1.SuccessPolicyRule{SucceededCount: ptr.To[int32](3)}), Indexes{3, 7}, ""},
		{"all listed", rules(batchv1.SuccessPolicyRule{SucceededIndexes: ptr.To("1,3-4")}), Indexes{1, 3, 4}, "Matched rules at index 0"},
		{"listed missing one", rules(batchv1.SuccessPolicyRule{SucceededIndexes: ptr.To("1,3-4")}), Indexes{1, 4, 5}, ""},
		{"count of listed", rules(batchv1.SuccessPolicyRule{SucceededIndexes: ptr.To("1,3-4"), SucceededCount: ptr.To[int32](2)}), Indexes{1, 4, 5}, "Matched rules at index 0"},
		{"second rule", rules(batchv1.SuccessPolicyRule{SucceededIndexes: ptr.To("9")}, batchv1.SuccessPolicyRule{SucceededCount: ptr.To[int32](1)}), Indexes{2}, "Matched rules at index 1"},
	} {
		msg, _ := matchSuccessPolicy(c.sp, 10, c.completed)
		if msg != c.want {
			t.Errorf("%s: %q, want %q", c.name, msg, c.want)
		}
	}
}

func perIndexJob(completions, parallelism, limit int32, mutate func(*batchv1.Job)) *batchv1.Job {
	return indexedJob(completions, parallelism, func(j *batchv1.Job) {
		j.Spec.BackoffLimitPerIndex = ptr.To(limit)
		j.Spec.BackoffLimit = ptr.To[int32](2147483647)
		if mutate != nil {
			mutate(j)
		}
	})
}

// e2e #13: odd indexes always fail, each is tried twice.
func TestShouldExecuteAllIndexesDespiteSomeFailingWhenUsingBackoffLimitPerIndex(t *testing.T) {
	w := &world{t: t, now: t0, job: perIndexJob(4, 2, 1, nil), outcome: func(_ *corev1.Pod, i int) int32 { return int32(i % 2) }}
	w.run()
	s := w.job.Status
	lastConds(t, s, "FailureTarget=True/FailedIndexes", "Failed=True/FailedIndexes")
	if ptr.Deref(s.FailedIndexes, "?") != "1,3" || s.CompletedIndexes != "0,2" || s.Failed != 4 || s.Succeeded != 2 || s.Conditions[0].Message != MessageFailedIndexes {
		t.Errorf("status %+v", s)
	}
	// The retry of an index waited for its 10 s backoff.
	if elapsed := w.now.Sub(t0); elapsed < 10*time.Second {
		t.Errorf("finished after %v: per-index backoff not applied", elapsed)
	}
}

// e2e #14.
func TestShouldTerminateJobExecutionWhenTheNumberOfFailedIndexesExceedsMaxFailedIndexes(t *testing.T) {
	w := &world{t: t, now: t0, job: perIndexJob(4, 1, 0, func(j *batchv1.Job) { j.Spec.MaxFailedIndexes = ptr.To[int32](0) }),
		outcome: func(*corev1.Pod, int) int32 { return 1 }}
	w.run()
	s := w.job.Status
	lastConds(t, s, "FailureTarget=True/MaxFailedIndexesExceeded", "Failed=True/MaxFailedIndexesExceeded")
	if ptr.Deref(s.FailedIndexes, "?") != "0" || s.Failed != 1 || w.created != 1 || s.Conditions[1].Message != MessageMaxFailedIndexesExceeded {
		t.Errorf("status %+v, %d pods", s, w.created)
	}
}

// e2e #15: every pod carries its index's failure count.
func TestShouldRecordTheFailureCountInThePodAnnotationWhenUsingBackoffLimitPerIndex(t *testing.T) {
	seen := map[int][]string{}
	w := &world{t: t, now: t0, job: perIndexJob(2, 2, 1, nil), outcome: func(p *corev1.Pod, i int) int32 {
		seen[i] = append(seen[i], p.Annotations[batchv1.JobIndexFailureCountAnnotation])
		return 1
	}}
	w.run()
	s := w.job.Status
	if fmt.Sprint(seen) != "map[0:[0 1] 1:[0 1]]" || ptr.Deref(s.FailedIndexes, "?") != "0,1" || s.Failed != 4 {
		t.Errorf("annotations %v, status %+v", seen, s)
	}
	lastConds(t, s, "FailureTarget=True/FailedIndexes", "Failed=True/FailedIndexes")
}

// e2e #16.
func TestShouldMarkIndexesAsFailedWhenTheFailIndexActionIsMatchedInPodFailurePolicy(t *testing.T) {
	w := &world{t: t, now: t0, job: perIndexJob(2, 2, 1, func(j *batchv1.Job) {
		j.Spec.PodFailurePolicy = &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{{
			Action:      batchv1.PodFailurePolicyActionFailIndex,
			OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{Operator: batchv1.PodFailurePolicyOnExitCodesOpIn, Values: []int32{1}},
		}}}
	}), outcome: func(_ *corev1.Pod, i int) int32 { return int32(i) }}
	w.run()
	s := w.job.Status
	if ptr.Deref(s.FailedIndexes, "?") != "1" || s.CompletedIndexes != "0" || s.Failed != 1 || s.Succeeded != 1 || w.created != 2 {
		t.Errorf("status %+v, %d pods", s, w.created)
	}
}

// An ignored failure retries the index, counted in the ignored annotation.
func TestIgnoredFailuresCountApartPerIndex(t *testing.T) {
	var ignoredSeen []string
	w := &world{t: t, now: t0, job: perIndexJob(1, 1, 0, func(j *batchv1.Job) {
		j.Spec.PodFailurePolicy = &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{{
			Action:      batchv1.PodFailurePolicyActionIgnore,
			OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{Operator: batchv1.PodFailurePolicyOnExitCodesOpIn, Values: []int32{42}},
		}}}
	}), outcome: func(p *corev1.Pod, _ int) int32 {
		ignoredSeen = append(ignoredSeen, p.Annotations[batchv1.JobIndexFailureCountAnnotation]+"/"+p.Annotations[batchv1.JobIndexIgnoredFailureCountAnnotation])
		if len(ignoredSeen) < 3 {
			return 42
		}
		return 0
	}}
	w.run()
	lastConds(t, w.job.Status, "SuccessCriteriaMet=True/CompletionsReached", "Complete=True/CompletionsReached")
	if fmt.Sprint(ignoredSeen) != "[0/ 0/1 0/2]" || w.job.Status.Failed != 0 {
		t.Errorf("annotations %v, failed %d", ignoredSeen, w.job.Status.Failed)
	}
}

func TestTooManySucceededPodsEvent(t *testing.T) {
	j := testJob(nil)
	j.Status.StartTime = &metav1.Time{Time: t0}
	p := Decide(Observed{Job: j, Now: t0, Pods: []*corev1.Pod{pod("a", corev1.PodSucceeded), pod("b", corev1.PodSucceeded)}})
	if len(p.Events) != 0 {
		t.Fatalf("events before the terminal condition: %+v", p.Events)
	}
	j.Status = *p.Status
	p = Decide(Observed{Job: j, Now: t0, Pods: []*corev1.Pod{pod("a", corev1.PodSucceeded, untracked), pod("b", corev1.PodSucceeded, untracked)}})
	lastConds(t, *p.Status, "SuccessCriteriaMet=True/CompletionsReached", "Complete=True/CompletionsReached")
	found := false
	for _, e := range p.Events {
		found = found || (e.Reason == "TooManySucceededPods" && e.Type == corev1.EventTypeWarning && e.Message == "Too many succeeded pods running after completion count reached")
	}
	if !found {
		t.Errorf("events %+v", p.Events)
	}
}
