// Package history is the run-history controller: it keeps one JobRun
// (batchd.dev/v1alpha1) per Job ever created, and one per CronJob slot
// that started none, and deletes them (and their kept logs) after the
// retention period or beyond the last N of a CronJob.
//
// decide.go is pure: Job + its pods + the attempts seen since the last write
// + the stored record + now → the record to write; runs + live Jobs + now →
// the runs to delete. controller.go observes and applies. README.md has the
// decision table.
//
// The record is rebuilt from the API after a restart: every Job is synced
// at start, records of running Jobs that are gone become Deleted, and names
// are deterministic (the Job's; a skipped slot's is the name its Job would
// have had), so a crash can neither lose nor duplicate a record. The only
// memory is the attempts seen in pod updates and not yet written (every
// in-place restart of an OnFailure pod shows its previous run only until
// the next one): after a crash they are read again from the pods where
// they still exist.
//
// The history's write must not slow the Job path: a Job's first record
// waits while the Job has nothing to record (not started, no pod attempt,
// not finished or deleted — a suspended Job, say) until no Job or pod
// changed for a second, written at 10/s meanwhile. A crash while it waits
// loses nothing (the Job is there to rebuild it from); a Job deleted while
// it waits is recorded as deleted from its last state.
package history

import (
	"fmt"
	"sort"
	"strconv"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/batchd/batchd/internal/apis/batchd/v1alpha1"
	"github.com/batchd/batchd/internal/controller/cronjob"
	"github.com/batchd/batchd/internal/cronspec"
)

// Upstream's annotation of an Indexed Job's pod.
const completionIndexAnnotation = "batch.kubernetes.io/job-completion-index"

// Observed is what Decide looks at for one Job name.
type Observed struct {
	// Job is the Job of that name, nil once it is gone.
	Job *batchv1.Job
	// Pods are the Job's pods that exist.
	Pods []*corev1.Pod
	// Seen are attempts seen in pod updates since the last write.
	Seen []v1alpha1.Attempt
	// Run is the stored record of that name, nil if none.
	Run *v1alpha1.JobRun
	Now time.Time
}

// Plan is what to write for one Job name.
type Plan struct {
	// Write is the record to create (Run was nil) or update; nil: unchanged.
	Write *v1alpha1.JobRun
	// Archive keeps the record of an earlier Job of the same name (deleted
	// and created again) under another name before Write replaces it.
	Archive *v1alpha1.JobRun
	// Lazy says Write is the first record of a Job that has nothing to
	// record yet: not started (no startTime, no pod attempt), not finished,
	// not deleted — a suspended Job, or one whose controller has not
	// synced it. Such a write may wait until the Job path is quiet: the Job
	// is in the API meanwhile, and a restart rebuilds the record from it.
	Lazy bool
}

// Decide computes the record of a Job name.
func Decide(o Observed) Plan {
	run := o.Run
	if o.Job == nil {
		// Gone: a run that had not finished was deleted while running.
		if run == nil || run.Status.Outcome != v1alpha1.OutcomeRunning {
			return Plan{}
		}
		next := run.DeepCopy()
		next.Status.Attempts = MergeAttempts(run.Status.Attempts, o.Seen, attemptsOf(o.Pods, run.Spec.JobUID))
		capAttempts(&next.Status, run.Status.OmittedAttempts)
		next.Status.Outcome = v1alpha1.OutcomeDeleted
		next.Status.Reason = "JobDeleted"
		next.Status.Message = "the Job was deleted before it finished"
		next.Status.CompletionTime = &metav1.Time{Time: o.Now.Truncate(time.Second)}
		return Plan{Write: next}
	}
	var p Plan
	var prev []v1alpha1.Attempt
	var omitted int32
	if run != nil && run.Spec.JobUID == o.Job.UID {
		prev, omitted = run.Status.Attempts, run.Status.OmittedAttempts
	} else if run != nil && run.Status.Outcome != v1alpha1.OutcomeSkipped {
		p.Archive = Archived(run)
	}
	next := ForJob(o.Job)
	next.Status.Attempts = MergeAttempts(prev, o.Seen, attemptsOf(o.Pods, o.Job.UID))
	capAttempts(&next.Status, omitted)
	if o.Job.DeletionTimestamp != nil && next.Status.Outcome == v1alpha1.OutcomeRunning {
		next.Status.Outcome = v1alpha1.OutcomeDeleted
		next.Status.Reason = "JobDeleted"
		next.Status.Message = "the Job was deleted before it finished"
		next.Status.CompletionTime = o.Job.DeletionTimestamp.DeepCopy()
	}
	if run == nil {
		p.Lazy = next.Status.Outcome == v1alpha1.OutcomeRunning &&
			next.Status.StartTime == nil && len(next.Status.Attempts) == 0
	} else {
		next.ResourceVersion = run.ResourceVersion
		if apiequality.Semantic.DeepEqual(next.Spec, run.Spec) && apiequality.Semantic.DeepEqual(next.Status, run.Status) &&
			apiequality.Semantic.DeepEqual(next.Labels, run.Labels) {
			return Plan{}
		}
		next.UID = run.UID
	}
	p.Write = next
	return p
}

