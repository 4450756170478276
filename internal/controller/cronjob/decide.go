// Package cronjob is the CronJob controller: it creates a Job for every due
// slot of a CronJob's schedule, applies its concurrency policy, deadline and
// history limits, and keeps its status, as upstream's cronjob-controller
// (cronjob_controllerv2.go) does. It is woken at the next slot, never polls.
//
// decide.go is pure: CronJob + owned Jobs + now → what to delete, what to
// create, the status and events. controller.go observes and applies.
//
// Beyond upstream, batchd.dev/ annotations (internal/cronspec) add a trigger
// (trigger.go), a jitter offset, catch-up policies none and all, and DST
// policy once; missed.go signals every slot that will not start (a
// MissedSchedule event and cronjob_controller_missed_schedules_total); awake.go
// tells a machine's sleep from time passing. Without annotations the
// schedule and the Jobs are upstream's exactly; only the signal is added.
// README.md has the decision table.
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

	"github.com/batchd/batchd/internal/cronspec"
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

// Event reasons of batchd's extensions.
const (
	// ReasonMissedSchedule (Warning): a slot or trigger will not start; the
	// message says when and why (one of the Missed* reasons).
	ReasonMissedSchedule = "MissedSchedule"
	// ReasonInvalidAnnotation (Warning): a batchd.dev/ annotation the API
	// server did not validate (stored before it did) is read as its default.
	ReasonInvalidAnnotation = "InvalidAnnotation"
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
	// Reported is the latest instant up to which missed slots were
	// signalled (zero after a restart: they are signalled from the last run).
	Reported time.Time
	// Awake is since when the controller has watched the clock without a
	// gap (its start, or a wall-clock jump such as a machine's sleep): a
	// slot before it came while nobody watched.
	Awake time.Time
	// Created is when the CronJob came to be on the controller's clock
	// (zero: its creationTimestamp; see Config.CreatedWhenSeen).
	Created time.Time
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

	// FireAt is when Scheduled was due to start: the slot plus the jitter
	// offset, or the instant of a trigger.
	FireAt time.Time
	// Trigger is a trigger token to record as handled (after Create exists).
	Trigger string
	// Missed counts the slots newly missed, by reason (their events are in Events).
	Missed []Missed
	// Skips lists the slots newly missed, for the run history.
	Skips []Skip
	// Reported is the next Observed.Reported.
	Reported time.Time
	// Next is when the next slot fires (offset included); zero when none will.
	Next time.Time
	// Remind wakes a CronJob that Requeue leaves asleep (a suspended one),
	// to signal its next slot as missed when it comes.
	Remind time.Duration
}

