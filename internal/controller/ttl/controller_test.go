package ttl

import (
	"context"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
)

// The controller deletes an expired Job and keeps one whose TTL has not passed,
// judged by the fake clock, with no real waiting.
func TestControllerDeletesExpiredJobs(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	job := func(name string, ttl int32) *batchv1.Job {
		return &batchv1.Job{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID("uid-" + name)},
			Spec:       batchv1.JobSpec{TTLSecondsAfterFinished: ptr.To(ttl)},
			Status: batchv1.JobStatus{Conditions: []batchv1.JobCondition{{
				Type: batchv1.JobComplete, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(t0),
			}}},
		}
	}
	client := fake.NewClientset(job("old", 60), job("young", 3600))
	factory := informers.NewSharedInformerFactory(client, 0)
	clk := clocktesting.NewFakeClock(t0.Add(2 * time.Minute))
	c, err := New(Config{Client: client, Informer: factory, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	factory.Start(ctx.Done())
	factory.WaitForCacheSync(ctx.Done())

	if requeue, err := c.sync(ctx, "default/old"); err != nil || requeue != 0 {
		t.Fatalf("sync old: requeue=%v err=%v", requeue, err)
	}
	if _, err := client.BatchV1().Jobs("default").Get(ctx, "old", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("expired job still there: %v", err)
	}
	requeue, err := c.sync(ctx, "default/young")
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Hour - 2*time.Minute; requeue != want {
		t.Errorf("young job requeue = %v, want %v", requeue, want)
	}
	if _, err := client.BatchV1().Jobs("default").Get(ctx, "young", metav1.GetOptions{}); err != nil {
		t.Errorf("young job deleted: %v", err)
	}
	// Time passes; the same key now expires.
	clk.SetTime(t0.Add(2 * time.Hour))
	if _, err := c.sync(ctx, "default/young"); err != nil {
		t.Fatal(err)
	}
	if _, err := client.BatchV1().Jobs("default").Get(ctx, "young", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("job kept after its TTL: %v", err)
	}
}
