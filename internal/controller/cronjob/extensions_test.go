package cronjob

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/record"
	"k8s.io/component-base/metrics"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"

	"github.com/batchd/batchd/internal/cronspec"
)

// newEnvAt is newEnv with the controller started at start (the instant it
// is awake since) and, when slept is given, a monotonic clock that runs
// with the fake wall clock except for the time *slept says the machine
// slept.
func newEnvAt(t *testing.T, start time.Time, slept *time.Duration, objs ...runtime.Object) *env {
	t.Helper()
	client := fake.NewClientset(objs...)
	client.PrependReactor("create", "jobs", func(a k8stesting.Action) (bool, runtime.Object, error) {
		j := a.(k8stesting.CreateAction).GetObject().(*batchv1.Job)
		j.UID = types.UID("uid-" + j.Name)
		return false, nil, nil
	})
	e := &env{t: t, client: client, clock: clocktesting.NewFakeClock(start), events: record.NewFakeRecorder(10000), name: "report"}
	for _, o := range objs {
		if cj, ok := o.(*batchv1.CronJob); ok {
			e.name = cj.Name
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	e.ctx = ctx
	e.start(slept)
	return e
}

// start (re)starts the controller on the env's client: a restart keeps
// only what the API holds.
func (e *env) start(slept *time.Duration) {
	e.t.Helper()
	factory := informers.NewSharedInformerFactory(e.client, 0)
	e.registry = metrics.NewKubeRegistry()
	cfg := Config{Client: e.client, Informer: factory, Recorder: e.events, Clock: e.clock, Local: time.UTC, Register: e.registry.Register}
	if slept != nil {
		origin := e.clock.Now()
		cfg.Monotonic = func() time.Duration { return e.clock.Now().Sub(origin) - *slept }
	}
	c, err := New(cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	e.c = c
	factory.Start(e.ctx.Done())
	factory.WaitForCacheSync(e.ctx.Done())
}

// follow syncs at from and then whenever the controller asks to be
// requeued, until to.
func (e *env) follow(from, to time.Time) {
	e.t.Helper()
	for now := from; !now.After(to); {
		d := e.sync(now)
		if d <= 0 {
			return
		}
		now = now.Add(d)
	}
}

// scheduled lists the Jobs' scheduled-timestamp annotations in creation order.
func (e *env) scheduled() []string {
	e.t.Helper()
	list, _ := e.client.BatchV1().Jobs("default").List(e.ctx, metav1.ListOptions{})
	var out []string
	for _, j := range list.Items {
		out = append(out, j.Annotations[ScheduledTimestampAnnotation])
	}
	return out
}

func (e *env) annotate(key, value string) {
	e.t.Helper()
	cj := e.cronJob()
	if cj.Annotations == nil {
		cj.Annotations = map[string]string{}
	}
	cj.Annotations[key] = value
	if _, err := e.client.BatchV1().CronJobs("default").Update(e.ctx, cj, metav1.UpdateOptions{}); err != nil {
		e.t.Fatal(err)
	}
}

// metric is the value of a series of the controller's registry (0 if absent).
func (e *env) metric(name string, labels map[string]string) (float64, bool) {
	e.t.Helper()
	families, err := e.registry.Gather()
	if err != nil {
		e.t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	series:
		for _, m := range f.GetMetric() {
			got := map[string]string{}
			for _, l := range m.GetLabel() {
				got[l.GetName()] = l.GetValue()
			}
			for k, v := range labels {
				if got[k] != v {
					continue series
				}
			}
			if m.GetCounter() != nil {
				return m.GetCounter().GetValue(), true
			}
			return m.GetGauge().GetValue(), true
		}
	}
	return 0, false
}

func (e *env) missed(reason string) float64 {
	v, _ := e.metric("cronjob_controller_missed_schedules_total", map[string]string{"namespace": "default", "cronjob": e.name, "reason": reason})
	return v
}

func withAnnotations(cj *batchv1.CronJob, kv ...string) *batchv1.CronJob {
	if cj.Annotations == nil {
		cj.Annotations = map[string]string{}
	}
	for i := 0; i+1 < len(kv); i += 2 {
		cj.Annotations[kv[i]] = kv[i+1]
	}
	return cj
}

// --- DST ---

// The controller runs a 02:30 (01:30 in New York) CronJob across each DST
// change of Europe/Berlin and America/New_York: robfig/cron's behaviour by
// default, cronie's with batchd.dev/dst: once.
func TestDSTPolicyAcrossChanges(t *testing.T) {
	for _, tc := range []struct {
		name, tz, schedule string
		from, to           time.Time
		dst                string
		want               []string
	}{
		{"Berlin spring kubernetes", "Europe/Berlin", "30 2 * * *", time.Date(2027, 3, 27, 0, 0, 0, 0, time.UTC), time.Date(2027, 3, 29, 12, 0, 0, 0, time.UTC), "",
			[]string{"2027-03-27T02:30:00+01:00", "2027-03-29T02:30:00+02:00"}},
		{"Berlin spring once", "Europe/Berlin", "30 2 * * *", time.Date(2027, 3, 27, 0, 0, 0, 0, time.UTC), time.Date(2027, 3, 29, 12, 0, 0, 0, time.UTC), "once",
			[]string{"2027-03-27T02:30:00+01:00", "2027-03-28T03:00:00+02:00", "2027-03-29T02:30:00+02:00"}},
		{"Berlin fall kubernetes", "Europe/Berlin", "30 2 * * *", time.Date(2027, 10, 30, 0, 0, 0, 0, time.UTC), time.Date(2027, 11, 1, 12, 0, 0, 0, time.UTC), "kubernetes",
			[]string{"2027-10-30T02:30:00+02:00", "2027-10-31T02:30:00+02:00", "2027-10-31T02:30:00+01:00", "2027-11-01T02:30:00+01:00"}},
		{"Berlin fall once", "Europe/Berlin", "30 2 * * *", time.Date(2027, 10, 30, 0, 0, 0, 0, time.UTC), time.Date(2027, 11, 1, 12, 0, 0, 0, time.UTC), "once",
			[]string{"2027-10-30T02:30:00+02:00", "2027-10-31T02:30:00+02:00", "2027-11-01T02:30:00+01:00"}},
		{"New York spring kubernetes", "America/New_York", "30 2 * * *", time.Date(2027, 3, 13, 0, 0, 0, 0, time.UTC), time.Date(2027, 3, 15, 12, 0, 0, 0, time.UTC), "",
			[]string{"2027-03-13T02:30:00-05:00", "2027-03-15T02:30:00-04:00"}},
		{"New York spring once", "America/New_York", "30 2 * * *", time.Date(2027, 3, 13, 0, 0, 0, 0, time.UTC), time.Date(2027, 3, 15, 12, 0, 0, 0, time.UTC), "once",
			[]string{"2027-03-13T02:30:00-05:00", "2027-03-14T03:00:00-04:00", "2027-03-15T02:30:00-04:00"}},
		{"New York fall kubernetes", "America/New_York", "30 1 * * *", time.Date(2027, 11, 6, 0, 0, 0, 0, time.UTC), time.Date(2027, 11, 8, 12, 0, 0, 0, time.UTC), "",
			[]string{"2027-11-06T01:30:00-04:00", "2027-11-07T01:30:00-04:00", "2027-11-07T01:30:00-05:00", "2027-11-08T01:30:00-05:00"}},
		{"New York fall once", "America/New_York", "30 1 * * *", time.Date(2027, 11, 6, 0, 0, 0, 0, time.UTC), time.Date(2027, 11, 8, 12, 0, 0, 0, time.UTC), "once",
			[]string{"2027-11-06T01:30:00-04:00", "2027-11-07T01:30:00-04:00", "2027-11-08T01:30:00-05:00"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cj := cronJob("nightly", tc.schedule, batchv1.AllowConcurrent)
			cj.Spec.TimeZone = ptr.To(tc.tz)
			cj.CreationTimestamp = metav1.NewTime(tc.from.Add(-time.Hour))
			if tc.dst != "" {
				withAnnotations(cj, cronspec.DSTAnnotation, tc.dst)
			}
			e := newEnvAt(t, tc.from, nil, cj)
			e.follow(tc.from, tc.to)
			if got := e.scheduled(); strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Errorf("runs:\n got %v\nwant %v", got, tc.want)
			}
			if ev := e.drained(); strings.Contains(ev, "MissedSchedule") {
				t.Errorf("a DST change is no missed run:\n%s", ev)
			}
		})
	}
}

// --- jitter ---

func jitterUID(i int) types.UID {
	return types.UID(fmt.Sprintf("4a1c%04x-7d3e-4b5f-8c6d-%012x", i, i*7919))
}

// 1,000 CronJobs at "0 * * * *" with batchd.dev/jitter: 5m wake at offsets
// spread evenly over [0, 5m) (chi-square over 10 buckets below 27.88, the
// 0.999 quantile with 9 degrees of freedom: the expected count is 100 a
// bucket whatever the UIDs), the same offsets after a restart, and each
// starts its slot's Job at its offset, named and stamped for the slot.
func TestJitterSpreadsAThousandCronJobsStably(t *testing.T) {
	slot := t0.Add(time.Hour) // 11:00
	var objs []runtime.Object
	for i := 0; i < 1000; i++ {
		cj := withAnnotations(cronJob(fmt.Sprintf("cj-%d", i), "0 * * * *", batchv1.AllowConcurrent), cronspec.JitterAnnotation, "5m")
		cj.UID = jitterUID(i)
		objs = append(objs, cj)
	}
	offsets := func(e *env) []time.Duration {
		// A second before the slot, each asks to be woken at slot + offset (+100ms).
		e.clock.SetTime(slot.Add(-time.Second))
		var out []time.Duration
		for i := 0; i < 1000; i++ {
			d, err := e.c.sync(e.ctx, fmt.Sprintf("default/cj-%d", i))
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, d-time.Second-nextDelta)
		}
		return out
	}
	e := newEnvAt(t, t0, nil, objs...)
	first := offsets(e)
	var buckets [10]int
	for i, o := range first {
		if o < 0 || o >= 5*time.Minute {
			t.Fatalf("cj-%d offset %v", i, o)
		}
		buckets[o/(30*time.Second)]++
	}
	chi := 0.0
	for _, n := range buckets {
		chi += float64((n-100)*(n-100)) / 100
	}
	t.Logf("offsets in 30s buckets %v, chi-square %.2f", buckets, chi)
	if chi > 27.88 {
		t.Errorf("offsets not uniform: %v (chi-square %.2f)", buckets, chi)
	}
	if jobs := e.jobNames(); len(jobs) != 0 {
		t.Fatalf("jobs before the slot: %v", jobs)
	}
	e.start(nil) // a restart
	again := offsets(e)
	for i := range first {
		if first[i] != again[i] {
			t.Fatalf("cj-%d offset %v before the restart, %v after", i, first[i], again[i])
		}
	}
	// Each of a sample starts its 11:00 Job at its offset, not before.
	for i := 0; i < 1000; i += 97 {
		e.name = fmt.Sprintf("cj-%d", i)
		want := JobName(e.name, slot)
		if first[i] > 0 {
			e.sync(slot.Add(first[i] - time.Millisecond))
			if _, err := e.client.BatchV1().Jobs("default").Get(e.ctx, want, metav1.GetOptions{}); err == nil {
				t.Fatalf("%s started before its offset %v", e.name, first[i])
			}
		}
		if d := e.sync(slot.Add(first[i])); d != time.Hour+nextDelta {
			t.Errorf("%s requeue after its run = %v", e.name, d)
		}
		j, err := e.client.BatchV1().Jobs("default").Get(e.ctx, want, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("%s: no Job at its offset %v: %v", e.name, first[i], err)
		}
		if got := j.Annotations[ScheduledTimestampAnnotation]; got != "2026-11-23T11:00:00Z" {
			t.Errorf("%s scheduled timestamp %s", e.name, got)
		}
		if got := e.cronJob().Status.LastScheduleTime; got == nil || !got.Time.Equal(slot) {
			t.Errorf("%s lastScheduleTime %v", e.name, got)
		}
		if v, ok := e.metric("kube_cronjob_next_schedule_time", map[string]string{"namespace": "default", "cronjob": e.name}); !ok || int64(v) != slot.Add(time.Hour+first[i]).Unix() {
			t.Errorf("%s next schedule gauge %v (%v), want %v", e.name, v, ok, slot.Add(time.Hour+first[i]))
		}
	}
}

// startingDeadlineSeconds counts from the slot, not from the delayed start:
// a CronJob whose offset is past its deadline misses its slot (and says so).
func TestJitterStartingDeadlineCountsFromTheSlot(t *testing.T) {
	var early, late types.UID
	for i := 0; early == "" || late == ""; i++ {
		uid := jitterUID(i)
		switch o := cronspec.Offset(string(uid), 5*time.Minute); {
		case o > 0 && o < 50*time.Second && early == "":
			early = uid
		case o > 70*time.Second && late == "":
			late = uid
		}
	}
	for _, tc := range []struct {
		uid  types.UID
		runs bool
	}{{early, true}, {late, false}} {
		cj := withAnnotations(cronJob("report", "0 * * * *", batchv1.AllowConcurrent), cronspec.JitterAnnotation, "5m")
		cj.UID = tc.uid
		cj.Spec.StartingDeadlineSeconds = ptr.To[int64](60)
		e := newEnvAt(t, t0, nil, cj)
		offset := cronspec.Offset(string(tc.uid), 5*time.Minute)
		e.follow(t0.Add(time.Minute), t0.Add(time.Hour+offset+time.Second))
		jobs := e.jobNames()
		ev := e.drained()
		if tc.runs {
			if len(jobs) != 1 || jobs[0] != JobName("report", t0.Add(time.Hour)) {
				t.Errorf("offset %v within the deadline: jobs %v\n%s", offset, jobs, ev)
			}
			continue
		}
		if len(jobs) != 0 {
			t.Errorf("offset %v past the deadline: jobs %v", offset, jobs)
		}
		if !strings.Contains(ev, "Warning MissedSchedule Missed scheduled time 2026-11-23T11:00:00Z: startingDeadlineSeconds (60) passed before it could start") || e.missed(MissedDeadline) != 1 {
			t.Errorf("offset %v: no deadline signal (metric %v):\n%s", offset, e.missed(MissedDeadline), ev)
		}
	}
}

// --- catch-up ---

// downtime: the last run was at 10:00 (t0), the controller was down until
// 13:00:10. Six half-hour slots came meanwhile (10:30 … 13:00).
func downtimeCronJob(policy string, deadline *int64) *batchv1.CronJob {
	cj := cronJob("report", "*/30 * * * *", batchv1.AllowConcurrent)
	cj.CreationTimestamp = metav1.NewTime(t0.Add(-24 * time.Hour))
	cj.Status.LastScheduleTime = &metav1.Time{Time: t0}
	cj.Spec.StartingDeadlineSeconds = deadline
	if policy != "" {
		withAnnotations(cj, cronspec.CatchUpAnnotation, policy)
	}
	return cj
}

var back = t0.Add(3*time.Hour + 10*time.Second)

func slotTimes(ms ...int) []string {
	var out []string
	for _, m := range ms {
		out = append(out, slot(m).Format(time.RFC3339))
	}
	return out
}

func TestCatchUpAfterThreeHoursDown(t *testing.T) {
	t.Run("latest (default): only the most recent slot", func(t *testing.T) {
		e := newEnvAt(t, back, nil, downtimeCronJob("", nil))
		e.follow(back, back.Add(time.Minute))
		if got := e.scheduled(); strings.Join(got, " ") != slot(180).Format(time.RFC3339) {
			t.Errorf("runs %v", got)
		}
		ev := e.drained()
		if n := strings.Count(ev, "Warning MissedSchedule"); n != 5 || e.missed(MissedCatchUp) != 5 ||
			!strings.Contains(ev, "Missed scheduled time 2026-11-23T10:30:00Z: a later slot came before it could start (the controller was down or the machine asleep); catch-up policy latest runs only the most recent") {
			t.Errorf("%d signals, metric %v:\n%s", n, e.missed(MissedCatchUp), ev)
		}
	})
	t.Run("none: no missed slot, the next one as usual", func(t *testing.T) {
		e := newEnvAt(t, back, nil, downtimeCronJob("none", nil))
		e.follow(back, back.Add(time.Minute))
		if got := e.jobNames(); len(got) != 0 {
			t.Errorf("ran missed slots: %v", got)
		}
		ev := e.drained()
		if n := strings.Count(ev, "it came while the controller was down or the machine asleep; catch-up policy none runs no missed slot"); n != 6 || e.missed(MissedCatchUp) != 6 {
			t.Errorf("%d signals, metric %v:\n%s", n, e.missed(MissedCatchUp), ev)
		}
		e.follow(slot(210).Add(nextDelta), slot(211))
		if got := e.scheduled(); strings.Join(got, " ") != slot(210).Format(time.RFC3339) {
			t.Errorf("the first slot after the restart: runs %v", got)
		}
	})
	t.Run("all: every missed slot in order, each its own Job", func(t *testing.T) {
		e := newEnvAt(t, back, nil, downtimeCronJob("all", nil))
		e.follow(back, back.Add(time.Minute))
		want := slotTimes(30, 60, 90, 120, 150, 180)
		if got := e.scheduled(); strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("runs %v, want %v", got, want)
		}
		ev := e.drained()
		var order []string
		for _, line := range strings.Split(ev, "\n") {
			if name, ok := strings.CutPrefix(line, "Normal SuccessfulCreate Created job "); ok {
				order = append(order, name)
			}
		}
		var wantOrder []string
		for _, m := range []int{30, 60, 90, 120, 150, 180} {
			wantOrder = append(wantOrder, JobName("report", slot(m)))
		}
		if strings.Join(order, " ") != strings.Join(wantOrder, " ") {
			t.Errorf("created in order %v, want %v", order, wantOrder)
		}
		if strings.Contains(ev, "MissedSchedule") {
			t.Errorf("nothing was missed:\n%s", ev)
		}
		if cj := e.cronJob(); len(cj.Status.Active) != 6 || !cj.Status.LastScheduleTime.Time.Equal(slot(180)) {
			t.Errorf("status %+v", cj.Status)
		}
	})
	t.Run("all: within startingDeadlineSeconds only", func(t *testing.T) {
		e := newEnvAt(t, back, nil, downtimeCronJob("all", ptr.To[int64](3600)))
		e.follow(back, back.Add(time.Minute))
		if got, want := e.scheduled(), slotTimes(150, 180); strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("runs %v, want %v", got, want)
		}
		ev := e.drained()
		if n := strings.Count(ev, "passed before it could start"); n != 4 || e.missed(MissedDeadline) != 4 {
			t.Errorf("%d deadline signals (metric %v):\n%s", n, e.missed(MissedDeadline), ev)
		}
	})
	t.Run("all: at most 100", func(t *testing.T) {
		cj := downtimeCronJob("all", nil)
		cj.Spec.Schedule = "* * * * *"
		e := newEnvAt(t, back, nil, cj)
		e.follow(back, back.Add(30*time.Second))
		got := e.scheduled()
		if len(got) != 100 || got[0] != slot(81).Format(time.RFC3339) || got[99] != slot(180).Format(time.RFC3339) {
			t.Errorf("%d runs from %v to %v", len(got), got[0], got[len(got)-1])
		}
		ev := e.drained()
		tooMany := "more than 100 missed slots; catch-up policy all runs the most recent 100"
		if strings.Count(ev, tooMany) != 80 || !strings.Contains(ev, "Missed scheduled time 2026-11-23T10:01:00Z: "+tooMany) ||
			!strings.Contains(ev, "Missed scheduled time 2026-11-23T11:20:00Z: "+tooMany) || e.missed(MissedTooMany) != 80 {
			t.Errorf("metric %v:\n%s", e.missed(MissedTooMany), ev)
		}
	})
}

