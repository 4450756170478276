package cronjob

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/record"
	"k8s.io/component-base/metrics"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
)

var t0 = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

type env struct {
	t        *testing.T
	ctx      context.Context
	client   *fake.Clientset
	clock    *clocktesting.FakeClock
	events   *record.FakeRecorder
	c        *Controller
	registry metrics.KubeRegistry
	name     string // the CronJob under test
}

func cronJob(name, schedule string, policy batchv1.ConcurrencyPolicy) *batchv1.CronJob {
	return &batchv1.CronJob{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: "cj-uid", CreationTimestamp: metav1.NewTime(t0)},
		Spec: batchv1.CronJobSpec{
			Schedule: schedule, ConcurrencyPolicy: policy,
			SuccessfulJobsHistoryLimit: ptr.To[int32](3), FailedJobsHistoryLimit: ptr.To[int32](1),
			JobTemplate: batchv1.JobTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "report"}, Annotations: map[string]string{"team": "data"}},
				Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyOnFailure,
					Containers: []corev1.Container{{Name: "c", Image: "busybox", Command: []string{"true"}}}}}},
			},
		},
	}
}

func newEnv(t *testing.T, objs ...runtime.Object) *env {
	t.Helper()
	client := fake.NewClientset(objs...)
	// The API server gives every object a UID; the fake does not.
	client.PrependReactor("create", "jobs", func(a k8stesting.Action) (bool, runtime.Object, error) {
		j := a.(k8stesting.CreateAction).GetObject().(*batchv1.Job)
		j.UID = types.UID("uid-" + j.Name)
		return false, nil, nil
	})
	factory := informers.NewSharedInformerFactory(client, 0)
	e := &env{t: t, client: client, clock: clocktesting.NewFakeClock(t0), events: record.NewFakeRecorder(1000), name: "report"}
	for _, o := range objs {
		if cj, ok := o.(*batchv1.CronJob); ok {
			e.name = cj.Name
		}
	}
	e.registry = metrics.NewKubeRegistry()
	c, err := New(Config{Client: client, Informer: factory, Recorder: e.events, Clock: e.clock, Local: time.UTC, Register: e.registry.Register})
	if err != nil {
		t.Fatal(err)
	}
	e.c = c
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	e.ctx = ctx
	factory.Start(ctx.Done())
	factory.WaitForCacheSync(ctx.Done())
	return e
}

// sync runs one sync at time now once the caches show what the API has.
func (e *env) sync(now time.Time) time.Duration {
	e.t.Helper()
	e.settle()
	e.clock.SetTime(now)
	d, err := e.c.sync(e.ctx, "default/"+e.name)
	if err != nil {
		e.t.Fatalf("sync: %v", err)
	}
	return d
}