// Archived is the record of an earlier Job of the same name, renamed
// <name>-<its Job's UID prefix> so that the new Job's record takes the name.
func Archived(run *v1alpha1.JobRun) *v1alpha1.JobRun {
	a := run.DeepCopy()
	suffix := string(run.Spec.JobUID)
	if len(suffix) > 8 {
		suffix = suffix[:8]
	}
	a.ObjectMeta = metav1.ObjectMeta{Name: run.Name + "-" + suffix, Namespace: run.Namespace, Labels: run.Labels, Annotations: run.Annotations}
	if a.Status.Outcome == v1alpha1.OutcomeRunning {
		a.Status.Outcome = v1alpha1.OutcomeDeleted
		a.Status.Reason = "JobDeleted"
	}
	return a
}

// ForJob is a Job's record without attempts.
func ForJob(j *batchv1.Job) *v1alpha1.JobRun {
	r := &v1alpha1.JobRun{
		ObjectMeta: metav1.ObjectMeta{Name: j.Name, Namespace: j.Namespace, Labels: map[string]string{}},
		Spec:       v1alpha1.JobRunSpec{JobName: j.Name, JobUID: j.UID, Completions: j.Spec.Completions, Parallelism: j.Spec.Parallelism},
		Status: v1alpha1.JobRunStatus{
			Outcome:      v1alpha1.OutcomeRunning,
			CreationTime: j.CreationTimestamp.DeepCopy(),
			StartTime:    j.Status.StartTime.DeepCopy(),
			Succeeded:    j.Status.Succeeded,
			Failed:       j.Status.Failed,
		},
	}
	if r.Status.CreationTime.IsZero() {
		r.Status.CreationTime = nil
	}
	for k, v := range j.Labels {
		r.Labels[k] = v
	}
	if ref := metav1.GetControllerOf(j); ref != nil && ref.Kind == "CronJob" {
		r.Spec.CronJobName, r.Spec.CronJobUID = ref.Name, ref.UID
		r.Labels[v1alpha1.CronJobNameLabel] = ref.Name
	}
	if t, err := time.Parse(time.RFC3339, j.Annotations[cronjob.ScheduledTimestampAnnotation]); err == nil {
		r.Spec.ScheduledTime = &metav1.Time{Time: t}
	}
	if len(r.Labels) == 0 {
		r.Labels = nil
	}
	for _, c := range j.Status.Conditions {
		if c.Status != corev1.ConditionTrue {
			continue
		}
		switch c.Type {
		case batchv1.JobComplete:
			r.Status.Outcome = v1alpha1.OutcomeSucceeded
			r.Status.Reason, r.Status.Message = c.Reason, c.Message
			r.Status.CompletionTime = j.Status.CompletionTime.DeepCopy()
			if r.Status.CompletionTime == nil {
				r.Status.CompletionTime = c.LastTransitionTime.DeepCopy()
			}
		case batchv1.JobFailed:
			r.Status.Outcome = v1alpha1.OutcomeFailed
			r.Status.Reason, r.Status.Message = c.Reason, c.Message
			r.Status.CompletionTime = c.LastTransitionTime.DeepCopy()
		}
	}
	return r
}

// Skipped is the record of a CronJob slot that started no Job.
func Skipped(cj *batchv1.CronJob, s cronjob.Skip, now time.Time) *v1alpha1.JobRun {
	labels := map[string]string{}
	for k, v := range cj.Spec.JobTemplate.Labels {
		labels[k] = v
	}
	labels[v1alpha1.CronJobNameLabel] = cj.Name
	slot := metav1.NewTime(s.Slot)
	at := metav1.NewTime(now.Truncate(time.Second))
	r := &v1alpha1.JobRun{
		ObjectMeta: metav1.ObjectMeta{Name: s.Name, Namespace: cj.Namespace, Labels: labels},
		Spec:       v1alpha1.JobRunSpec{CronJobName: cj.Name, CronJobUID: cj.UID, ScheduledTime: &slot},
		Status: v1alpha1.JobRunStatus{Outcome: v1alpha1.OutcomeSkipped, Reason: SkipReason(s), Message: s.Message,
			CreationTime: &at, CompletionTime: &at},
	}
	if s.Count > 1 {
		r.Status.Message = fmt.Sprintf("%d slots: %s", s.Count, s.Message)
	}
	return r
}