// A machine that sleeps stops the monotonic clock, not the wall clock: the
// controller sees the jump, syncs every CronJob at once, and counts the
// slots slept through as missed ones.
func TestWallClockJumpIsDowntime(t *testing.T) {
	for _, policy := range []string{"latest", "none"} {
		t.Run(policy, func(t *testing.T) {
			cj := withAnnotations(cronJob("report", "*/30 * * * *", batchv1.AllowConcurrent), cronspec.CatchUpAnnotation, policy)
			var slept time.Duration
			e := newEnvAt(t, t0, &slept, cj)
			e.follow(t0, slot(31))
			if got := e.scheduled(); strings.Join(got, " ") != slot(30).Format(time.RFC3339) {
				t.Fatalf("runs before the sleep %v", got)
			}
			// 3 h of sleep: the wall clock moves on, the monotonic one does not.
			slept = 3 * time.Hour
			e.clock.SetTime(slot(31).Add(3 * time.Hour))
			e.c.checkClock()
			if e.c.runner.Queue.Len() != 1 {
				t.Fatalf("after the jump %d CronJobs queued, want all (1)", e.c.runner.Queue.Len())
			}
			e.c.checkClock()
			e.follow(slot(211), slot(212))
			want := slotTimes(30)
			if policy == "latest" {
				want = slotTimes(30, 210)
			}
			if got := e.scheduled(); strings.Join(got, " ") != strings.Join(want, " ") {
				t.Errorf("runs %v, want %v", got, want)
			}
			if n := e.missed(MissedCatchUp); (policy == "latest" && n != 5) || (policy == "none" && n != 6) {
				t.Errorf("missed %v", n)
			}
			// Awake again: the next slot runs under either policy.
			e.follow(slot(240).Add(nextDelta), slot(241))
			if got := e.scheduled(); got[len(got)-1] != slot(240).Format(time.RFC3339) {
				t.Errorf("after waking: runs %v", got)
			}
		})
	}
}