// settle waits until the listers show the API's Jobs and CronJob.
func (e *env) settle() {
	e.t.Helper()
	err := wait.PollUntilContextTimeout(e.ctx, time.Millisecond, 5*time.Second, true, func(context.Context) (bool, error) {
		jobs, _ := e.client.BatchV1().Jobs("default").List(e.ctx, metav1.ListOptions{})
		var cached []*batchv1.Job
		for _, o := range e.c.byOwner.List() {
			cached = append(cached, o.(*batchv1.Job))
		}
		cj, err := e.client.BatchV1().CronJobs("default").Get(e.ctx, e.name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		cachedCJ, err := e.c.cronJobs.CronJobs("default").Get(e.name)
		if err != nil {
			return false, nil
		}
		// The fake keeps no resourceVersions: compare contents.
		return len(jobs.Items) == len(cached) && apiequality.Semantic.DeepEqual(cachedCJ, cj) && jobsCurrent(jobs.Items, cached), nil
	})
	if err != nil {
		e.t.Fatal("caches did not catch up")
	}
}

func jobsCurrent(api []batchv1.Job, cached []*batchv1.Job) bool {
	byName := map[string]*batchv1.Job{}
	for _, j := range cached {
		byName[j.Name] = j
	}
	for i := range api {
		if !apiequality.Semantic.DeepEqual(byName[api[i].Name], &api[i]) {
			return false
		}
	}
	return true
}

func (e *env) cronJob() *batchv1.CronJob {
	cj, err := e.client.BatchV1().CronJobs("default").Get(e.ctx, e.name, metav1.GetOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	return cj
}

func (e *env) jobNames() []string {
	list, _ := e.client.BatchV1().Jobs("default").List(e.ctx, metav1.ListOptions{})
	var out []string
	for _, j := range list.Items {
		out = append(out, j.Name)
	}
	return out
}

// finish marks a Job Complete or Failed as the Job controller would.
func (e *env) finish(name string, cond batchv1.JobConditionType, at time.Time) {
	e.t.Helper()
	j, err := e.client.BatchV1().Jobs("default").Get(e.ctx, name, metav1.GetOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	j.Status.Conditions = append(j.Status.Conditions, batchv1.JobCondition{Type: cond, Status: corev1.ConditionTrue})
	start := metav1.NewTime(at.Add(-10 * time.Second))
	j.Status.StartTime = &start
	if cond == batchv1.JobComplete {
		done := metav1.NewTime(at)
		j.Status.CompletionTime = &done
	}
	if _, err := e.client.BatchV1().Jobs("default").UpdateStatus(e.ctx, j, metav1.UpdateOptions{}); err != nil {
		e.t.Fatal(err)
	}
}

// drained returns the events recorded so far.
func (e *env) drained() string {
	var out []string
	for {
		select {
		case ev := <-e.events.Events:
			out = append(out, ev)
		default:
			return strings.Join(out, "\n")
		}
	}
}

func slot(minutes int) time.Time { return t0.Add(time.Duration(minutes) * time.Minute) }

func TestShouldScheduleMultipleJobsConcurrently(t *testing.T) {
	e := newEnv(t, cronJob("report", "*/1 * * * ?", batchv1.AllowConcurrent))
	if d := e.sync(t0.Add(30 * time.Second)); d != 30*time.Second+nextDelta {
		t.Fatalf("requeue before the first slot = %v", d)
	}
	if got := e.jobNames(); len(got) != 0 {
		t.Fatalf("jobs before the first slot: %v", got)
	}
	if d := e.sync(slot(1).Add(time.Second)); d != 59*time.Second+nextDelta {
		t.Fatalf("requeue = %v", d)
	}
	e.sync(slot(2).Add(time.Second))
	cj := e.cronJob()
	if len(cj.Status.Active) != 2 || !cj.Status.LastScheduleTime.Time.Equal(slot(2)) {
		t.Fatalf("status = %+v", cj.Status)
	}
	want := JobName("report", slot(1))
	if names := e.jobNames(); len(names) != 2 || names[0] != want {
		t.Fatalf("jobs = %v, want %s first", names, want)
	}
	if ev := e.drained(); strings.Count(ev, "Normal SuccessfulCreate Created job report-") != 2 {
		t.Fatalf("events:\n%s", ev)
	}
	// Both Jobs were created 1s after their slot.
	families, err := e.registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, f := range families {
		if f.GetName() == "cronjob_controller_job_creation_skew_duration_seconds" {
			h := f.GetMetric()[0].GetHistogram()
			found = h.GetSampleCount() == 2 && h.GetSampleSum() == 2
		}
	}
	if !found {
		t.Errorf("skew histogram missing or wrong: %v", families)
	}
}

func TestCreatedJobCarriesTemplateOwnerAndScheduledTimestamp(t *testing.T) {
	cj := cronJob("report", "0 9 * * *", batchv1.AllowConcurrent)
	cj.Spec.TimeZone = ptr.To("Asia/Seoul")
	e := newEnv(t, cj)
	at := time.Date(2026, 11, 24, 0, 0, 5, 0, time.UTC) // 09:00:05 in Seoul
	e.sync(at)
	j, err := e.client.BatchV1().Jobs("default").Get(e.ctx, JobName("report", at.Truncate(time.Minute)), metav1.GetOptions{})
	if err != nil {
		t.Fatalf("%v (jobs: %v)", err, e.jobNames())
	}
	if got := j.Annotations[ScheduledTimestampAnnotation]; got != "2026-11-24T09:00:00+09:00" {
		t.Errorf("scheduled timestamp = %q", got)
	}
	if j.Labels["app"] != "report" || j.Annotations["team"] != "data" {
		t.Errorf("template metadata not copied: %v %v", j.Labels, j.Annotations)
	}
	ref := metav1.GetControllerOf(j)
	if ref == nil || ref.Kind != "CronJob" || ref.Name != "report" || ref.BlockOwnerDeletion == nil || !*ref.BlockOwnerDeletion {
		t.Errorf("owner = %+v", j.OwnerReferences)
	}
}

func TestShouldNotScheduleJobsWhenSuspended(t *testing.T) {
	cj := cronJob("report", "*/1 * * * ?", batchv1.AllowConcurrent)
	cj.Spec.Suspend = ptr.To(true)
	e := newEnv(t, cj)
	for m := 1; m <= 5; m++ {
		if d := e.sync(slot(m).Add(time.Second)); d != 0 {
			t.Fatalf("suspended CronJob requeued after %v", d)
		}
	}
	if got := e.jobNames(); len(got) != 0 {
		t.Fatalf("jobs while suspended: %v", got)
	}
}

func TestShouldNotScheduleNewJobsWhenForbidConcurrent(t *testing.T) {
	e := newEnv(t, cronJob("report", "*/1 * * * ?", batchv1.ForbidConcurrent))
	e.sync(slot(1).Add(time.Second))
	e.sync(slot(2).Add(time.Second))
	e.sync(slot(3).Add(time.Second))
	if got := e.jobNames(); len(got) != 1 {
		t.Fatalf("jobs = %v, want exactly one", got)
	}
	if ev := e.drained(); !strings.Contains(ev, "Normal JobAlreadyActive Not starting job because prior execution is running and concurrency policy is Forbid") {
		t.Fatalf("events:\n%s", ev)
	}
	// When it finishes, the most recent missed slot starts at once.
	e.finish(JobName("report", slot(1)), batchv1.JobComplete, slot(3).Add(10*time.Second))
	e.sync(slot(3).Add(11 * time.Second)) // sees it complete
	e.sync(slot(3).Add(12 * time.Second)) // starts the slot-3 Job
	cj := e.cronJob()
	if len(cj.Status.Active) != 1 || cj.Status.Active[0].Name != JobName("report", slot(3)) {
		t.Fatalf("active = %+v (jobs %v)", cj.Status.Active, e.jobNames())
	}
	if cj.Status.LastSuccessfulTime == nil || !cj.Status.LastSuccessfulTime.Time.Equal(slot(3).Add(10*time.Second)) {
		t.Fatalf("lastSuccessfulTime = %v", cj.Status.LastSuccessfulTime)
	}
	if ev := e.drained(); !strings.Contains(ev, "Normal SawCompletedJob Saw completed job: "+JobName("report", slot(1))+", status: Complete") {
		t.Fatalf("events:\n%s", ev)
	}
}

func TestShouldReplaceJobsWhenReplaceConcurrent(t *testing.T) {
	e := newEnv(t, cronJob("report", "*/1 * * * ?", batchv1.ReplaceConcurrent))
	e.sync(slot(1).Add(time.Second))
	e.sync(slot(2).Add(time.Second))
	names := e.jobNames()
	if len(names) != 1 || names[0] != JobName("report", slot(2)) {
		t.Fatalf("jobs = %v, want only the slot-2 Job", names)
	}
	cj := e.cronJob()
	if len(cj.Status.Active) != 1 || cj.Status.Active[0].Name != names[0] {
		t.Fatalf("active = %+v", cj.Status.Active)
	}
	if ev := e.drained(); !strings.Contains(ev, "Normal SuccessfulDelete Deleted job "+JobName("report", slot(1))) {
		t.Fatalf("events:\n%s", ev)
	}
}

func TestShouldBeAbleToScheduleAfterMoreThan100MissedSchedule(t *testing.T) {
	cj := cronJob("report", "*/1 * * * ?", batchv1.AllowConcurrent)
	cj.CreationTimestamp = metav1.NewTime(t0.Add(-10 * 24 * time.Hour))
	cj.Status.LastScheduleTime = &metav1.Time{Time: t0.Add(-10 * 24 * time.Hour)}
	e := newEnv(t, cj)
	e.sync(t0.Add(30 * time.Second))
	if got := e.jobNames(); len(got) != 1 || got[0] != JobName("report", t0) {
		t.Fatalf("jobs = %v, want only the latest slot's", got)
	}
	if ev := e.drained(); !strings.Contains(ev, "Warning TooManyMissedTimes too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew") {
		t.Fatalf("events:\n%s", ev)
	}
}

func TestShouldNotEmitUnexpectedWarnings(t *testing.T) {
	e := newEnv(t, cronJob("report", "*/1 * * * ?", batchv1.AllowConcurrent))
	for m := 1; m <= 4; m++ {
		e.sync(slot(m).Add(time.Second))
		e.finish(JobName("report", slot(m)), batchv1.JobComplete, slot(m).Add(20*time.Second))
		e.sync(slot(m).Add(21 * time.Second))
	}
	if ev := e.drained(); strings.Contains(ev, "MissingJob") || strings.Contains(ev, "UnexpectedJob") {
		t.Fatalf("unexpected warnings:\n%s", ev)
	}
}

func TestShouldRemoveFromActiveListJobsThatHaveBeenDeleted(t *testing.T) {
	e := newEnv(t, cronJob("report", "*/1 * * * ?", batchv1.AllowConcurrent))
	e.sync(slot(1).Add(time.Second))
	name := JobName("report", slot(1))
	if err := e.client.BatchV1().Jobs("default").Delete(e.ctx, name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	e.sync(slot(1).Add(2 * time.Second))
	if cj := e.cronJob(); len(cj.Status.Active) != 0 {
		t.Fatalf("active = %+v", cj.Status.Active)
	}
	if ev := e.drained(); !strings.Contains(ev, "Normal MissingJob Active job went missing: "+name) {
		t.Fatalf("events:\n%s", ev)
	}
}

func TestShouldDeleteFinishedJobsBeyondTheHistoryLimits(t *testing.T) {
	cj := cronJob("report", "*/1 * * * ?", batchv1.AllowConcurrent)
	cj.Spec.SuccessfulJobsHistoryLimit = ptr.To[int32](1)
	cj.Spec.FailedJobsHistoryLimit = ptr.To[int32](1)
	e := newEnv(t, cj)
	for m := 1; m <= 3; m++ {
		e.sync(slot(m).Add(time.Second))
		e.finish(JobName("report", slot(m)), batchv1.JobComplete, slot(m).Add(20*time.Second))
	}
	for m := 4; m <= 5; m++ {
		e.sync(slot(m).Add(time.Second))
		e.finish(JobName("report", slot(m)), batchv1.JobFailed, slot(m).Add(20*time.Second))
	}
	e.sync(slot(5).Add(30 * time.Second))
	names := e.jobNames()
	want := []string{JobName("report", slot(3)), JobName("report", slot(5))}
	if strings.Join(names, ",") != strings.Join(want, ",") {
		t.Fatalf("jobs = %v, want %v (the newest of each kind)", names, want)
	}
	ev := e.drained()
	for _, m := range []int{1, 2, 4} {
		if !strings.Contains(ev, "Normal SuccessfulDelete Deleted job "+JobName("report", slot(m))) {
			t.Errorf("no deletion event for slot %d:\n%s", m, ev)
		}
	}
}

func TestStartingDeadlineAfterDowntime(t *testing.T) {
	cj := cronJob("report", "*/5 * * * *", batchv1.AllowConcurrent)
	cj.Spec.StartingDeadlineSeconds = ptr.To[int64](30)
	cj.Status.LastScheduleTime = &metav1.Time{Time: t0}
	e := newEnv(t, cj)
	// Down across slots 5..20; back 40s after slot 20: outside the deadline, nothing runs.
	if d := e.sync(slot(20).Add(40 * time.Second)); d != 4*time.Minute+20*time.Second+nextDelta {
		t.Fatalf("requeue = %v", d)
	}
	if got := e.jobNames(); len(got) != 0 {
		t.Fatalf("jobs = %v", got)
	}
	// Back 10s after slot 25: inside the deadline, one catch-up run.
	e.sync(slot(25).Add(10 * time.Second))
	if got := e.jobNames(); len(got) != 1 || got[0] != JobName("report", slot(25)) {
		t.Fatalf("jobs = %v", got)
	}
}

func TestManualRunIsOwnedButNotActive(t *testing.T) {
	cj := cronJob("report", "0 0 1 1 *", batchv1.AllowConcurrent)
	manual := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "manual-1", Namespace: "default", UID: "manual-uid",
		Annotations:     map[string]string{"cronjob.kubernetes.io/instantiate": "manual"},
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "batch/v1", Kind: "CronJob", Name: "report", UID: "cj-uid", Controller: ptr.To(true)}}}}
	e := newEnv(t, cj, manual)
	e.sync(t0.Add(time.Minute))
	if got := e.cronJob(); len(got.Status.Active) != 0 {
		t.Fatalf("manual Job in active: %+v", got.Status.Active)
	}
	if ev := e.drained(); !strings.Contains(ev, "Warning UnexpectedJob Saw a job that the controller did not create or forgot: manual-1") {
		t.Fatalf("events:\n%s", ev)
	}
}

