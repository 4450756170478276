package history

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"

	"github.com/batchd/batchd/internal/apis/batchd/v1alpha1"
	"github.com/batchd/batchd/internal/controller/cronjob"
)

var jobRunsGVR = v1alpha1.SchemeGroupVersion.WithResource("jobruns")

// fakeRuns keeps JobRuns in client-go's object tracker.
type fakeRuns struct {
	tracker k8stesting.ObjectTracker
	rv      atomic.Int64
	creates atomic.Int64
}

func newFakeRuns(t *testing.T) *fakeRuns {
	s := runtime.NewScheme()
	if err := v1alpha1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	return &fakeRuns{tracker: k8stesting.NewObjectTracker(s, serializer.NewCodecFactory(s).UniversalDecoder())}
}

type fakeWriter struct {
	f  *fakeRuns
	ns string
}

func (f *fakeRuns) JobRuns(ns string) Writer              { return fakeWriter{f, ns} }
func (f *fakeRuns) IsWatchListSemanticsUnSupported() bool { return true }
func (f *fakeRuns) List(_ context.Context, opts metav1.ListOptions) (*v1alpha1.JobRunList, error) {
	obj, err := f.tracker.List(jobRunsGVR, v1alpha1.SchemeGroupVersion.WithKind("JobRun"), "")
	if err != nil {
		return nil, err
	}
	return obj.(*v1alpha1.JobRunList), nil
}
func (f *fakeRuns) Watch(_ context.Context, opts metav1.ListOptions) (watch.Interface, error) {
	return f.tracker.Watch(jobRunsGVR, "")
}

func (w fakeWriter) Create(_ context.Context, r *v1alpha1.JobRun, _ metav1.CreateOptions) (*v1alpha1.JobRun, error) {
	r = r.DeepCopy()
	r.UID = types.UID("uid-" + r.Name)
	r.ResourceVersion = fmt.Sprint(w.f.rv.Add(1))
	// Counted before it is stored: a test that sees the record must see
	// its create counted (the CI flake of 2026-11-30 read 0).
	w.f.creates.Add(1)
	if err := w.f.tracker.Create(jobRunsGVR, r, w.ns); err != nil {
		w.f.creates.Add(-1)
		return nil, err
	}
	return r, nil
}

func (w fakeWriter) Update(_ context.Context, r *v1alpha1.JobRun, _ metav1.UpdateOptions) (*v1alpha1.JobRun, error) {
	r = r.DeepCopy()
	r.ResourceVersion = fmt.Sprint(w.f.rv.Add(1))
	return r, w.f.tracker.Update(jobRunsGVR, r, w.ns)
}

func (w fakeWriter) Delete(_ context.Context, name string, _ metav1.DeleteOptions) error {
	return w.f.tracker.Delete(jobRunsGVR, w.ns, name)
}

func (f *fakeRuns) get(name string) (*v1alpha1.JobRun, error) {
	obj, err := f.tracker.Get(jobRunsGVR, "ns", name)
	if err != nil {
		return nil, err
	}
	return obj.(*v1alpha1.JobRun), nil
}

func startController(t *testing.T, client *fake.Clientset, runs *fakeRuns, clock *clocktesting.FakeClock, r Retention) *Controller {
	return startControllerDebounced(t, client, runs, clock, r, time.Millisecond)
}

func startControllerDebounced(t *testing.T, client *fake.Clientset, runs *fakeRuns, clock *clocktesting.FakeClock, r Retention, debounce time.Duration) *Controller {
	t.Helper()
	factory := informers.NewSharedInformerFactory(client, 0)
	c, err := New(Config{Runs: runs, Informer: factory, Clock: clock, Retention: r, Debounce: debounce})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	factory.Start(ctx.Done())
	factory.WaitForCacheSync(ctx.Done())
	go c.Run(ctx)
	return c
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	if err := wait.PollUntilContextTimeout(context.Background(), 5*time.Millisecond, 10*time.Second, true,
		func(context.Context) (bool, error) { return cond(), nil }); err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}