// --- triggers ---

func triggerCronJob(policy batchv1.ConcurrencyPolicy) *batchv1.CronJob {
	return cronJob("report", "0 0 1 1 *", policy) // a slot far away: only triggers run
}

func TestTriggerUnderEachConcurrencyPolicy(t *testing.T) {
	now := t0.Add(90 * time.Second)
	for _, tc := range []struct {
		policy     batchv1.ConcurrencyPolicy
		wantJobs   []string // after triggers a then b
		wantActive []string
		wantEvents []string
	}{
		{batchv1.AllowConcurrent, []string{"a", "b"}, []string{"a", "b"}, nil},
		{batchv1.ForbidConcurrent, []string{"a"}, []string{"a"}, []string{
			"Normal JobAlreadyActive Not starting job because prior execution is running and concurrency policy is Forbid",
			`Warning MissedSchedule Missed trigger "b": a previous run is still active and concurrencyPolicy is Forbid`}},
		{batchv1.ReplaceConcurrent, []string{"b"}, []string{"b"}, []string{"Normal SuccessfulDelete Deleted job report-t"}},
	} {
		t.Run(string(tc.policy), func(t *testing.T) {
			e := newEnvAt(t, t0, nil, triggerCronJob(tc.policy))
			cj := e.cronJob()
			name := map[string]string{"a": TriggerJobName(cj, "a"), "b": TriggerJobName(cj, "b")}
			e.annotate(cronspec.TriggerAnnotation, "a")
			e.sync(now)
			j, err := e.client.BatchV1().Jobs("default").Get(e.ctx, name["a"], metav1.GetOptions{})
			if err != nil {
				t.Fatalf("trigger a: %v (jobs %v)", err, e.jobNames())
			}
			if j.Annotations[ScheduledTimestampAnnotation] != "2026-11-23T10:01:30Z" || j.Annotations[cronspec.TriggerAnnotation] != "a" || metav1.GetControllerOf(j).Name != "report" {
				t.Errorf("trigger Job %+v", j.ObjectMeta)
			}
			got := e.cronJob()
			if got.Annotations[cronspec.TriggerHandledAnnotation] != "a" || !got.Status.LastScheduleTime.Time.Equal(now) || len(got.Status.Active) != 1 {
				t.Fatalf("after trigger a: annotations %v status %+v", got.Annotations, got.Status)
			}
			e.drained()
			e.annotate(cronspec.TriggerAnnotation, "b")
			e.sync(now.Add(time.Minute))
			var want, active []string
			for _, k := range tc.wantJobs {
				want = append(want, name[k])
			}
			for _, k := range tc.wantActive {
				active = append(active, name[k])
			}
			if got := e.jobNames(); strings.Join(got, " ") != strings.Join(want, " ") {
				t.Errorf("jobs %v, want %v", got, want)
			}
			got = e.cronJob()
			var gotActive []string
			for _, r := range got.Status.Active {
				gotActive = append(gotActive, r.Name)
			}
			if strings.Join(gotActive, " ") != strings.Join(active, " ") || got.Annotations[cronspec.TriggerHandledAnnotation] != "b" {
				t.Errorf("active %v (want %v), handled %q", gotActive, active, got.Annotations[cronspec.TriggerHandledAnnotation])
			}
			ev := e.drained()
			for _, w := range tc.wantEvents {
				if !strings.Contains(ev, w) {
					t.Errorf("no %q in:\n%s", w, ev)
				}
			}
			if forbid := e.missed(MissedForbid); (tc.policy == batchv1.ForbidConcurrent) != (forbid == 1) {
				t.Errorf("forbid metric %v", forbid)
			}
		})
	}
}