func TestSlotJobCreatedBeforeACrashIsNotCreatedTwice(t *testing.T) {
	cj := cronJob("report", "*/1 * * * ?", batchv1.AllowConcurrent)
	// The Job of slot 1 exists, but the status write was lost in the crash.
	existing := JobFor(cj, slot(1))
	existing.UID = "existing-uid"
	e := newEnv(t, cj, existing)
	e.sync(slot(1).Add(5 * time.Second))
	if got := e.jobNames(); len(got) != 1 {
		t.Fatalf("jobs = %v", got)
	}
	got := e.cronJob()
	if len(got.Status.Active) != 1 || got.Status.Active[0].UID != "existing-uid" || !got.Status.LastScheduleTime.Time.Equal(slot(1)) {
		t.Fatalf("status = %+v", got.Status)
	}
	if ev := e.drained(); strings.Contains(ev, "SuccessfulCreate") {
		t.Fatalf("claims a create:\n%s", ev)
	}
}

func TestInvalidTimeZoneAndScheduleAreReported(t *testing.T) {
	cj := cronJob("report", "*/1 * * * ?", batchv1.AllowConcurrent)
	cj.Spec.TimeZone = ptr.To("Mars/Olympus")
	e := newEnv(t, cj)
	if d := e.sync(slot(1).Add(time.Second)); d != 0 {
		t.Fatalf("requeue = %v", d)
	}
	if ev := e.drained(); !strings.Contains(ev, `Warning UnknownTimeZone invalid timeZone: "Mars/Olympus": unknown time zone Mars/Olympus`) {
		t.Fatalf("events:\n%s", ev)
	}
	p := Decide(Observed{CronJob: cronJob("report", "59 23 31 2 *", batchv1.AllowConcurrent), Now: t0.Add(time.Hour), Local: time.UTC})
	if len(p.Events) != 1 || p.Events[0].Message != "invalid schedule: 59 23 31 2 * : time difference between two schedules is less than 1 second" || p.Create != nil {
		t.Fatalf("plan = %+v", p)
	}
}