// SkipReason is a skip's reason in the record (CamelCase, as event reasons).
func SkipReason(s cronjob.Skip) string {
	switch s.Reason {
	case cronjob.MissedForbid:
		return v1alpha1.SkipJobAlreadyActive
	case cronjob.MissedSuspended:
		return v1alpha1.SkipSuspended
	case cronjob.MissedDeadline:
		return v1alpha1.SkipDeadlineExceeded
	case cronjob.MissedTooMany:
		return v1alpha1.SkipTooManyMissedTimes
	case cronjob.MissedCatchUp:
		if s.CatchUp == cronspec.CatchUpNone {
			return v1alpha1.SkipCatchUpNone
		}
		return v1alpha1.SkipCatchUpLatest
	}
	return s.Reason
}

// attemptsOf lists the container runs the pods of job uid show.
func attemptsOf(pods []*corev1.Pod, job types.UID) []v1alpha1.Attempt {
	var out []v1alpha1.Attempt
	for _, p := range pods {
		if ref := metav1.GetControllerOf(p); ref == nil || ref.UID != job {
			continue
		}
		out = append(out, PodAttempts(p)...)
	}
	return out
}

// PodAttempts lists the container runs a pod's status shows: each
// container's current run and its previous one (lastState), and, for runs
// before those that were never seen, an entry with the attempt number only.
func PodAttempts(p *corev1.Pod) []v1alpha1.Attempt {
	var index *int32
	if v, ok := p.Annotations[completionIndexAnnotation]; ok {
		if n, err := strconv.ParseInt(v, 10, 32); err == nil {
			i := int32(n)
			index = &i
		}
	}
	var out []v1alpha1.Attempt
	base := v1alpha1.Attempt{PodName: p.Name, PodUID: p.UID, NodeName: p.Spec.NodeName, Index: index}
	for _, list := range [][]corev1.ContainerStatus{p.Status.InitContainerStatuses, p.Status.ContainerStatuses} {
		for _, cs := range list {
			n := cs.RestartCount
			cur, ok := fromState(base, cs.Name, n, cs.State)
			if ok {
				out = append(out, cur)
			}
			if prev, ok := fromState(base, cs.Name, n-1, cs.LastTerminationState); ok && n > 0 {
				out = append(out, prev)
			}
			for i := int32(0); i < n-1; i++ {
				a := base
				a.Container, a.Attempt = cs.Name, i
				out = append(out, a)
			}
		}
	}
	return out
}

func fromState(base v1alpha1.Attempt, container string, n int32, s corev1.ContainerState) (v1alpha1.Attempt, bool) {
	a := base
	a.Container, a.Attempt = container, n
	switch {
	case s.Terminated != nil:
		t := s.Terminated
		code := t.ExitCode
		a.ExitCode, a.Signal, a.Reason, a.Message = &code, t.Signal, t.Reason, t.Message
		if !t.StartedAt.IsZero() {
			a.StartTime = t.StartedAt.DeepCopy()
		}
		if !t.FinishedAt.IsZero() {
			a.FinishTime = t.FinishedAt.DeepCopy()
		}
		return a, true
	case s.Running != nil:
		if !s.Running.StartedAt.IsZero() {
			a.StartTime = s.Running.StartedAt.DeepCopy()
		}
		return a, true
	}
	return a, false
}

type attemptKey struct {
	pod       types.UID
	container string
	attempt   int32
}

// MergeAttempts merges attempt lists, keeping per (pod, container,
// attempt) the most complete entry, and orders them: pods by their first
// start (then name), containers by name, attempts by number.
func MergeAttempts(lists ...[]v1alpha1.Attempt) []v1alpha1.Attempt {
	byKey := map[attemptKey]v1alpha1.Attempt{}
	for _, l := range lists {
		for _, a := range l {
			k := attemptKey{a.PodUID, a.Container, a.Attempt}
			if old, ok := byKey[k]; !ok || detail(a) >= detail(old) {
				byKey[k] = a
			}
		}
	}
	if len(byKey) == 0 {
		return nil
	}
	first := map[types.UID]time.Time{}
	out := make([]v1alpha1.Attempt, 0, len(byKey))
	for _, a := range byKey {
		out = append(out, a)
		if a.StartTime != nil {
			if t, ok := first[a.PodUID]; !ok || a.StartTime.Time.Before(t) {
				first[a.PodUID] = a.StartTime.Time
			}
		}
	}
	far := time.Unix(1<<40, 0)
	start := func(a v1alpha1.Attempt) time.Time {
		if t, ok := first[a.PodUID]; ok {
			return t
		}
		return far
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if sa, sb := start(a), start(b); !sa.Equal(sb) {
			return sa.Before(sb)
		}
		if a.PodName != b.PodName {
			return a.PodName < b.PodName
		}
		if a.PodUID != b.PodUID {
			return a.PodUID < b.PodUID
		}
		if a.Container != b.Container {
			return a.Container < b.Container
		}
		return a.Attempt < b.Attempt
	})
	return out
}