// A token fires once: syncing again, re-applying it, restarting, or
// setting it back after another token do not start it again.
func TestTriggerTokenFiresOnce(t *testing.T) {
	e := newEnvAt(t, t0, nil, triggerCronJob(batchv1.AllowConcurrent))
	e.annotate(cronspec.TriggerAnnotation, "deploy-42")
	e.sync(t0.Add(time.Minute))
	e.sync(t0.Add(2 * time.Minute))
	e.annotate(cronspec.TriggerAnnotation, "deploy-42") // re-applied manifest
	e.sync(t0.Add(3 * time.Minute))
	e.start(nil) // a restart
	e.sync(t0.Add(4 * time.Minute))
	if got := e.jobNames(); len(got) != 1 {
		t.Fatalf("jobs %v, want one run", got)
	}
	e.annotate(cronspec.TriggerAnnotation, "deploy-43")
	e.sync(t0.Add(5 * time.Minute))
	e.annotate(cronspec.TriggerAnnotation, "deploy-42") // an old token again: its Job exists
	e.sync(t0.Add(6 * time.Minute))
	if got := e.jobNames(); len(got) != 2 {
		t.Fatalf("jobs %v, want the two tokens' runs", got)
	}
	if ev := e.drained(); strings.Count(ev, "SuccessfulCreate") != 2 || strings.Contains(ev, "UnexpectedJob") {
		t.Errorf("events:\n%s", ev)
	}
}

