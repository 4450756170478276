// Package job is the Job controller's decision core: Decide computes, from a
// Job, the pods it owns and the time, which pods to create and delete, which
// finalizers to remove and the status to write — with upstream's semantics for
// NonIndexed and Indexed Jobs, parallelism, backoffLimit (Never and
// OnFailure), backoffLimitPerIndex and maxFailedIndexes, podFailurePolicy,
// successPolicy, activeDeadlineSeconds, suspend/resume, the
// interim-then-terminal conditions and the pod re-creation backoff.
// claim.go adopts and releases pods by selector, controller.go observes,
// apply.go acts, metrics.go counts.
//
// Counting is crash-safe in two phases, as upstream's tracking finalizer
// intends: a finished pod is first recorded in status.uncountedTerminatedPods
// (Indexed successes: in completedIndexes), and only after that status is
// written is its finalizer removed; a later sync moves recorded pods whose
// finalizer is gone into the succeeded/failed counters. Whatever step a crash
// interrupts, no pod is counted twice or lost.
package job

import (
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

// Condition reasons and messages (spec §2.1) and event reasons (§3.15).
const (
	ReasonCompletionsReached   = "CompletionsReached"
	MessageCompletionsReached  = "Reached expected number of succeeded pods"
	ReasonBackoffLimitExceeded = "BackoffLimitExceeded"
	MessageBackoffLimit        = "Job has reached the specified backoff limit"
	ReasonDeadlineExceeded     = "DeadlineExceeded"
	MessageDeadline            = "Job was active longer than specified deadline"
	ReasonSuspended            = "JobSuspended"
	ReasonResumed              = "JobResumed"

	EventCompleted               = "Completed"
	EventTooManySucceededPods    = "TooManySucceededPods"
	EventUnknownCompletionMode   = "UnknownCompletionMode"
	MessageUnknownCompletionMode = "Skipped Job sync because completion mode is unknown"
	MessageTooManySucceededPods  = "Too many succeeded pods running after completion count reached"
	EventSuspended               = "Suspended"
	EventResumed                 = "Resumed"

	// MaxPodsPerSync caps creates and deletes in one sync.
	MaxPodsPerSync = 500
)

// Event is a Kubernetes event to record against the Job.
type Event struct{ Type, Reason, Message string }

// Observed is everything Decide looks at.
type Observed struct {
	Job  *batchv1.Job
	Pods []*corev1.Pod // pods the Job controls
	Now  time.Time
	// Unsynced is true while earlier creates or deletes are not yet visible
	// in Pods: no pods are created or deleted then, so counts never overshoot.
	Unsynced bool
}

// Plan is what the controller should do, in this order: delete, create, write
// Status (if not nil), then remove the tracking finalizer from RemoveFinalizers.
type Plan struct {
	// DeleteUncounted are removed without being counted (suspend, scale-down):
	// their finalizer goes first, then the pod.
	DeleteUncounted []*corev1.Pod
	// DeleteFailed are deleted keeping their finalizer, to be counted as failed.
	DeleteFailed []*corev1.Pod
	// Create holds pods to create (generateName set).
	Create []*corev1.Pod
	// Status is the status to write, or nil when unchanged.
	Status *batchv1.JobStatus
	// RemoveFinalizers lists pods whose tracking finalizer may go once Status is written.
	RemoveFinalizers []*corev1.Pod
	Events           []Event
	// Requeue asks for another look after this long (e.g. the active deadline).
	Requeue time.Duration
}

func isFinished(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
}

func hasCond(s *batchv1.JobStatus, t batchv1.JobConditionType) (*batchv1.JobCondition, bool) {
	for i := range s.Conditions {
		if s.Conditions[i].Type == t && s.Conditions[i].Status == corev1.ConditionTrue {
			return &s.Conditions[i], true
		}
	}
	return nil, false
}

// podFailed applies upstream's isPodFailed for the TerminatingOrFailed policy:
// a pod being deleted before it succeeded counts as failed.
func podFailed(j *batchv1.Job, p *corev1.Pod) bool {
	if p.Status.Phase == corev1.PodFailed {
		return true
	}
	if ptr.Deref(j.Spec.PodReplacementPolicy, batchv1.TerminatingOrFailed) == batchv1.Failed || j.Spec.PodFailurePolicy != nil {
		return false
	}
	return p.DeletionTimestamp != nil && p.Status.Phase != corev1.PodSucceeded
}

// Decide computes the plan for one sync.
func Decide(o Observed) Plan {
	j := o.Job
	var p Plan
	status := j.Status.DeepCopy()
	now := metav1.NewTime(o.Now)
	if j.DeletionTimestamp != nil {
		// Being deleted: every pod may go, so every tracking finalizer goes.
		for _, pod := range o.Pods {
			if hasString(pod.Finalizers, TrackingFinalizer) {
				p.RemoveFinalizers = append(p.RemoveFinalizers, pod)
			}
		}
		return p
	}
	if finished(status) {
		return finishedCleanup(o)
	}
	if m := ptr.Deref(j.Spec.CompletionMode, batchv1.NonIndexedCompletion); m != batchv1.NonIndexedCompletion && m != batchv1.IndexedCompletion {
		p.Events = append(p.Events, Event{corev1.EventTypeWarning, EventUnknownCompletionMode, MessageUnknownCompletionMode})
		return p
	}
	indexed := ptr.Deref(j.Spec.CompletionMode, batchv1.NonIndexedCompletion) == batchv1.IndexedCompletion
	completions := int(ptr.Deref(j.Spec.Completions, -1))
	if status.UncountedTerminatedPods == nil {
		status.UncountedTerminatedPods = &batchv1.UncountedTerminatedPods{}
	}
	uncounted := status.UncountedTerminatedPods

	// Phase 2 of counting: recorded pods whose finalizer is gone are counted.
	byUID := map[types.UID]*corev1.Pod{}
	for _, pod := range o.Pods {
		byUID[pod.UID] = pod
	}
	settled := func(uid types.UID) bool {
		pod, ok := byUID[uid]
		return !ok || !hasString(pod.Finalizers, TrackingFinalizer)
	}
	// A UID recorded under both lists (batchd before this rule could write
	// it; validation refuses every later write of such a status, which wedged
	// the Job) is failed only: failed is where it went first, when the pod
	// was deleted while running and a replacement was made for it.
	uncounted.Succeeded = withoutUIDs(uncounted.Succeeded, uncounted.Failed)
	uncounted.Succeeded, status.Succeeded = settle(uncounted.Succeeded, settled, status.Succeeded)
	uncounted.Failed, status.Failed = settle(uncounted.Failed, settled, status.Failed)

	// Phase 1: record newly finished pods; their finalizers may go once recorded.
	completed := Indexes(nil)
	var idx *perIndex // set for Indexed Jobs with backoffLimitPerIndex
	if indexed {
		completed = ParseIndexes(status.CompletedIndexes, completions)
		for _, pod := range o.Pods {
			if i := podIndex(pod); pod.Status.Phase == corev1.PodSucceeded && hasString(pod.Finalizers, TrackingFinalizer) && i >= 0 && i < completions {
				completed = completed.With(i)
			}
		}
		if j.Spec.BackoffLimitPerIndex != nil {
			idx = newPerIndex(j, o.Pods, completions, completed)
		}
	}
	var active, terminating, held []*corev1.Pod
	var failJob *batchv1.JobCondition // the first podFailurePolicy FailJob match
	ready := int32(0)
	restarts := int32(0)
	// recordFailed records a failed pod unless an Ignore rule matched.
	recordFailed := func(pod *corev1.Pod) {
		action, _ := matchFailurePolicy(j.Spec.PodFailurePolicy, pod)
		if (action == nil || *action != batchv1.PodFailurePolicyActionIgnore) && !containsUID(uncounted.Failed, pod.UID) {
			uncounted.Failed = append(uncounted.Failed, pod.UID)
		}
		p.RemoveFinalizers = append(p.RemoveFinalizers, pod)
	}
	for _, pod := range o.Pods {
		tracked := hasString(pod.Finalizers, TrackingFinalizer)
		switch {
		case pod.Status.Phase == corev1.PodSucceeded:
			if tracked {
				// As upstream's trackJobStatusAndRemoveFinalizers: a pod
				// already recorded as failed (deleted while running, then
				// ended Succeeded) stays failed; a UID is never in both lists.
				if !indexed && !containsUID(uncounted.Succeeded, pod.UID) && !containsUID(uncounted.Failed, pod.UID) {
					uncounted.Succeeded = append(uncounted.Succeeded, pod.UID)
				}
				p.RemoveFinalizers = append(p.RemoveFinalizers, pod)
			}
		case podFailed(j, pod):
			if tracked {
				action, msg := matchFailurePolicy(j.Spec.PodFailurePolicy, pod)
				if action != nil && *action == batchv1.PodFailurePolicyActionFailJob && failJob == nil {
					failJob = newCond(batchv1.JobFailureTarget, ReasonPodFailurePolicy, msg, now)
				}
				if idx != nil && idx.held(pod) {
					// Its replacement inherits its counts: keep it until that exists.
					held = append(held, pod)
				} else {
					recordFailed(pod)
				}
			}
			if !isFinished(pod) {
				terminating = append(terminating, pod)
			}
		case pod.DeletionTimestamp != nil:
			terminating = append(terminating, pod)
		default:
			active = append(active, pod)
			if podReady(pod) {
				ready++
			}
			for _, cs := range append(append([]corev1.ContainerStatus{}, pod.Status.InitContainerStatuses...), pod.Status.ContainerStatuses...) {
				restarts += cs.RestartCount
			}
		}
	}
	if indexed {
		status.CompletedIndexes = completed.String()
		status.Succeeded = int32(len(completed))
	}
	if idx != nil {
		status.FailedIndexes = ptr.To(idx.failed.String())
	}
	succeeded := status.Succeeded + int32(len(uncounted.Succeeded))
	failed := status.Failed + int32(len(uncounted.Failed)) + int32(countedFailures(j, held))
	suspended := ptr.Deref(j.Spec.Suspend, false)

	if status.StartTime == nil && !suspended {
		status.StartTime = &now
	}

	// The finish decision, in upstream's precedence order.
	var finish *batchv1.JobCondition
	if c, ok := hasCond(status, batchv1.JobSuccessCriteriaMet); ok {
		finish = c
	} else if c, ok := hasCond(status, batchv1.JobFailureTarget); ok {
		finish = c
	} else if failJob != nil {
		finish = failJob
	} else {
		backoff := ptr.Deref(j.Spec.BackoffLimit, 6)
		onFailureExceeded := j.Spec.Template.Spec.RestartPolicy == corev1.RestartPolicyOnFailure &&
			((backoff == 0 && restarts > 0) || (backoff > 0 && restarts >= backoff))
		switch {
		case failed > backoff || onFailureExceeded:
			finish = newCond(batchv1.JobFailureTarget, ReasonBackoffLimitExceeded, MessageBackoffLimit, now)
		case !suspended && j.Spec.ActiveDeadlineSeconds != nil && status.StartTime != nil:
			deadline := status.StartTime.Add(time.Duration(*j.Spec.ActiveDeadlineSeconds) * time.Second)
			if !o.Now.Before(deadline) {
				finish = newCond(batchv1.JobFailureTarget, ReasonDeadlineExceeded, MessageDeadline, now)
			} else {
				p.Requeue = deadline.Sub(o.Now)
			}
		}
		switch {
		case finish != nil:
		case idx != nil && j.Spec.MaxFailedIndexes != nil && len(idx.failed) > int(*j.Spec.MaxFailedIndexes):
			finish = newCond(batchv1.JobFailureTarget, ReasonMaxFailedIndexesExceeded, MessageMaxFailedIndexesExceeded, now)
		case idx != nil && len(idx.failed) > 0 && len(idx.failed)+len(completed) >= completions:
			finish = newCond(batchv1.JobFailureTarget, ReasonFailedIndexes, MessageFailedIndexes, now)
		case indexed:
			if msg, ok := matchSuccessPolicy(j.Spec.SuccessPolicy, completions, completed); ok {
				finish = newCond(batchv1.JobSuccessCriteriaMet, ReasonSuccessPolicy, msg, now)
			}
		}
	}

	if finish == nil {
		// manageJob: create or delete pods toward the wanted number of active ones.
		switch {
		case suspended:
			p.DeleteUncounted = append(p.DeleteUncounted, capPods(active)...)
			terminating = append(terminating, p.DeleteUncounted...)
			active = active[len(p.DeleteUncounted):]
			setSuspended(status, true, now, &p)
			status.StartTime = nil
		default:
			if setSuspended(status, false, now, &p) {
				status.StartTime = &now
			}
			if !o.Unsynced {
				var wait time.Duration
				p.DeleteUncounted, p.Create, wait = manage(j, indexed, completions, active, terminating, completed, succeeded, idx, o.Now)
				if wait > 0 {
					p.Requeue = minPositive(p.Requeue, max(wait, time.Second))
				}
			}
			if len(p.Create) > 0 && idx == nil {
				if wait := recreateDelay(o.Pods, func(pod *corev1.Pod) bool { return podFailed(j, pod) }, o.Now); wait > 0 {
					p.Create = nil
					p.Requeue = minPositive(p.Requeue, max(wait, time.Second))
				}
			}
			terminating = append(terminating, p.DeleteUncounted...)
			active = removeAll(active, p.DeleteUncounted)
		}
		reached := false
		switch {
		case indexed || completions >= 0:
			reached = int(succeeded) >= completions && len(active) == 0 && len(p.Create) == 0
		default:
			reached = succeeded > 0 && len(active) == 0
		}
		if reached && !suspended {
			finish = newCond(batchv1.JobSuccessCriteriaMet, ReasonCompletionsReached, MessageCompletionsReached, now)
		}
	}

	if finish != nil {
		// Finished: held failures are recorded now, nothing will replace them.
		for _, pod := range held {
			recordFailed(pod)
		}
		if _, ok := hasCond(status, finish.Type); !ok {
			status.Conditions = append(status.Conditions, *finish)
		}
		// All remaining pods go; after a failure they count as failed.
		if finish.Type == batchv1.JobFailureTarget {
			p.DeleteFailed = append(p.DeleteFailed, capPods(active)...)
		} else {
			p.DeleteUncounted = append(p.DeleteUncounted, capPods(active)...)
		}
		terminating = append(terminating, active...)
		active = nil
		p.Create = nil
		// Terminal once every pod is counted and gone.
		if len(uncounted.Succeeded)+len(uncounted.Failed) == 0 && len(terminating) == 0 {
			terminal := batchv1.JobComplete
			if finish.Type == batchv1.JobFailureTarget {
				terminal = batchv1.JobFailed
				p.Events = append(p.Events, Event{corev1.EventTypeWarning, finish.Reason, finish.Message})
			} else {
				status.CompletionTime = &now
				if completions >= 0 && int(status.Succeeded) > completions {
					p.Events = append(p.Events, Event{corev1.EventTypeWarning, EventTooManySucceededPods, MessageTooManySucceededPods})
				}
				p.Events = append(p.Events, Event{corev1.EventTypeNormal, EventCompleted, "Job completed"})
			}
			status.Conditions = append(status.Conditions, *newCond(terminal, finish.Reason, finish.Message, now))
		}
	}

	// As upstream's manageJob, the pods being created count as active (apply
	// takes back those whose creation fails).
	status.Active = int32(len(active) + len(p.Create))
	status.Ready = ptr.To(ready)
	status.Terminating = ptr.To(int32(len(terminating)))
	if statusChanged(&j.Status, status) {
		p.Status = status
	}
	return p
}

// finished reports a terminal Complete or Failed condition.
func finished(s *batchv1.JobStatus) bool {
	_, complete := hasCond(s, batchv1.JobComplete)
	_, failed := hasCond(s, batchv1.JobFailed)
	return complete || failed
}

// finishedCleanup lets the finalizers of a finished Job's pods go.
func finishedCleanup(o Observed) Plan {
	var p Plan
	for _, pod := range o.Pods {
		if hasString(pod.Finalizers, TrackingFinalizer) && (isFinished(pod) || pod.DeletionTimestamp != nil) {
			p.RemoveFinalizers = append(p.RemoveFinalizers, pod)
		}
	}
	return p
}

func settle(uids []types.UID, settled func(types.UID) bool, counter int32) ([]types.UID, int32) {
	keep := uids[:0:0]
	for _, uid := range uids {
		if settled(uid) {
			counter++
		} else {
			keep = append(keep, uid)
		}
	}
	return keep, counter
}

// countedFailures counts the failed pods no Ignore rule matches.
func countedFailures(j *batchv1.Job, pods []*corev1.Pod) int {
	n := 0
	for _, pod := range pods {
		if action, _ := matchFailurePolicy(j.Spec.PodFailurePolicy, pod); action == nil || *action != batchv1.PodFailurePolicyActionIgnore {
			n++
		}
	}
	return n
}

// withoutUIDs returns list less the UIDs in drop.
func withoutUIDs(list, drop []types.UID) []types.UID {
	var out []types.UID
	for _, uid := range list {
		if !containsUID(drop, uid) {
			out = append(out, uid)
		}
	}
	return out
}

func containsUID(list []types.UID, uid types.UID) bool {
	for _, u := range list {
		if u == uid {
			return true
		}
	}
	return false
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func newCond(t batchv1.JobConditionType, reason, message string, now metav1.Time) *batchv1.JobCondition {
	return &batchv1.JobCondition{Type: t, Status: corev1.ConditionTrue, Reason: reason, Message: message, LastProbeTime: now, LastTransitionTime: now}
}

// setSuspended keeps the Suspended condition in step with spec.suspend and
// reports whether the Job was just resumed.
func setSuspended(s *batchv1.JobStatus, suspended bool, now metav1.Time, p *Plan) (resumed bool) {
	for i := range s.Conditions {
		c := &s.Conditions[i]
		if c.Type != batchv1.JobSuspended {
			continue
		}
		switch {
		case suspended && c.Status != corev1.ConditionTrue:
			*c = *newCond(batchv1.JobSuspended, ReasonSuspended, "Job suspended", now)
			p.Events = append(p.Events, Event{corev1.EventTypeNormal, EventSuspended, "Job suspended"})
		case !suspended && c.Status == corev1.ConditionTrue:
			*c = batchv1.JobCondition{Type: batchv1.JobSuspended, Status: corev1.ConditionFalse, Reason: ReasonResumed, Message: "Job resumed", LastProbeTime: now, LastTransitionTime: now}
			p.Events = append(p.Events, Event{corev1.EventTypeNormal, EventResumed, "Job resumed"})
			return true
		}
		return false
	}
	if suspended {
		s.Conditions = append(s.Conditions, *newCond(batchv1.JobSuspended, ReasonSuspended, "Job suspended", now))
		p.Events = append(p.Events, Event{corev1.EventTypeNormal, EventSuspended, "Job suspended"})
	}
	return false
}

func minPositive(a, b time.Duration) time.Duration {
	if a <= 0 || b < a {
		return b
	}
	return a
}

func capPods(pods []*corev1.Pod) []*corev1.Pod {
	if len(pods) > MaxPodsPerSync {
		return pods[:MaxPodsPerSync]
	}
	return pods
}

func removeAll(from, gone []*corev1.Pod) []*corev1.Pod {
	drop := map[*corev1.Pod]bool{}
	for _, p := range gone {
		drop[p] = true
	}
	var out []*corev1.Pod
	for _, p := range from {
		if !drop[p] {
			out = append(out, p)
		}
	}
	return out
}

func statusChanged(old, new *batchv1.JobStatus) bool {
	return !apiequality.Semantic.DeepEqual(old, new)
}