// The record follows its Job to the end, outlives it, goes after the
// retention (on the fake clock), and a restarted controller neither
// duplicates a record nor misses a Job deleted while it was down.
func TestControllerRecordsAndExpires(t *testing.T) {
	clock := clocktesting.NewFakeClock(t0)
	j := cronJob()
	client := fake.NewClientset(j)
	runs := newFakeRuns(t)
	c := startController(t, client, runs, clock, Retention{Age: time.Hour, PerCronJob: 10})
	waitFor(t, "running record", func() bool {
		r, err := runs.get(j.Name)
		return err == nil && r.Status.Outcome == v1alpha1.OutcomeRunning
	})
	failed := j.DeepCopy()
	failed.Status.Conditions = []batchv1.JobCondition{{Type: batchv1.JobFailed, Status: corev1.ConditionTrue, Reason: "DeadlineExceeded", LastTransitionTime: *at(time.Minute)}}
	if _, err := client.BatchV1().Jobs("ns").UpdateStatus(context.Background(), failed, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "failed record", func() bool {
		r, err := runs.get(j.Name)
		return err == nil && r.Status.Outcome == v1alpha1.OutcomeFailed && r.Status.Reason == "DeadlineExceeded"
	})
	if err := c.Expire(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := runs.get(j.Name); err != nil {
		t.Fatalf("a record whose Job exists expired: %v", err)
	}
	if err := client.BatchV1().Jobs("ns").Delete(context.Background(), j.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "job gone from the cache", func() bool { _, err := c.jobs.Jobs("ns").Get(j.Name); return apierrors.IsNotFound(err) })
	clock.Step(59 * time.Minute)
	if err := c.Expire(context.Background()); err != nil {
		t.Fatal(err)
	}
	if r, err := runs.get(j.Name); err != nil || r.Status.Outcome != v1alpha1.OutcomeFailed {
		t.Fatalf("record within retention: %v %+v", err, r)
	}
	clock.Step(2 * time.Minute)
	if err := c.Expire(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := runs.get(j.Name); !apierrors.IsNotFound(err) {
		t.Fatalf("record past retention: %v", err)
	}
	if n := runs.creates.Load(); n != 1 {
		t.Errorf("%d creates, want 1", n)
	}
}

// A Job that finishes and is deleted at once (ttlSecondsAfterFinished: 0),
// all before the controller's first sync of it, is recorded with the
// outcome its deletion showed, once.
func TestJobFinishedAndDeletedAtOnceKeepsItsOutcome(t *testing.T) {
	clock := clocktesting.NewFakeClock(t0)
	client := fake.NewClientset()
	runs := newFakeRuns(t)
	c := startControllerDebounced(t, client, runs, clock, Retention{Age: time.Hour}, 300*time.Millisecond)
	j := cronJob()
	ctx := context.Background()
	if _, err := client.BatchV1().Jobs("ns").Create(ctx, j, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	done := j.DeepCopy()
	done.Status.Conditions = []batchv1.JobCondition{{Type: batchv1.JobComplete, Status: corev1.ConditionTrue, LastTransitionTime: *at(time.Minute)}}
	done.Status.Succeeded = 1
	if _, err := client.BatchV1().Jobs("ns").UpdateStatus(ctx, done, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := client.BatchV1().Jobs("ns").Delete(ctx, j.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "succeeded record", func() bool {
		r, err := runs.get(j.Name)
		return err == nil && r.Status.Outcome == v1alpha1.OutcomeSucceeded
	})
	if n := runs.creates.Load(); n != 1 {
		t.Errorf("%d creates, want 1", n)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.gone) != 0 {
		t.Errorf("last states kept after their sync: %v", c.gone)
	}
}

// After a restart: a record of a running Job that went while the controller
// was down becomes Deleted; an existing record is not created again.
func TestControllerRestart(t *testing.T) {
	clock := clocktesting.NewFakeClock(t0)
	runs := newFakeRuns(t)
	gone := ForJob(cronJob())
	if _, err := runs.JobRuns("ns").Create(context.Background(), gone, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	kept := cronJob()
	kept.Name, kept.UID = "kept", "job-kept"
	if _, err := runs.JobRuns("ns").Create(context.Background(), ForJob(kept), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	startController(t, fake.NewClientset(kept), runs, clock, Retention{})
	waitFor(t, "deleted record", func() bool {
		r, err := runs.get(gone.Name)
		return err == nil && r.Status.Outcome == v1alpha1.OutcomeDeleted && r.Status.CompletionTime.Time.Equal(t0)
	})
	time.Sleep(50 * time.Millisecond) // let a wrong create show
	if n := runs.creates.Load(); n != 2 {
		t.Errorf("%d creates, want the 2 made before the restart", n)
	}
}

// Skipped slots are recorded once, by name, however often they are signalled.
func TestRecordSkipsIdempotent(t *testing.T) {
	clock := clocktesting.NewFakeClock(t0)
	runs := newFakeRuns(t)
	c := startController(t, fake.NewClientset(), runs, clock, Retention{Age: time.Hour})
	cj := &batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Name: "nightly", Namespace: "ns", UID: "cj-1"}}
	skips := []cronjob.Skip{
		{Name: cronjob.JobName("nightly", t0), Slot: t0, Reason: cronjob.MissedForbid, Count: 1},
		{Name: cronjob.JobName("nightly", t0.Add(-2*time.Hour)), Slot: t0.Add(-2 * time.Hour), Reason: cronjob.MissedForbid, Count: 1},
	}
	for range 2 {
		if err := c.RecordSkips(context.Background(), cj, skips); err != nil {
			t.Fatal(err)
		}
	}
	r, err := runs.get(cronjob.JobName("nightly", t0))
	if err != nil || r.Status.Reason != v1alpha1.SkipJobAlreadyActive {
		t.Fatalf("skip record: %v %+v", err, r)
	}
	if _, err := runs.get(skips[1].Name); !apierrors.IsNotFound(err) {
		t.Errorf("a slot older than the retention was recorded: %v", err)
	}
	if n := runs.creates.Load(); n != 1 {
		t.Errorf("%d creates, want 1", n)
	}
}

func startLazyController(t *testing.T, client *fake.Clientset, runs *fakeRuns, wall *clocktesting.FakeClock) *Controller {
	t.Helper()
	factory := informers.NewSharedInformerFactory(client, 0)
	c, err := New(Config{Runs: runs, Informer: factory, Clock: clocktesting.NewFakeClock(t0), Debounce: time.Millisecond,
		Quiet: time.Second, BusyQPS: 0.01, Wall: wall})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	factory.Start(ctx.Done())
	factory.WaitForCacheSync(ctx.Done())
	go c.Run(ctx)
	return c
}

// A Job that has not started gets its record once the Job path is quiet,
// not during a burst of Job changes; a started Job's record does not wait.
func TestLazyRecordWaitsForQuiet(t *testing.T) {
	wall := clocktesting.NewFakeClock(t0)
	client := fake.NewClientset()
	runs := newFakeRuns(t)
	c := startLazyController(t, client, runs, wall)
	ctx := context.Background()
	suspended := cronJob()
	suspended.Spec.Suspend = ptr.To(true)
	if _, err := client.BatchV1().Jobs("ns").Create(ctx, suspended, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the lazy record held", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.lazy["ns/"+suspended.Name]
	})
	started := cronJob()
	started.Name, started.UID = "started", "job-2"
	started.Status.StartTime = at(time.Second)
	if _, err := client.BatchV1().Jobs("ns").Create(ctx, started, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the started Job's record", func() bool { _, err := runs.get("started"); return err == nil })
	// Busy: another Job changed half a second ago.
	wall.Step(500 * time.Millisecond)
	if _, err := client.BatchV1().Jobs("ns").Create(ctx, &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "other", Namespace: "ns", UID: "job-3"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	wall.Step(500 * time.Millisecond)
	time.Sleep(50 * time.Millisecond)
	if _, err := runs.get(suspended.Name); !apierrors.IsNotFound(err) {
		t.Fatalf("the lazy record was written while Jobs changed: %v", err)
	}
	wall.Step(time.Second)
	waitFor(t, "the lazy record once quiet", func() bool {
		r, err := runs.get(suspended.Name)
		return err == nil && r.Status.Outcome == v1alpha1.OutcomeRunning && r.Status.StartTime == nil
	})
	if n := runs.creates.Load(); n != 3 {
		t.Errorf("%d creates, want 3", n)
	}
}

// A Job deleted before its record was written (it waited, lazy) is
// recorded as deleted, once.
func TestJobDeletedBeforeItsRecord(t *testing.T) {
	wall := clocktesting.NewFakeClock(t0)
	client := fake.NewClientset()
	runs := newFakeRuns(t)
	c := startLazyController(t, client, runs, wall)
	ctx := context.Background()
	j := cronJob()
	j.Spec.Suspend = ptr.To(true)
	if _, err := client.BatchV1().Jobs("ns").Create(ctx, j, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the lazy record held", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.lazy["ns/"+j.Name]
	})
	if err := client.BatchV1().Jobs("ns").Delete(ctx, j.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "deleted record", func() bool {
		r, err := runs.get(j.Name)
		return err == nil && r.Status.Outcome == v1alpha1.OutcomeDeleted
	})
	wall.Step(time.Minute) // a release of the stale lazy key must not write again
	time.Sleep(50 * time.Millisecond)
	if n := runs.creates.Load(); n != 1 {
		t.Errorf("%d creates, want 1", n)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.lazy) != 0 || len(c.released) != 0 {
		t.Errorf("keys left waiting: %v %v", c.lazy, c.released)
	}
}