// A crash after the trigger's Job was created but before its token was
// recorded (with or without the status write) does not start a second run.
func TestTriggerCrashBetweenCreateAndRecord(t *testing.T) {
	for _, statusWritten := range []bool{false, true} {
		t.Run(fmt.Sprintf("status written %v", statusWritten), func(t *testing.T) {
			cj := withAnnotations(triggerCronJob(batchv1.ForbidConcurrent), cronspec.TriggerAnnotation, "x")
			existing := JobFor(cj, t0.Add(time.Minute))
			existing.Name = TriggerJobName(cj, "x")
			existing.UID = "existing-uid"
			if statusWritten {
				cj.Status.Active = []corev1.ObjectReference{Ref(existing)}
				cj.Status.LastScheduleTime = &metav1.Time{Time: t0.Add(time.Minute)}
			}
			e := newEnvAt(t, t0.Add(2*time.Minute), nil, cj, existing)
			e.sync(t0.Add(2 * time.Minute))
			if got := e.jobNames(); len(got) != 1 {
				t.Fatalf("jobs %v", got)
			}
			got := e.cronJob()
			if got.Annotations[cronspec.TriggerHandledAnnotation] != "x" || len(got.Status.Active) != 1 || got.Status.Active[0].UID != "existing-uid" ||
				!got.Status.LastScheduleTime.Time.Equal(t0.Add(time.Minute)) {
				t.Errorf("annotations %v status %+v", got.Annotations, got.Status)
			}
			if ev := e.drained(); ev != "" {
				t.Errorf("events (a recovery, not a run):\n%s", ev)
			}
		})
	}
}