// A sync woken by the Job it just created, before the cache shows its own
// status write, must not take that Job for an unexpected one: it waits for
// the write (or, should the informer never show that version, for a while).
func TestSyncWaitsForItsOwnStatusWriteBeforeDeciding(t *testing.T) {
	e := newEnv(t, cronJob("report", "*/1 * * * ?", batchv1.AllowConcurrent))
	e.sync(slot(1).Add(time.Second))
	if ev := e.drained(); !strings.Contains(ev, "SuccessfulCreate") {
		t.Fatalf("events:\n%s", ev)
	}
	// As if the status write of that sync were not in the cache yet.
	e.c.written.wrote("default/report", "not-yet-seen")
	if d := e.sync(slot(1).Add(2 * time.Second)); d != writtenPatience {
		t.Fatalf("requeue while the cache is behind = %v, want %v", d, writtenPatience)
	}
	if ev := e.drained(); ev != "" {
		t.Fatalf("a sync on a stale cache recorded:\n%s", ev)
	}
	e.c.written.seen("default/report", "not-yet-seen") // the informer delivers it
	if d := e.sync(slot(1).Add(3 * time.Second)); d != 57*time.Second+nextDelta {
		t.Fatalf("requeue once the write is seen = %v", d)
	}
	// A version the informer never shows (it relisted past it) holds a sync
	// back for writtenPatience at most.
	e.c.written.wrote("default/report", "skipped")
	if d := e.sync(slot(1).Add(4 * time.Second)); d != writtenPatience {
		t.Fatalf("requeue = %v", d)
	}
	if d := e.sync(slot(1).Add(4*time.Second + writtenPatience + time.Millisecond)); d <= writtenPatience {
		t.Fatalf("after writtenPatience the sync decides; requeue = %v", d)
	}
	if len(e.jobNames()) != 1 {
		t.Fatalf("jobs = %v", e.jobNames())
	}
}

