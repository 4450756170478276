// Package cronjob is the CronJob controller: it creates a Job for every due
// slot of a CronJob's schedule, applies its concurrency policy, deadline and
// history limits, and keeps its status, as upstream's cronjob-controller
// (cronjob_controllerv2.go) does. It is woken at the next slot, never polls.
//
// decide.go is pure: CronJob + owned Jobs + now → what to delete, what to
// create, the status and events. controller.go observes and applies.
package cronjob

import (
	"fmt"
	"sort"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Component is the event source.
const Component = "cronjob-controller"

// Event reasons (upstream's).
const (
	ReasonSuccessfulCreate    = "SuccessfulCreate"
	ReasonSuccessfulDelete    = "SuccessfulDelete"
	ReasonSawCompletedJob     = "SawCompletedJob"
	ReasonMissingJob          = "MissingJob"
	ReasonJobAlreadyActive    = "JobAlreadyActive"
	ReasonUnexpectedJob       = "UnexpectedJob"
	ReasonFailedCreate        = "FailedCreate"
	ReasonFailedDelete        = "FailedDelete"
	ReasonFailedGet           = "FailedGet"
	ReasonMissSchedule        = "MissSchedule"
	ReasonTooManyMissedTimes  = "TooManyMissedTimes"
	ReasonUnknownTimeZone     = "UnknownTimeZone"
	ReasonUnparseableSchedule = "UnparseableSchedule"
	// ReasonUnParseableCronJobSchedule is upstream's update-time spelling.
	ReasonUnParseableCronJobSchedule = "UnParseableCronJobSchedule"
	ReasonInvalidSchedule            = "InvalidSchedule"
	ReasonUnsupportedSchedule        = "UnsupportedSchedule"
)

// ScheduledTimestampAnnotation carries a Job's nominal slot.
const ScheduledTimestampAnnotation = "batch.kubernetes.io/cronjob-scheduled-timestamp"

// Observed is what Decide looks at.
type Observed struct {
	CronJob *batchv1.CronJob
	// Jobs are the Jobs of the namespace whose controller reference names the CronJob.
	Jobs []*batchv1.Job
	// Gone are active entries confirmed missing by a live read.
	Gone map[types.UID]bool
	Now  time.Time
	// Local is the zone of schedules without timeZone (the server's).
	Local *time.Location
}

// Event is an event on the CronJob.
type Event struct{ Type, Reason, Message string }

// Plan is what the controller does for one CronJob.
type Plan struct {
	// Delete lists Jobs to delete, oldest history first; Replace marks the
	// ones deleted by concurrencyPolicy Replace (their failure fails the sync).
	Delete  []*batchv1.Job
	Replace map[types.UID]bool
	// Create is the Job for Scheduled, if one is due.
	Create    *batchv1.Job
	Scheduled time.Time
	// Status is the status to write, without Create's reference and slot
	// (added once the Job exists).
	Status  batchv1.CronJobStatus
	Events  []Event
	Requeue time.Duration
}

func (p *Plan) warn(reason, format string, args ...any) {
	p.Events = append(p.Events, Event{Type: corev1.EventTypeWarning, Reason: reason, Message: fmt.Sprintf(format, args...)})
}

func (p *Plan) normal(reason, format string, args ...any) {
	p.Events = append(p.Events, Event{Type: corev1.EventTypeNormal, Reason: reason, Message: fmt.Sprintf(format, args...)})
}

// Decide computes a CronJob's next step.
func Decide(o Observed) Plan {
	cj := o.CronJob
	p := Plan{Replace: map[types.UID]bool{}}
	st := cj.Status.DeepCopy()

	// History limits first, oldest first, over every owned Job (manual ones too).
	deleted := map[types.UID]bool{}
	var complete, failed []*batchv1.Job
	for _, j := range o.Jobs {
		switch finished(j) {
		case batchv1.JobComplete:
			complete = append(complete, j)
		case batchv1.JobFailed:
			failed = append(failed, j)
		}
	}
	for _, g := range []struct {
		jobs  []*batchv1.Job
		limit *int32
	}{{complete, cj.Spec.SuccessfulJobsHistoryLimit}, {failed, cj.Spec.FailedJobsHistoryLimit}} {
		if g.limit == nil || len(g.jobs) <= int(*g.limit) {
			continue
		}
		sortByStart(g.jobs)
		for _, j := range g.jobs[:len(g.jobs)-int(*g.limit)] {
			p.Delete = append(p.Delete, j)
			deleted[j.UID] = true
			removeActive(st, j.UID)
		}
	}

	// Reconcile the active list with the owned Jobs.
	for _, j := range o.Jobs {
		if deleted[j.UID] {
			continue
		}
		cond := finished(j)
		found := activeIndex(st, j.UID) >= 0
		switch {
		case !found && cond == "":
			p.warn(ReasonUnexpectedJob, "Saw a job that the controller did not create or forgot: %s", j.Name)
		case found && cond != "":
			removeActive(st, j.UID)
			p.normal(ReasonSawCompletedJob, "Saw completed job: %s, status: %s", j.Name, cond)
		case cond == batchv1.JobComplete && j.Status.CompletionTime != nil:
			if st.LastSuccessfulTime == nil || j.Status.CompletionTime.After(st.LastSuccessfulTime.Time) {
				t := *j.Status.CompletionTime
				st.LastSuccessfulTime = &t
			}
		}
	}
	for _, ref := range append([]corev1.ObjectReference(nil), st.Active...) {
		if o.Gone[ref.UID] {
			removeActive(st, ref.UID)
			p.normal(ReasonMissingJob, "Active job went missing: %s", ref.Name)
		}
	}
	p.Status = *st

	if cj.DeletionTimestamp != nil {
		return p
	}
	if tz := cj.Spec.TimeZone; tz != nil {
		if _, err := time.LoadLocation(*tz); err != nil {
			p.warn(ReasonUnknownTimeZone, "invalid timeZone: %q: %s", *tz, err)
			return p
		}
	}
	if cj.Spec.Suspend != nil && *cj.Spec.Suspend {
		return p
	}
	sched, err := parseSchedule(cj.Spec.Schedule, cj.Spec.TimeZone, o.Local)
	if err != nil {
		p.warn(ReasonUnparseableSchedule, "unparseable schedule: %q : %s", cj.Spec.Schedule, err)
		return p
	}
	if strings.Contains(cj.Spec.Schedule, "TZ") {
		p.warn(ReasonUnsupportedSchedule, "CRON_TZ or TZ used in schedule %q is not officially supported, see https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/ for more details", cj.Spec.Schedule)
	}
	var last time.Time
	if st.LastScheduleTime != nil {
		last = st.LastScheduleTime.Time
	}
	earliest := earliestTime(last, cj.CreationTimestamp.Time, cj.Spec.StartingDeadlineSeconds, o.Now)
	m, err := mostRecent(sched, earliest, o.Now)
	if err != nil {
		p.warn(ReasonInvalidSchedule, "invalid schedule: %s : %s", cj.Spec.Schedule, err)
		return p
	}
	if m.TooMany {
		p.warn(ReasonTooManyMissedTimes, "too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew")
	}
	if m.Time.IsZero() {
		p.Requeue = untilNext(sched, earliest, o.Now)
		return p
	}
	p.Requeue = untilNext(sched, m.Time, o.Now)
	if d := cj.Spec.StartingDeadlineSeconds; d != nil && m.Time.Add(time.Duration(*d)*time.Second).Before(o.Now) {
		p.warn(ReasonMissSchedule, "Missed scheduled time to start a job: %s", m.Time.UTC().Format(time.RFC1123Z))
		return p
	}
	name := JobName(cj.Name, m.Time)
	for _, ref := range st.Active {
		if ref.Name == name {
			return p
		}
	}
	if st.LastScheduleTime != nil && st.LastScheduleTime.Time.Equal(m.Time) {
		return p
	}
	switch cj.Spec.ConcurrencyPolicy {
	case batchv1.ForbidConcurrent:
		if len(st.Active) > 0 {
			p.normal(ReasonJobAlreadyActive, "Not starting job because prior execution is running and concurrency policy is Forbid")
			return p
		}
	case batchv1.ReplaceConcurrent:
		for _, ref := range st.Active {
			j := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: ref.Name, Namespace: ref.Namespace, UID: ref.UID}}
			for _, owned := range o.Jobs {
				if owned.UID == ref.UID {
					j = owned
				}
			}
			p.Delete = append(p.Delete, j)
			p.Replace[ref.UID] = true
		}
		p.Status.Active = nil
	}
	p.Create = JobFor(cj, m.Time)
	p.Scheduled = m.Time
	return p
}