// Missed is a count of missed slots with one reason.
type Missed struct {
	Reason string
	Count  int
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

	// The Job of a trigger whose token is not recorded yet was created
	// before a crash: it is taken in as its creation would have been.
	triggerJob := ""
	if t := cronspec.PendingTrigger(cj.Annotations); t != "" {
		triggerJob = TriggerJobName(cj, t)
	}
	// Reconcile the active list with the owned Jobs.
	for _, j := range o.Jobs {
		if deleted[j.UID] {
			continue
		}
		cond := finished(j)
		found := activeIndex(st, j.UID) >= 0
		if j.Name == triggerJob && !found {
			if at, err := time.Parse(time.RFC3339, j.Annotations[ScheduledTimestampAnnotation]); err == nil && (st.LastScheduleTime == nil || at.After(st.LastScheduleTime.Time)) {
				st.LastScheduleTime = &metav1.Time{Time: at}
			}
			if cond == "" {
				st.Active = append(st.Active, Ref(j))
				continue
			}
		}
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
	p.Reported = o.Reported
	if cj.DeletionTimestamp != nil {
		return p
	}
	if tz := cj.Spec.TimeZone; tz != nil {
		if _, err := time.LoadLocation(*tz); err != nil {
			p.warn(ReasonUnknownTimeZone, "invalid timeZone: %q: %s", *tz, err)
			return p
		}
	}
	opts, invalid := cronspec.ParseOptions(cj.Annotations)
	for _, e := range invalid {
		p.warn(ReasonInvalidAnnotation, "%s (read as the default)", e.Error())
	}
	trigger := cronspec.PendingTrigger(cj.Annotations)
	if trigger != "" && triggerFired(cj, o.Jobs, st, trigger) {
		// Its Job exists: a crash (or a stale cache) came between the
		// Job's creation and the token's record. Only record it.
		p.Trigger, trigger = trigger, ""
	}
	offset := cronspec.Offset(string(cj.UID), opts.Jitter)
	// due: a slot at or before it has come, its offset included.
	due := o.Now.Add(-offset)
	var last time.Time
	if st.LastScheduleTime != nil {
		last = st.LastScheduleTime.Time
	}
	// Missed slots are signalled from here: what ran or was signalled is behind.
	created := cj.CreationTimestamp.Time
	if !o.Created.IsZero() {
		created = o.Created
	}
	from := latest(created, last, o.Reported)
	if cj.Spec.Suspend != nil && *cj.Spec.Suspend {
		if sched, err := newSchedule(cj, o.Local, opts.DST); err == nil {
			p.signal(cj, sched, from, due, func(time.Time) string { return MissedSuspended }, opts.CatchUp)
			if next := cronspec.NextFire(sched, offset, o.Now); !next.IsZero() {
				p.Remind = next.Add(nextDelta).Sub(o.Now)
			}
		}
		if trigger != "" {
			p.Trigger = trigger
			p.missTrigger(o, trigger, MissedSuspended)
		}
		return p
	}
	sched, err := newSchedule(cj, o.Local, opts.DST)
	if err != nil {
		p.warn(ReasonUnparseableSchedule, "unparseable schedule: %q : %s", cj.Spec.Schedule, err)
		return p
	}
	if strings.Contains(cj.Spec.Schedule, "TZ") {
		p.warn(ReasonUnsupportedSchedule, "CRON_TZ or TZ used in schedule %q is not officially supported, see https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/ for more details", cj.Spec.Schedule)
	}
	earliest := earliestTime(last, created, cj.Spec.StartingDeadlineSeconds, o.Now)
	m, err := mostRecent(sched, earliest, due)
	if err != nil {
		p.warn(ReasonInvalidSchedule, "invalid schedule: %s : %s", cj.Spec.Schedule, err)
		if trigger != "" {
			// A schedule that never fires ("0 0 31 2 *") is the usual
			// manual-only CronJob: its triggers still run.
			p.fireTrigger(o, trigger)
		}
		return p
	}
	if m.TooMany {
		p.warn(ReasonTooManyMissedTimes, "too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew")
	}
	p.Next = cronspec.NextFire(sched, offset, o.Now)
	// The slot to run now: upstream's most recent one, unless the catch-up policy says otherwise.
	slot := m.Time
	pending := false // catch-up all: more missed slots wait for the next sync
	switch opts.CatchUp {
	case cronspec.CatchUpNone:
		if slot.Before(o.Awake) {
			slot = time.Time{}
		}
	case cronspec.CatchUpAll:
		if slots := lastSlots(sched, earliest, due, cronspec.MaxCatchUp); len(slots) > 0 {
			slot, pending = slots[0], len(slots) > 1
		}
	}
	ran, blocked := p.runSlot(o, sched, slot, latest(earliest, m.Time), offset)
	if pending && ran {
		p.Requeue = nextDelta
	}
	// Signal the slots that came since the last signal and will not start.
	reported := due
	if pending && ran {
		reported = slot // the slots after it are still to run
	}
	window := time.Time{}
	if d := cj.Spec.StartingDeadlineSeconds; d != nil {
		window = o.Now.Add(-time.Duration(*d) * time.Second)
	}
	p.signal(cj, sched, from, reported, func(t time.Time) string {
		switch {
		case t.Equal(slot) && ran:
			return ""
		case t.Equal(slot) && blocked:
			return MissedForbid
		case !window.IsZero() && t.Before(window):
			return MissedDeadline
		case opts.CatchUp == cronspec.CatchUpAll && t.Before(slot):
			return MissedTooMany // older than the most recent 100
		case opts.CatchUp == cronspec.CatchUpAll && blocked:
			return MissedForbid // waits, in order, behind the active run
		}
		return MissedCatchUp
	}, opts.CatchUp)
	if trigger == "" {
		return p
	}
	// A trigger follows the slot due now, if any, in the next sync; a slot
	// that has come but waits for its offset goes first too.
	// (Its requeue already points at that offset.)
	if n := sched.Next(latest(earliest, due)); p.Create != nil || (!n.IsZero() && !n.After(o.Now)) {
		if p.Create != nil {
			p.Requeue = nextDelta
		}
		return p
	}
	p.fireTrigger(o, trigger)
	return p
}

// runSlot plans the run of slot (zero: none). The requeue counts from
// after (upstream's most recent due slot, else the search's start). It
// reports whether the slot's Job is to be created, and whether
// concurrencyPolicy Forbid held it back.
func (p *Plan) runSlot(o Observed, sched interface{ Next(time.Time) time.Time }, slot, after time.Time, offset time.Duration) (ran, blocked bool) {
	cj, st := o.CronJob, &p.Status
	p.Requeue = untilFire(sched, after, o.Now, offset)
	if slot.IsZero() {
		return false, false
	}
	if d := cj.Spec.StartingDeadlineSeconds; d != nil && slot.Add(time.Duration(*d)*time.Second).Before(o.Now) {
		p.warn(ReasonMissSchedule, "Missed scheduled time to start a job: %s", slot.UTC().Format(time.RFC1123Z))
		return false, false
	}
	name := JobName(cj.Name, slot)
	for _, ref := range st.Active {
		if ref.Name == name {
			return false, false
		}
	}
	if st.LastScheduleTime != nil && st.LastScheduleTime.Time.Equal(slot) {
		return false, false
	}
	if !p.admit(o) {
		return false, true
	}
	p.Create = JobFor(cj, slot)
	p.Scheduled = slot
	p.FireAt = slot.Add(offset)
	return true, false
}

// admit applies concurrencyPolicy to a run about to start: Forbid refuses
// it while a run is active, Replace deletes the active runs.
func (p *Plan) admit(o Observed) bool {
	switch o.CronJob.Spec.ConcurrencyPolicy {
	case batchv1.ForbidConcurrent:
		if len(p.Status.Active) > 0 {
			p.normal(ReasonJobAlreadyActive, "Not starting job because prior execution is running and concurrency policy is Forbid")
			return false
		}
	case batchv1.ReplaceConcurrent:
		for _, ref := range p.Status.Active {
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
	return true
}

// latest is the latest of ts.
func latest(ts ...time.Time) time.Time {
	var l time.Time
	for _, t := range ts {
		if t.After(l) {
			l = t
		}
	}
	return l
}

// newSchedule reads the CronJob's schedule in its zone under its DST policy.
func newSchedule(cj *batchv1.CronJob, local *time.Location, dst cronspec.DST) (*cronspec.Schedule, error) {
	return cronspec.New(cj.Spec.Schedule, cj.Spec.TimeZone, local, dst)
}

// untilFire is the wait until the slot after from fires (offset
// included), plus nextDelta.
func untilFire(s interface{ Next(time.Time) time.Time }, from, now time.Time, offset time.Duration) time.Duration {
	next := s.Next(from)
	if next.IsZero() {
		return 0
	}
	d := next.Add(offset + nextDelta).Sub(now)
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
	loc := slotZone(cj)
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