// TestSlotCreateHoldsOthersUntilItsStatusIsWritten: a sync that creates its
// slot's Job holds the other clients' writes back (Config.HoldOthers) from
// before the create until after its status write, and releases them then;
// a sync that creates nothing holds nothing.
func TestSlotCreateHoldsOthersUntilItsStatusIsWritten(t *testing.T) {
	e := newEnv(t, cronJob("report", "*/1 * * * ?", batchv1.AllowConcurrent))
	holds, held := 0, 0
	e.c.cfg.HoldOthers = func() func() {
		holds++
		held++
		return func() { held-- }
	}
	heldAt := map[string]int{}
	e.client.PrependReactor("*", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetVerb() == "create" || a.GetVerb() == "update" {
			heldAt[a.GetVerb()+" "+a.GetResource().Resource+"/"+a.GetSubresource()] = held
		}
		return false, nil, nil
	})
	e.sync(t0.Add(30 * time.Second))
	if holds != 0 {
		t.Fatalf("a sync before the first slot held the others back %d times", holds)
	}
	e.sync(slot(1).Add(time.Second))
	if want := map[string]int{"create jobs/": 1, "update cronjobs/status": 1}; !reflect.DeepEqual(heldAt, want) {
		t.Errorf("held while writing: %v, want %v", heldAt, want)
	}
	if holds != 1 || held != 0 {
		t.Errorf("after the sync: %d holds, %d still held; want 1 hold, released", holds, held)
	}
}