// untilNext is the wait until the slot after from, plus nextDelta.
func untilNext(s interface{ Next(time.Time) time.Time }, from, now time.Time) time.Duration {
	next := s.Next(from)
	if next.IsZero() {
		return 0
	}
	d := next.Add(nextDelta).Sub(now)
	if d <= 0 {
		d = nextDelta
	}
	return d
}

// JobName is the deterministic name of a slot's Job: it makes creation idempotent.
func JobName(cronJob string, slot time.Time) string {
	return fmt.Sprintf("%s-%d", cronJob, slot.Unix()/60)
}

// JobFor builds the Job of a slot from the CronJob's template.
func JobFor(cj *batchv1.CronJob, slot time.Time) *batchv1.Job {
	loc := time.UTC
	if cj.Spec.TimeZone != nil {
		if l, err := time.LoadLocation(*cj.Spec.TimeZone); err == nil {
			loc = l
		}
	}
	t := cj.Spec.JobTemplate
	j := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{
			Name:            JobName(cj.Name, slot),
			Namespace:       cj.Namespace,
			Labels:          copyMap(t.Labels),
			Annotations:     copyMap(t.Annotations),
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(cj, batchv1.SchemeGroupVersion.WithKind("CronJob"))},
		},
		Spec: *t.Spec.DeepCopy(),
	}
	if j.Annotations == nil {
		j.Annotations = map[string]string{}
	}
	j.Annotations[ScheduledTimestampAnnotation] = slot.In(loc).Format(time.RFC3339)
	return j
}

func copyMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// finished is the Job's terminal condition type, or "".
func finished(j *batchv1.Job) batchv1.JobConditionType {
	for _, c := range j.Status.Conditions {
		if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == corev1.ConditionTrue {
			return c.Type
		}
	}
	return ""
}

// sortByStart orders Jobs oldest first by status.startTime (unstarted last, then by name).
func sortByStart(jobs []*batchv1.Job) {
	sort.SliceStable(jobs, func(a, b int) bool {
		sa, sb := jobs[a].Status.StartTime, jobs[b].Status.StartTime
		switch {
		case sa == nil && sb == nil:
			return jobs[a].Name < jobs[b].Name
		case sa == nil:
			return false
		case sb == nil:
			return true
		case sa.Equal(sb):
			return jobs[a].Name < jobs[b].Name
		}
		return sa.Before(sb)
	})
}

func activeIndex(st *batchv1.CronJobStatus, uid types.UID) int {
	for i, ref := range st.Active {
		if ref.UID == uid {
			return i
		}
	}
	return -1
}

func removeActive(st *batchv1.CronJobStatus, uid types.UID) {
	if i := activeIndex(st, uid); i >= 0 {
		st.Active = append(st.Active[:i:i], st.Active[i+1:]...)
	}
}

// Ref is a Job's entry in status.active.
func Ref(j *batchv1.Job) corev1.ObjectReference {
	return corev1.ObjectReference{APIVersion: "batch/v1", Kind: "Job", Name: j.Name, Namespace: j.Namespace, UID: j.UID, ResourceVersion: j.ResourceVersion}
}
