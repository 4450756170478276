package job

import (
	"context"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/record"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
)

// startController makes a controller on a fake clientset holding objs, its
// informers started and synced until ctx ends (batch 0: the default period).
func startController(t *testing.T, ctx context.Context, clk *clocktesting.FakeClock, batch time.Duration, objs ...runtime.Object) (*Controller, *fake.Clientset) {
	t.Helper()
	client := fake.NewClientset(objs...)
	factory := informers.NewSharedInformerFactory(client, 0)
	c, err := New(Config{Client: client, Informer: factory, Clock: clk, Recorder: record.NewFakeRecorder(100), SyncBatchPeriod: batch})
	if err != nil {
		t.Fatal(err)
	}
	factory.Start(ctx.Done())
	factory.WaitForCacheSync(ctx.Done())
	return c, client
}

// The controller decides on its clock: a Job's startTime is the clock's
// time, not the machine's (a virtual clock's status times are virtual).
func TestControllerStampsItsClocksTime(t *testing.T) {
	at := time.Date(2027, 1, 4, 0, 2, 0, 0, time.UTC)
	clk := clocktesting.NewFakeClock(at)
	j := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "j", Namespace: "ns", UID: "job-uid"},
		Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever,
			Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}},
	}
	ctx := t.Context()
	c, client := startController(t, ctx, clk, 0, j)
	go c.Run(ctx)
	var got *metav1.Time
	err := wait.PollUntilContextTimeout(ctx, 10*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		j, err := client.BatchV1().Jobs("ns").Get(ctx, "j", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		got = j.Status.StartTime
		return got != nil, nil
	})
	if err != nil {
		t.Fatalf("no startTime: %v", err)
	}
	if !got.Time.Equal(at) {
		t.Errorf("startTime %v, want the controller's clock %v", got.Time, at)
	}
}

// As upstream's flushUncountedAndRemoveFinalizers, one sync records a
// finished pod, releases its finalizer and counts it: the Job whose last pod
// succeeded is Complete after that sync, not after another one a batching
// period later (here an hour, which the test never waits for).
func TestOneSyncCountsTheLastPodAndCompletes(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Date(2027, 1, 4, 0, 2, 0, 0, time.UTC))
	j := startedJob(clk, 1, 1)
	pod := trackedPod(j, "j-abcde", corev1.PodSucceeded)
	ctx := t.Context()
	c, client := startController(t, ctx, clk, time.Hour, j, pod)
	if _, err := c.sync(ctx, "ns/j"); err != nil {
		t.Fatal(err)
	}
	got, err := client.BatchV1().Jobs("ns").Get(ctx, "j", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Status.Succeeded != 1 || got.Status.Active != 0 || len(got.Status.UncountedTerminatedPods.Succeeded) != 0 {
		t.Errorf("status after one sync: succeeded %d active %d uncounted %v", got.Status.Succeeded, got.Status.Active, got.Status.UncountedTerminatedPods)
	}
	if _, ok := hasCond(&got.Status, batchv1.JobComplete); !ok || got.Status.CompletionTime == nil {
		t.Errorf("not Complete after one sync: %+v", got.Status.Conditions)
	}
	p, err := client.CoreV1().Pods("ns").Get(ctx, "j-abcde", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Finalizers) != 0 {
		t.Errorf("finalizers %v", p.Finalizers)
	}
	// Two status writes, as upstream's flush: the pod recorded, then counted.
	writes := 0
	for _, a := range client.Actions() {
		if a.GetVerb() == "update" && a.GetSubresource() == "status" {
			writes++
		}
	}
	if writes != 2 {
		t.Errorf("%d status writes, want 2 (recorded, then counted and Complete)", writes)
	}
}