// TestStatusWrittenAfterTheSlotsCreates: with a StatusClient, a sync that
// creates its slot's Job leaves the status write (active, lastScheduleTime)
// to the status writer, holding the other clients back for the create only;
// until it is written the CronJob is not decided again (its cache would
// take the new Job for an unexpected one); once written, the next sync
// starts nothing more.
func TestStatusWrittenAfterTheSlotsCreates(t *testing.T) {
	e := newEnv(t, cronJob("report", "*/1 * * * ?", batchv1.AllowConcurrent))
	e.c.cfg.StatusClient = e.client
	held := 0
	e.c.cfg.HoldOthers = func() func() {
		held++
		return func() { held-- }
	}
	var writes []string
	e.client.PrependReactor("*", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetVerb() == "create" || a.GetVerb() == "update" {
			writes = append(writes, fmt.Sprintf("%s %s/%s held=%d", a.GetVerb(), a.GetResource().Resource, a.GetSubresource(), held))
		}
		return false, nil, nil
	})
	e.sync(slot(1).Add(time.Second))
	if want := []string{"create jobs/ held=1"}; !reflect.DeepEqual(writes, want) {
		t.Fatalf("the sync wrote %q, want %q", writes, want)
	}
	if st := e.cronJob().Status; len(st.Active) != 0 || st.LastScheduleTime != nil {
		t.Fatalf("status written by the sync: %+v", st)
	}
	e.drained()
	if d := e.sync(slot(1).Add(2 * time.Second)); d != writtenPatience {
		t.Fatalf("requeue while the status waits = %v, want %v", d, writtenPatience)
	}
	if ev := e.drained(); ev != "" {
		t.Fatalf("a sync before the status write recorded:\n%s", ev)
	}
	if _, err := e.c.writeStatus(e.ctx, "default/report"); err != nil {
		t.Fatal(err)
	}
	if want := "update cronjobs/status held=0"; len(writes) != 2 || writes[1] != want {
		t.Fatalf("writes %q, want then %q", writes, want)
	}
	st := e.cronJob().Status
	if len(st.Active) != 1 || st.Active[0].Name != JobName("report", slot(1)) || !st.LastScheduleTime.Time.Equal(slot(1)) {
		t.Fatalf("status = %+v", st)
	}
	e.c.written.forget("default/report") // the fake keeps no resourceVersions
	if d := e.sync(slot(1).Add(3 * time.Second)); d != 57*time.Second+nextDelta {
		t.Fatalf("requeue once written = %v", d)
	}
	if ev := e.drained(); ev != "" || len(e.jobNames()) != 1 {
		t.Fatalf("after the status write: jobs %v, events:\n%s", e.jobNames(), ev)
	}
}

