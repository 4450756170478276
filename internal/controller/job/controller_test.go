package job

import (
	"context"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
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
	start := metav1.NewTime(clk.Now().Add(-time.Minute))
	sel := map[string]string{"batch.kubernetes.io/controller-uid": "job-uid"}
	j := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "j", Namespace: "ns", UID: "job-uid"},
		Spec: batchv1.JobSpec{Completions: ptr.To[int32](1), Parallelism: ptr.To[int32](1),
			Selector: &metav1.LabelSelector{MatchLabels: sel},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: sel}, Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever,
				Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}},
		Status: batchv1.JobStatus{StartTime: &start, Active: 1, Ready: ptr.To[int32](0), Terminating: ptr.To[int32](0),
			UncountedTerminatedPods: &batchv1.UncountedTerminatedPods{}},
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "j-abcde", Namespace: "ns", UID: "pod-uid", Labels: sel,
			Finalizers:      []string{TrackingFinalizer},
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(j, batchv1.SchemeGroupVersion.WithKind("Job"))}},
		Spec:   j.Spec.Template.Spec,
		Status: corev1.PodStatus{Phase: corev1.PodSucceeded},
	}
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