// A pod informer a step behind the Job informer shows a counted pod still
// holding its finalizer: the controller that removed it must not record and
// count it again (upstream's expectedRmFinalizers), however many syncs run
// before the informer catches up. Here the informers read from a clientset of
// their own, so the test sets what they show: each Job as a sync wrote it,
// the pods from before their finalizers went.
func TestAStalePodInformerDoesNotCountAPodTwice(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Date(2027, 1, 4, 0, 2, 0, 0, time.UTC))
	j := startedJob(clk, 3, 2)
	pod := func(name string, phase corev1.PodPhase) *corev1.Pod { return trackedPod(j, name, phase) }
	done, first, second := pod("j-done", corev1.PodSucceeded), pod("j-first", corev1.PodRunning), pod("j-second", corev1.PodRunning)
	ctx := t.Context()
	api := fake.NewClientset(j, done, first, second)
	seen := fake.NewClientset(j, done, first, second)
	factory := informers.NewSharedInformerFactory(seen, 0)
	c, err := New(Config{Client: api, Informer: factory, Clock: clk, Recorder: record.NewFakeRecorder(100), SyncBatchPeriod: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	factory.Start(ctx.Done())
	factory.WaitForCacheSync(ctx.Done())

	shown := func(what string, ok func() bool) {
		t.Helper()
		if err := wait.PollUntilContextTimeout(ctx, 5*time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) { return ok(), nil }); err != nil {
			t.Fatalf("the informers never showed %s: %v", what, err)
		}
	}
	// catchUpJob shows the Job as the API holds it; the pods stay as they were.
	catchUpJob := func() {
		t.Helper()
		written, err := api.BatchV1().Jobs("ns").Get(ctx, "j", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := seen.BatchV1().Jobs("ns").UpdateStatus(ctx, written, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		shown("the written status", func() bool {
			got, err := c.jobs.Jobs("ns").Get("j")
			return err == nil && got.Status.Succeeded == written.Status.Succeeded
		})
	}
	sync := func(wantSucceeded int32) {
		t.Helper()
		if _, err := c.sync(ctx, "ns/j"); err != nil {
			t.Fatal(err)
		}
		got, err := api.BatchV1().Jobs("ns").Get(ctx, "j", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if st := got.Status; st.Succeeded != wantSucceeded || len(st.UncountedTerminatedPods.Succeeded) != 0 || len(st.Conditions) != 0 {
			t.Fatalf("succeeded %d uncounted %v conditions %v, want %d, none, none",
				st.Succeeded, st.UncountedTerminatedPods, st.Conditions, wantSucceeded)
		}
	}

	sync(1) // j-done recorded, released and counted in one sync
	catchUpJob()
	sync(1) // j-done still shows its finalizer: not counted again

	// j-first ends; the informer shows it, finalizer and all.
	first.Status.Phase = corev1.PodSucceeded
	for _, cs := range []*fake.Clientset{api, seen} {
		if _, err := cs.CoreV1().Pods("ns").UpdateStatus(ctx, first, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	shown("j-first succeeded", func() bool {
		p, err := c.pods.Pods("ns").Get("j-first")
		return err == nil && p.Status.Phase == corev1.PodSucceeded
	})
	sync(2) // j-first counted; j-done, still stale, remembered through it
	catchUpJob()
	sync(2) // both stale: neither counted again

	// Once the pod informer shows the removals, the controller forgets them.
	for _, name := range []string{"j-done", "j-first"} {
		fresh, err := api.CoreV1().Pods("ns").Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := seen.CoreV1().Pods("ns").Update(ctx, fresh, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		shown(name+"'s removal", func() bool {
			p, err := c.pods.Pods("ns").Get(name)
			return err == nil && !hasString(p.Finalizers, TrackingFinalizer)
		})
	}
	sync(2)
	if n := len(c.releasing.m); n != 0 {
		t.Errorf("%d Jobs with removals still remembered after the informer showed them", n)
	}
}

// startedJob is a Job started a minute before clk's time whose pods (as
// many active as its parallelism) carry its controller-uid label.
func startedJob(clk *clocktesting.FakeClock, completions, parallelism int32) *batchv1.Job {
	start := metav1.NewTime(clk.Now().Add(-time.Minute))
	sel := map[string]string{"batch.kubernetes.io/controller-uid": "job-uid"}
	return &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "j", Namespace: "ns", UID: "job-uid"},
		Spec: batchv1.JobSpec{Completions: ptr.To(completions), Parallelism: ptr.To(parallelism),
			Selector: &metav1.LabelSelector{MatchLabels: sel},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: sel}, Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever,
				Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}},
		Status: batchv1.JobStatus{StartTime: &start, Active: parallelism, Ready: ptr.To[int32](0), Terminating: ptr.To[int32](0),
			UncountedTerminatedPods: &batchv1.UncountedTerminatedPods{}},
	}
}

// trackedPod is a pod of j in phase, holding the tracking finalizer; its
// UID is its name and "-uid".
func trackedPod(j *batchv1.Job, name string, phase corev1.PodPhase) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: j.Namespace, UID: types.UID(name + "-uid"), Labels: j.Spec.Template.Labels,
			Finalizers:      []string{TrackingFinalizer},
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(j, batchv1.SchemeGroupVersion.WithKind("Job"))}},
		Spec:   j.Spec.Template.Spec,
		Status: corev1.PodStatus{Phase: phase},
	}
}