// A CronJob deleted before its status is written leaves nothing to write.
func TestStatusLeftForADeletedCronJobIsDropped(t *testing.T) {
	e := newEnv(t, cronJob("report", "*/1 * * * ?", batchv1.AllowConcurrent))
	e.c.cfg.StatusClient = e.client
	e.sync(slot(1).Add(time.Second))
	if err := e.client.BatchV1().CronJobs("default").Delete(e.ctx, "report", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := wait.PollUntilContextTimeout(e.ctx, time.Millisecond, 5*time.Second, true, func(context.Context) (bool, error) {
		return e.c.later.get("default/report") == nil, nil
	}); err != nil {
		t.Fatal("the deleted CronJob's status is still to be written")
	}
}

// A status write refused as a conflict (the CronJob changed meanwhile) is
// dropped; the next sync decides again from what is stored, finds the slot's
// Job by its name and writes the status with it: one Job, never two.
func TestStatusConflictIsDecidedAgain(t *testing.T) {
	e := newEnv(t, cronJob("report", "*/1 * * * ?", batchv1.AllowConcurrent))
	e.c.cfg.StatusClient = e.client
	conflicts := 1
	e.client.PrependReactor("update", "cronjobs", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() == "status" && conflicts > 0 {
			conflicts--
			return true, nil, apierrors.NewConflict(batchv1.Resource("cronjobs"), "report", fmt.Errorf("the object has been modified"))
		}
		return false, nil, nil
	})
	e.sync(slot(1).Add(time.Second))
	if _, err := e.c.writeStatus(e.ctx, "default/report"); err != nil {
		t.Fatalf("a conflict is not retried as an error: %v", err)
	}
	if e.c.later.get("default/report") != nil {
		t.Fatal("the refused status is still to be written")
	}
	e.drained()
	e.sync(slot(1).Add(2 * time.Second))
	// As upstream after a crash between its create and its status write.
	if ev := e.drained(); !strings.Contains(ev, "Warning UnexpectedJob") {
		t.Errorf("the sync after the refused write recorded:\n%s", ev)
	}
	if _, err := e.c.writeStatus(e.ctx, "default/report"); err != nil {
		t.Fatal(err)
	}
	st := e.cronJob().Status
	if names := e.jobNames(); len(names) != 1 || len(st.Active) != 1 || st.Active[0].Name != names[0] ||
		st.LastScheduleTime == nil || !st.LastScheduleTime.Time.Equal(slot(1)) {
		t.Fatalf("jobs %v, status %+v", names, st)
	}
}