// A trigger that comes with a due slot runs after it (Allow: both run); a
// suspended CronJob skips a trigger as it skips a slot.
func TestTriggerWithADueSlotAndWhenSuspended(t *testing.T) {
	e := newEnvAt(t, t0, nil, cronJob("report", "*/5 * * * *", batchv1.AllowConcurrent))
	e.annotate(cronspec.TriggerAnnotation, "now")
	at := slot(5).Add(time.Second)
	if d := e.sync(at); d != nextDelta {
		t.Fatalf("requeue with a trigger waiting = %v", d)
	}
	e.sync(at.Add(nextDelta))
	if got, want := e.jobNames(), []string{JobName("report", slot(5)), TriggerJobName(e.cronJob(), "now")}; strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("jobs %v, want %v", got, want)
	}
	if st := e.cronJob().Status; len(st.Active) != 2 || !st.LastScheduleTime.Time.Equal(at.Truncate(time.Second)) {
		t.Errorf("status %+v", st)
	}

	cj := withAnnotations(triggerCronJob(batchv1.AllowConcurrent), cronspec.TriggerAnnotation, "t")
	cj.Spec.Suspend = ptr.To(true)
	s := newEnvAt(t, t0, nil, cj)
	s.sync(t0.Add(time.Minute))
	if got := s.jobNames(); len(got) != 0 {
		t.Errorf("suspended CronJob ran a trigger: %v", got)
	}
	if s.cronJob().Annotations[cronspec.TriggerHandledAnnotation] != "t" || s.missed(MissedSuspended) != 1 {
		t.Errorf("suspended skip not recorded: %v %v", s.cronJob().Annotations, s.missed(MissedSuspended))
	}
	if ev := s.drained(); !strings.Contains(ev, `Warning MissedSchedule Missed trigger "t": the CronJob is suspended`) {
		t.Errorf("events:\n%s", ev)
	}
}

