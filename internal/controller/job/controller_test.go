package job

import (
	"context"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/record"
	clocktesting "k8s.io/utils/clock/testing"
)

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
	client := fake.NewClientset(j)
	factory := informers.NewSharedInformerFactory(client, 0)
	c, err := New(Config{Client: client, Informer: factory, Clock: clk, Recorder: record.NewFakeRecorder(100)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	factory.Start(ctx.Done())
	factory.WaitForCacheSync(ctx.Done())
	go c.Run(ctx)
	var got *metav1.Time
	err = wait.PollUntilContextTimeout(ctx, 10*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
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