// MaxAttempts bounds the attempts of one record: 500 entries are about
// 200 KB, well within etcd's 1.5 MiB per object, for Indexed Jobs of
// thousands of pods.
const MaxAttempts = 500

// capAttempts leaves out the earliest successful attempts, then the
// earliest others, beyond MaxAttempts, counting them.
func capAttempts(st *v1alpha1.JobRunStatus, omitted int32) {
	st.OmittedAttempts = omitted
	over := len(st.Attempts) - MaxAttempts
	if over <= 0 {
		return
	}
	st.OmittedAttempts += int32(over)
	drop := map[int]bool{}
	for i, a := range st.Attempts {
		if len(drop) == over {
			break
		}
		if a.ExitCode != nil && *a.ExitCode == 0 {
			drop[i] = true
		}
	}
	for i := 0; len(drop) < over; i++ {
		drop[i] = true
	}
	kept := make([]v1alpha1.Attempt, 0, MaxAttempts)
	for i, a := range st.Attempts {
		if !drop[i] {
			kept = append(kept, a)
		}
	}
	st.Attempts = kept
}

// detail ranks how much an entry knows: finished > running > number only.
func detail(a v1alpha1.Attempt) int {
	switch {
	case a.ExitCode != nil:
		return 2
	case a.StartTime != nil:
		return 1
	}
	return 0
}

// Retention bounds the history.
type Retention struct {
	// Age is how long a record is kept after its run ended (0: forever).
	Age time.Duration
	// PerCronJob is how many records of a CronJob are kept, newest first (0: all).
	PerCronJob int
}

// Expired lists the records to delete: ended longer than Age ago, or older
// than a CronJob's last PerCronJob. A record whose Job still exists is
// kept: it would be written again at once.
func Expired(runs []*v1alpha1.JobRun, live map[types.UID]bool, r Retention, now time.Time) []*v1alpha1.JobRun {
	var out []*v1alpha1.JobRun
	gone := map[types.UID]bool{}
	expire := func(run *v1alpha1.JobRun) {
		if !gone[run.UID] && !(run.Spec.JobUID != "" && live[run.Spec.JobUID]) {
			gone[run.UID] = true
			out = append(out, run)
		}
	}
	byCron := map[string][]*v1alpha1.JobRun{}
	for _, run := range runs {
		if r.Age > 0 && run.Status.Outcome != v1alpha1.OutcomeRunning && !Ended(run).Add(r.Age).After(now) {
			expire(run)
		}
		if run.Spec.CronJobName != "" {
			k := run.Namespace + "/" + run.Spec.CronJobName
			byCron[k] = append(byCron[k], run)
		}
	}
	if r.PerCronJob > 0 {
		keys := make([]string, 0, len(byCron))
		for k := range byCron {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			list := byCron[k]
			if len(list) <= r.PerCronJob {
				continue
			}
			sort.Slice(list, func(i, j int) bool {
				a, b := slotOf(list[i]), slotOf(list[j])
				if !a.Equal(b) {
					return a.After(b)
				}
				return list[i].Name > list[j].Name
			})
			for _, run := range list[r.PerCronJob:] {
				expire(run)
			}
		}
	}
	return out
}

// Ended is when a run ended (or was last known of).
func Ended(r *v1alpha1.JobRun) time.Time {
	switch {
	case r.Status.CompletionTime != nil:
		return r.Status.CompletionTime.Time
	case r.Status.CreationTime != nil:
		return r.Status.CreationTime.Time
	}
	return r.CreationTimestamp.Time
}

func slotOf(r *v1alpha1.JobRun) time.Time {
	if r.Spec.ScheduledTime != nil {
		return r.Spec.ScheduledTime.Time
	}
	if r.Status.CreationTime != nil {
		return r.Status.CreationTime.Time
	}
	return r.CreationTimestamp.Time
}