// A CronJob whose schedule never fires ("0 0 31 2 *", the usual
// manual-only CronJob) still runs its triggers.
func TestTriggerOfAManualOnlyCronJob(t *testing.T) {
	cj := withAnnotations(cronJob("report", "0 0 31 2 *", batchv1.ForbidConcurrent), cronspec.TriggerAnnotation, "go")
	e := newEnvAt(t, t0, nil, cj)
	e.sync(t0.Add(time.Minute))
	if got := e.jobNames(); len(got) != 1 || got[0] != TriggerJobName(cj, "go") {
		t.Fatalf("jobs %v", got)
	}
	if ev := e.drained(); !strings.Contains(ev, "Warning InvalidSchedule invalid schedule: 0 0 31 2 *") || !strings.Contains(ev, "Normal SuccessfulCreate") {
		t.Errorf("events:\n%s", ev)
	}
}

// --- the missed-run signal ---

// Each missed slot is signalled once, however often the CronJob syncs.
func TestMissedScheduleSignalledOncePerSlot(t *testing.T) {
	e := newEnvAt(t, t0, nil, cronJob("report", "*/1 * * * ?", batchv1.ForbidConcurrent))
	e.sync(slot(1).Add(time.Second))
	for _, at := range []time.Time{slot(2).Add(time.Second), slot(2).Add(5 * time.Second), slot(2).Add(9 * time.Second), slot(3).Add(time.Second)} {
		e.sync(at)
	}
	ev := e.drained()
	if n := strings.Count(ev, "Normal JobAlreadyActive"); n != 4 {
		t.Errorf("JobAlreadyActive (upstream: each sync) %d times", n)
	}
	for _, m := range []int{2, 3} {
		want := fmt.Sprintf("Warning MissedSchedule Missed scheduled time %s: a previous run is still active and concurrencyPolicy is Forbid", slot(m).Format(time.RFC3339))
		if strings.Count(ev, want) != 1 {
			t.Errorf("slot %d signalled %d times:\n%s", m, strings.Count(ev, want), ev)
		}
	}
	if e.missed(MissedForbid) != 2 {
		t.Errorf("metric %v", e.missed(MissedForbid))
	}
}

func TestMissedScheduleWhileSuspendedAndNextScheduleGauge(t *testing.T) {
	cj := cronJob("report", "*/10 * * * *", batchv1.AllowConcurrent)
	e := newEnvAt(t, t0, nil, cj)
	e.sync(t0.Add(time.Minute))
	if v, ok := e.metric("kube_cronjob_next_schedule_time", map[string]string{"namespace": "default", "cronjob": "report"}); !ok || int64(v) != slot(10).Unix() {
		t.Errorf("next schedule gauge %v %v, want %v", v, ok, slot(10).Unix())
	}
	cj = e.cronJob()
	cj.Spec.Suspend = ptr.To(true)
	if _, err := e.client.BatchV1().CronJobs("default").Update(e.ctx, cj, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	// Suspended: not requeued (upstream), but reminded at the next slot to signal it.
	p := Decide(Observed{CronJob: e.cronJob(), Now: t0.Add(time.Minute), Local: time.UTC})
	if p.Requeue != 0 || p.Remind != 9*time.Minute+nextDelta || len(p.Events) != 0 {
		t.Errorf("suspended plan: requeue %v remind %v events %v", p.Requeue, p.Remind, p.Events)
	}
	e.sync(slot(10).Add(nextDelta))
	e.sync(slot(20).Add(nextDelta))
	if ev := e.drained(); strings.Count(ev, "Warning MissedSchedule") != 2 || !strings.Contains(ev, "Missed scheduled time 2026-11-23T10:20:00Z: the CronJob is suspended") {
		t.Errorf("events:\n%s", ev)
	}
	if _, ok := e.metric("kube_cronjob_next_schedule_time", map[string]string{"cronjob": "report"}); ok {
		t.Error("suspended CronJob keeps a next-schedule series")
	}
	if e.missed(MissedSuspended) != 2 || len(e.jobNames()) != 0 {
		t.Errorf("metric %v jobs %v", e.missed(MissedSuspended), e.jobNames())
	}
	// Deleted: its series go.
	if err := e.client.BatchV1().CronJobs("default").Delete(e.ctx, "report", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := e.c.cronJobs.CronJobs("default").Get("report"); err != nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if _, err := e.c.sync(e.ctx, "default/report"); err != nil {
		t.Fatal(err)
	}
	if _, ok := e.metric("cronjob_controller_missed_schedules_total", map[string]string{"cronjob": "report"}); ok {
		t.Error("deleted CronJob keeps its missed-schedule series")
	}
}

// Upstream's deadline case, signalled: down across four slots and back
// past the deadline of each.
func TestMissedScheduleAfterDowntimePastTheDeadline(t *testing.T) {
	cj := cronJob("report", "*/5 * * * *", batchv1.AllowConcurrent)
	cj.Spec.StartingDeadlineSeconds = ptr.To[int64](30)
	cj.Status.LastScheduleTime = &metav1.Time{Time: t0}
	e := newEnvAt(t, slot(20).Add(40*time.Second), nil, cj)
	e.sync(slot(20).Add(40 * time.Second))
	ev := e.drained()
	if n := strings.Count(ev, "startingDeadlineSeconds (30) passed before it could start"); n != 4 || e.missed(MissedDeadline) != 4 {
		t.Errorf("%d signals, metric %v:\n%s", n, e.missed(MissedDeadline), ev)
	}
	// More than 100 at once: one event, counted in full.
	old := cronJob("report", "*/1 * * * ?", batchv1.AllowConcurrent)
	old.CreationTimestamp = metav1.NewTime(t0.Add(-10 * 24 * time.Hour))
	old.Status.LastScheduleTime = &metav1.Time{Time: t0.Add(-10 * 24 * time.Hour)}
	o := newEnvAt(t, t0.Add(30*time.Second), nil, old)
	o.sync(t0.Add(30 * time.Second))
	ev = o.drained()
	if strings.Count(ev, "Warning MissedSchedule") != 1 || !strings.Contains(ev, "Missed 14399 scheduled times from 2026-11-13T10:01:00Z to 2026-11-23T09:59:00Z: more than 100 missed start times") ||
		o.missed(MissedTooMany) != 14399 {
		t.Errorf("metric %v:\n%s", o.missed(MissedTooMany), ev)
	}
}

func TestInvalidAnnotationReadAsDefault(t *testing.T) {
	cj := withAnnotations(cronJob("report", "*/1 * * * *", batchv1.AllowConcurrent), cronspec.CatchUpAnnotation, "some")
	p := Decide(Observed{CronJob: cj, Now: slot(1).Add(time.Second), Local: time.UTC})
	if p.Create == nil || len(p.Events) != 1 || p.Events[0].Reason != ReasonInvalidAnnotation ||
		p.Events[0].Message != `metadata.annotations[batchd.dev/catch-up]: Unsupported value: "some": supported values: "latest", "none", "all" (read as the default)` {
		t.Errorf("plan %+v", p)
	}
}

// Under a virtual clock months ahead of the API server's creationTimestamp,
// a new CronJob counts from when the controller first saw it (Created):
// no slot before is "missed", its first Job comes at its first slot after.
func TestCreatedOnTheControllersClock(t *testing.T) {
	cj := cronJob("weekly", "0 9 * * 1", batchv1.AllowConcurrent)
	cj.CreationTimestamp = metav1.NewTime(time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)) // real time
	now := time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC)                                    // virtual, a Monday
	if p := Decide(Observed{CronJob: cj, Now: now, Local: time.UTC}); p.Create == nil {
		t.Fatal("from the real creationTimestamp a slot was missed: the test proves nothing")
	}
	p := Decide(Observed{CronJob: cj, Now: now, Local: time.UTC, Created: now})
	if p.Create != nil || len(p.Events) != 0 {
		t.Errorf("created now on the virtual clock: create %v, events %v", p.Create != nil, p.Events)
	}
	p = Decide(Observed{CronJob: cj, Now: now.Add(9 * time.Hour), Local: time.UTC, Created: now})
	if p.Create == nil || !p.Scheduled.Equal(now.Add(9*time.Hour)) {
		t.Errorf("first slot: create %v at %v", p.Create != nil, p.Scheduled)
	}
}
